#!/usr/bin/env bash
# Lake writer benchmark (not a test), on the running platform with throw-away topics:
# N client-event-like Avro records pre-filled into analytics topics of 6 and 60 partitions,
# then drained into a lake by
#   - lake-writer (release build) to file:// and to hdfs://,
#   - benches/python_lake_writer.py (confluent-kafka + fastavro + pyarrow) to file://
#     (pyarrow's HDFS client needs libhdfs + a JVM classpath, which the platform does not ship),
# each from the beginning up to the high watermark (`--until-caught-up`), measuring wall time,
# CPU time (user+sys) and peak RSS of the writer process. Prints records/s, MB/s (Avro input)
# and the same per CPU-second ("per core"), side by side.
#
#   benches/lake_bench.sh              # N=300000
#   N=50000 benches/lake_bench.sh      # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.vygoda/venv/bin/python
PLATFORM=$ROOT/.vygoda/platform.json
N=${N:-300000}

[[ -f $PLATFORM ]] || make up
cargo build --release -q -p vygoda-lake-writer --bin lake-writer
BIN=$(cargo metadata --format-version 1 --no-deps | "$PY" -c "import json,sys; print(json.load(sys.stdin)['target_directory'])")/release/lake-writer

RUN="bench-lake-$$-$(date +%s)"
TMP=$(mktemp -d)
HDFS_URL=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['hdfs']['url'])" "$PLATFORM")
cleanup() {
  helper cleanup >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

helper() {
  "$PY" - "$PLATFORM" "$RUN" "$HDFS_URL" "$@" <<'PYEOF'
import json, random, resource, subprocess, sys, time
from pathlib import Path
import fastavro, io, requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

platform = json.loads(Path(sys.argv[1]).read_text())
run, hdfs_url, cmd, args = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
SCHEMA = {"type": "record", "name": "ClientEvent", "namespace": "vygoda.bench", "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "user_id", "type": "string"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["VIEW", "CART", "PURCHASE", "REVIEW", "SEARCH"]}},
    {"name": "product_id", "type": ["null", "string"], "default": None},
    {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}], "default": None},
    {"name": "query", "type": ["null", "string"], "default": None},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "attrs", "type": {"type": "map", "values": "string"}}]}

def props(principal):
    p = dict(platform["principals"][principal]["kafka"])
    p["bootstrap.servers"] = platform["clusters"]["analytics"]["bootstrap"]
    return p

def topics():
    return {f"{run}-p6": 6, f"{run}-p60": 60}

if cmd == "fill":
    n = int(args[0])
    admin = AdminClient(props("admin"))
    for f in admin.create_topics([NewTopic(t, p, 3) for t, p in topics().items()]).values():
        f.result()
    reg = platform["schema_registry"]
    who = platform["principals"]["admin"]
    input_bytes = 0
    for topic in topics():
        r = requests.post(f"{reg['url']}/subjects/{topic}-value/versions", verify=str(reg["ca"]),
                          cert=(who["cert"], who["key"]), json={"schema": json.dumps(SCHEMA)})
        r.raise_for_status()
        header = b"\x00" + r.json()["id"].to_bytes(4, "big")
        parsed = fastavro.parse_schema(SCHEMA)
        producer = Producer({**props("admin"), "linger.ms": 20, "batch.num.messages": 10000,
                             "enable.idempotence": True, "compression.type": "lz4"})
        rnd = random.Random(7)
        start_ms = int(time.time() * 1000) - n * 10
        input_bytes = 0
        for i in range(n):
            kind = rnd.choice(["VIEW", "VIEW", "VIEW", "CART", "PURCHASE", "REVIEW", "SEARCH"])
            ev = {"event_id": f"e-{i:012d}", "user_id": f"user-{rnd.randrange(50000)}", "kind": kind,
                  "product_id": None if kind == "SEARCH" else f"prod-{rnd.randrange(200000)}",
                  "price": None, "query": "дешёвый смартфон" if kind == "SEARCH" else None,
                  "at": start_ms + i * 10, "attrs": {"device": rnd.choice(["ios", "android", "web"]), "ab": "B"}}
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, ev)
            value = header + buf.getvalue()
            key = ev["user_id"].encode()
            input_bytes += len(value) + len(key)
            while True:
                try:
                    producer.produce(topic, value, key, timestamp=ev["at"])
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        assert producer.flush(120) == 0, "unacknowledged records"
    print(json.dumps({"records": n, "input_bytes": input_bytes}))
elif cmd == "measure":
    # measure NAME RECORDS INPUT_BYTES -- command...
    name, records, input_bytes, command = args[0], int(args[1]), int(args[2]), args[4:]
    t0 = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}", file=sys.stderr)
        sys.exit(1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    mb = input_bytes / 1e6
    print(f"{name:<28} {records / wall:>10,.0f} {mb / wall:>8.1f} {records / cpu:>12,.0f} "
          f"{mb / cpu:>9.1f} {wall:>7.1f} {cpu:>7.1f} {after.ru_maxrss / 1024:>8.0f}")
elif cmd == "cleanup":
    admin = AdminClient(props("admin"))
    admin.delete_topics(list(topics()))
    requests.delete(f"{platform['hdfs']['webhdfs']}/bench/{run}",
                    params={"op": "DELETE", "recursive": "true", "user.name": "vygoda"}, timeout=30)
PYEOF
}

echo "filling $N records into $RUN-p6 and $RUN-p60 …" >&2
FILL=$(helper fill "$N")
INPUT_BYTES=$("$PY" -c "import json,sys; print(json.loads(sys.argv[1])['input_bytes'])" "$FILL")
echo "input: $N records, $((INPUT_BYTES / 1000000)) MB of Avro per topic" >&2

rust() { # topic lake-root
  "$BIN" --platform "$PLATFORM" --topics "$1" --lake-root "$2" --until-caught-up \
    --metrics-addr 127.0.0.1:0 --max-file-age 10m
}
python_writer() { # topic out-dir
  "$PY" "$ROOT/benches/python_lake_writer.py" --platform "$PLATFORM" --topic "$1" --out "$2"
}
export -f rust python_writer
export BIN PLATFORM PY ROOT

printf "%-28s %10s %8s %12s %9s %7s %7s %8s\n" writer "rec/s" "MB/s" "rec/s/core" "MB/s/core" "wall_s" "cpu_s" "RSS_MB"
for parts in 6 60; do
  T="$RUN-p$parts"
  helper measure "rust file:// p$parts" "$N" "$INPUT_BYTES" -- bash -c "rust $T file://$TMP/rust-$parts"
  helper measure "rust hdfs:// p$parts" "$N" "$INPUT_BYTES" -- bash -c "rust $T $HDFS_URL/bench/$RUN/rust-$parts"
  helper measure "python file:// p$parts" "$N" "$INPUT_BYTES" -- bash -c "python_writer $T $TMP/py-$parts"
done
echo "(MB = Avro key+value bytes consumed; per core = per CPU-second of the writer process;" >&2
echo " RSS = peak of the writer process)" >&2
