#!/usr/bin/env bash
# Ingest benchmark (not a test): on the running platform, with throw-away topics,
#   1. SHOP API publish rate for a 100k-product NDJSON file (validation + Avro + acks=all);
#   2. ban filter throughput draining that backlog: ban-filter (Rust) vs Faust vs Kafka Streams
#      (benches/kafka-streams-filter), side by side
#      (msgs/s between the first and the last output record, so start-up is excluded);
#   3. produce→filtered latency p50/p99 at a steady rate, all three filters consuming the same input;
#   4. ban-filter scaled out: 2 and 3 instances in one group draining the same backlog (the
#      instances start together, so the figure includes the group's first rebalances).
#
#   benches/ingest_bench.sh                 # N=100000 LAT_N=2000 LAT_RATE=200
#   N=20000 benches/ingest_bench.sh         # quicker
#   FILTER_ARGS="-X fetch.wait.max.ms=500" benches/ingest_bench.sh   # extra ban-filter flags
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.vygoda/venv/bin/python
PLATFORM=$ROOT/.vygoda/platform.json
N=${N:-100000}
LAT_N=${LAT_N:-2000}
LAT_RATE=${LAT_RATE:-200}
read -r -a FILTER_EXTRA <<<"${FILTER_ARGS:-}"
read -r -a KSTREAMS_EXTRA <<<"${KSTREAMS_ARGS:-}"
BANS=(--ban-brand FakeLab --ban-brand "Зелёный Дракон" --ban-word реплика --ban-word контрафакт --ban-word вейп)

[[ -f $PLATFORM ]] || make up
"$PY" -c "import faust" 2>/dev/null || "$PY" -m pip install -q faust-streaming
cargo build --release -q -p vygoda-ingest --bins
benches/kafka-streams-filter/run.sh --build
BIN=$(cargo metadata --format-version 1 --no-deps | "$PY" -c "import json,sys; print(json.load(sys.stdin)['target_directory'])")/release

RUN="bench-$$-$(date +%s)"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  helper delete "$RUN" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

helper() {
  "$PY" - "$PLATFORM" "$@" <<'PYEOF'
import io, json, os, ssl, statistics, sys, threading, time
from decimal import Decimal
from pathlib import Path
import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

platform = json.loads(Path(sys.argv[1]).read_text())
cmd, run, args = sys.argv[2], sys.argv[3], sys.argv[4:]
TOPICS = {"products": (6, "delete"), "bans": (1, "compact"), "dlq": (1, "delete"),
          "filtered-rust": (6, "compact"), "filtered-faust": (6, "compact"),
          "filtered-x2": (6, "compact"), "filtered-x3": (6, "compact"),
          "filtered-kstreams": (6, "compact")}

def props(principal):
    p = dict(platform["principals"][principal]["kafka"])
    p["bootstrap.servers"] = platform["clusters"]["prod"]["bootstrap"]
    return p

def name(t):
    return f"{run}-{t}"

def highs(consumer, topic):
    md = consumer.list_topics(topic, timeout=10).topics[topic]
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}

if cmd == "create":
    admin = AdminClient(props("admin"))
    fs = admin.create_topics([NewTopic(name(t), p, 3, config={"cleanup.policy": c}) for t, (p, c) in TOPICS.items()])
    for f in fs.values():
        f.result()
    for t in TOPICS:
        print(name(t))
elif cmd == "delete":
    admin = AdminClient(props("admin"))
    for f in admin.delete_topics([name(t) for t in TOPICS]).values():
        try:
            f.result()
        except Exception:
            pass
elif cmd == "expected":
    # Products of the file that the bench's bans let through (same rules as the filters).
    import re
    norm = lambda s: s.lower().replace("ё", "е")
    brands, words = {"fakelab", "зеленый дракон"}, {"реплика", "контрафакт", "вейп"}
    ok = 0
    for line in open(args[0], encoding="utf-8"):
        p = json.loads(line)
        texts = [p["name"], p.get("description", "")] + p.get("tags", [])
        if " ".join(norm(p.get("brand", "")).split()) in brands:
            continue
        if any(w in words for t in texts for w in re.findall(r"\w+", norm(t))):
            continue
        ok += 1
    print(ok)
elif cmd == "drain":
    # Wait until `topic` holds `count` records, then rate = records / (last - first CreateTime).
    topic, count, timeout = name(args[0]), int(args[1]), float(args[2])
    filter_pid = int(args[3]) if len(args) > 3 else None
    c = Consumer({**props("operator"), "group.id": f"{run}-drain-{args[0]}", "enable.auto.commit": False})
    deadline = time.time() + timeout
    while sum(highs(c, topic).values()) < count:
        if filter_pid and not os.path.exists(f"/proc/{filter_pid}"):
            sys.exit(f"{topic}: the filter (pid {filter_pid}) exited; see its log")
        if time.time() > deadline:
            sys.exit(f"{topic}: only {sum(highs(c, topic).values())}/{count} records after {timeout}s")
        time.sleep(0.5)
    c.assign([TopicPartition(topic, p, 0) for p in highs(c, topic)])
    first, last, seen = None, None, 0
    while seen < count:
        msgs = c.consume(10000, timeout=5)
        for m in msgs:
            ts = m.timestamp()[1]
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
            seen += 1
    c.close()
    print(f"{seen / max((last - first) / 1000.0, 1e-3):.0f}")
elif cmd == "latency":
    # Produce LAT_N products at a steady rate; both filtered topics are read by one consumer
    # each; latency = arrival on the filtered topic - just before produce, same clock.
    n, rate = int(args[0]), float(args[1])
    outs = [name(t) for t in args[2:]]
    reg = SchemaRegistryClient({"url": platform["schema_registry"]["url"],
                                "ssl.ca.location": platform["schema_registry"]["ca"],
                                "ssl.certificate.location": platform["principals"]["shop-api"]["cert"],
                                "ssl.key.location": platform["principals"]["shop-api"]["key"]})
    text = (Path.cwd() / "kafka/schemas/products-value.avsc").read_text()
    sid = reg.register_schema(f"{name('products')}-value", Schema(text, "AVRO"))
    schema = fastavro.parse_schema(json.loads(text))
    sent, got = {}, {o: {} for o in outs}
    readers = []
    for o in outs:
        c = Consumer({**props("operator"), "group.id": f"{run}-lat-{o}", "enable.auto.commit": False})
        c.assign([TopicPartition(o, p, h) for p, h in highs(c, o).items()])
        readers.append((o, c))
    stop = threading.Event()
    def read(o, c):
        while not stop.is_set():
            for m in c.consume(1000, timeout=0.2):
                k = m.key().decode()
                if k.startswith("lat-") and k not in got[o]:
                    got[o][k] = time.time()
    threads = [threading.Thread(target=read, args=r, daemon=True) for r in readers]
    for t in threads:
        t.start()
    prod = Producer({**props("shop-api"), "acks": "all", "enable.idempotence": True, "linger.ms": 0, "partitioner": "murmur2_random"})
    now_ms = int(time.time() * 1000)
    for i in range(n):
        pid = f"lat-{i}"
        rec = {"product_id": pid, "name": f"Товар {i}", "description": "Тест задержки.",
               "price": {"amount": Decimal("100.00"), "currency": "RUB"}, "category": "Книги", "brand": "Норвейв",
               "stock": {"available": 1, "reserved": 0}, "sku": None, "tags": ["тест"], "images": None,
               "specifications": None, "created_at": now_ms, "updated_at": None, "index": None, "store_id": "store-001"}
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, rec)
        payload = b"\x00" + sid.to_bytes(4, "big") + buf.getvalue()
        target = time.time()
        sent[pid] = target
        prod.produce(name("products"), key=pid.encode(), value=payload)
        prod.poll(0)
        time.sleep(max(0.0, 1.0 / rate - (time.time() - target)))
    prod.flush(30)
    deadline = time.time() + 60
    while time.time() < deadline and any(len(g) < n for g in got.values()):
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    for o, g in got.items():
        lat = sorted((g[k] - sent[k]) * 1000 for k in g)
        if len(lat) < n:
            print(f"{o} missing={n - len(lat)}", end=" ")
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
        print(f"{q[49]:.1f} {q[98]:.1f}")
PYEOF
}

echo "== data: $N products"
python3 data/generate_catalogue.py --count "$N" --out "$TMP/products.ndjson" --ndjson --no-bad >/dev/null
EXPECTED=$(helper expected "$RUN" "$TMP/products.ndjson")
helper create "$RUN" >/dev/null

echo "== SHOP API publish"
SHOP_OUT=$("$BIN/shop-api" publish --file "$TMP/products.ndjson" --platform "$PLATFORM" --topic "$RUN-products" --progress never 2>"$TMP/shop.log")
echo "$SHOP_OUT"
SHOP_RATE=$(sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p' <<<"$SHOP_OUT")

ban() { "$BIN/vygoda-admin" ban --platform "$PLATFORM" --topic "$RUN-bans" add "$1" "$2" --reason bench --by bench >/dev/null; }
ban brand FakeLab; ban brand "Зелёный Дракон"; ban word реплика; ban word контрафакт; ban word вейп

echo "== filters draining the backlog ($EXPECTED of $N pass)"
"$BIN/ban-filter" --platform "$PLATFORM" --products-topic "$RUN-products" --bans-topic "$RUN-bans" \
  --filtered-topic "$RUN-filtered-rust" --dlq-topic "$RUN-dlq" --group "$RUN-rust" \
  --metrics-addr 127.0.0.1:0 "${FILTER_EXTRA[@]}" >"$TMP/rust.log" 2>&1 &
PIDS+=($!)
RUST_RATE=$(helper drain "$RUN" filtered-rust "$EXPECTED" 600 "$!")
"$PY" benches/faust_filter.py --platform "$PLATFORM" --input "$RUN-products" --output "$RUN-filtered-faust" \
  --app-id "$RUN-faust" "${BANS[@]}" worker -l warn >"$TMP/faust.log" 2>&1 &
PIDS+=($!)
FAUST_RATE=$(helper drain "$RUN" filtered-faust "$EXPECTED" 1800 "$!")
benches/kafka-streams-filter/run.sh --platform "$PLATFORM" --input "$RUN-products" --bans "$RUN-bans" \
  --output "$RUN-filtered-kstreams" --app-id "$RUN-kstreams" "${KSTREAMS_EXTRA[@]}" >"$TMP/kstreams.log" 2>&1 &
PIDS+=($!)
KSTREAMS_RATE=$(helper drain "$RUN" filtered-kstreams "$EXPECTED" 600 "$!")

echo "== latency: $LAT_N products at $LAT_RATE/s through all three filters"
read -r RUST_LAT FAUST_LAT KSTREAMS_LAT < <(helper latency "$RUN" "$LAT_N" "$LAT_RATE" filtered-rust filtered-faust filtered-kstreams | paste -sd' ' | awk '{print $1"/"$2, $3"/"$4, $5"/"$6}')

echo "== ban-filter scale-out: the same backlog drained by 2 and 3 instances of one group"
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
declare -A SCALE_RATE=([1]=$RUST_RATE)
for k in 2 3; do
  GROUP_PIDS=()
  for ((i = 0; i < k; i++)); do
    "$BIN/ban-filter" --platform "$PLATFORM" --products-topic "$RUN-products" --bans-topic "$RUN-bans" \
      --filtered-topic "$RUN-filtered-x$k" --dlq-topic "$RUN-dlq" --group "$RUN-x$k" \
      --instance-id "$RUN-x$k-$i" --metrics-addr 127.0.0.1:0 "${FILTER_EXTRA[@]}" >"$TMP/x$k-$i.log" 2>&1 &
    PIDS+=($!)
    GROUP_PIDS+=($!)
  done
  SCALE_RATE[$k]=$(helper drain "$RUN" "filtered-x$k" "$EXPECTED" 600 "${GROUP_PIDS[0]}")
  for pid in "${GROUP_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
done

printf '\n%-28s %14s %16s\n' "" "msgs/s" "latency p50/p99 ms"
printf '%-28s %14s %16s\n' "ban-filter (Rust)" "$RUST_RATE" "$RUST_LAT"
printf '%-28s %14s %16s\n' "Faust (faust-streaming)" "$FAUST_RATE" "$FAUST_LAT"
printf '%-28s %14s %16s\n' "Kafka Streams 4.1.1" "$KSTREAMS_RATE" "$KSTREAMS_LAT"
printf '%-28s %14s\n' "SHOP API publish ($N)" "$SHOP_RATE"
for k in 1 2 3; do
  printf '%-28s %14s\n' "ban-filter, $k instance(s)" "${SCALE_RATE[$k]}"
done
