#!/usr/bin/env bash
# Mirror benchmark (not a test): our mirror vs MirrorMaker 2 (Apache Kafka's connect-mirror at the
# brokers' version, dedicated mode: org.apache.kafka.connect.mirror.MirrorMaker with an
# mm2.properties), prod → analytics on the running platform, with throw-away topics named bench-…
# (6 partitions, keyed records of ~200 B whose value carries the source partition, a sequence
# number per partition and the producer's send time):
#   1. copy rate of a backlog of N records: records/s between the first and the last destination
#      record's append time (the destination topic is made with message.timestamp.type=
#      LogAppendTime, so start-up is excluded), and the wall time from starting the copier to the
#      last append (start-up included);
#   2. source→destination delay p50/p99 at a steady produce rate (LAT_N records at LAT_RATE/s):
#      destination append time − the send time in the value, one clock;
#   3. kill -9: a fresh topic of N records, the copier SIGKILLed once ≥ KILL_AT of them arrived,
#      restarted, left until it has caught up and stopped making progress; then an independent
#      read_committed reader counts duplicates (a source partition+sequence seen more than once)
#      and gaps (a sequence never seen) in the destination.
# Rows: the mirror as `make services` runs it (principal mirror, its defaults); MirrorMaker 2 as
# its documentation configures it (principal admin, defaults: tasks.max=1, at-least-once, source
# offsets flushed every offset.flush.interval.ms=60 s); and MirrorMaker 2 with Connect's
# exactly-once source support (exactly.once.source.support=enabled, read_committed source
# consumer). Both MirrorMaker 2 rows use IdentityReplicationPolicy, so the destination topic has
# the source's name as with the mirror, with its internal topics renamed under the run's bench-…
# prefix (benches/mm2/BenchTopicsPolicy.java).
#
#   benches/mirror_bench.sh                  # N=200000 LAT_N=3000 LAT_RATE=300
#   N=20000 benches/mirror_bench.sh          # quicker
#   ONLY=mirror benches/mirror_bench.sh      # one copier (mirror | mm2 | mm2eos)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.vygoda/venv/bin/python
PLATFORM=$ROOT/.vygoda/platform.json
N=${N:-200000}
LAT_N=${LAT_N:-3000}
LAT_RATE=${LAT_RATE:-300}
KILL_AT=${KILL_AT:-0.3}
# After the restart: caught up = no new destination record for QUIET s with at least N there;
# gave up = none for STALL s (covers a Connect rebalance delay) or CATCHUP_TIMEOUT s in all.
QUIET=${QUIET:-20}
STALL=${STALL:-360}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-900}
MM2_HEAP=${MM2_HEAP:--Xmx768m}
ONLY=${ONLY:-}

[[ -f $PLATFORM ]] || { echo "no $PLATFORM: the platform is not up (make up)" >&2; exit 1; }
MM2_POM=$ROOT/benches/mm2/pom.xml
version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$1"; }
KAFKA_VERSION=$(version kafka/local/pom.xml)
[[ $(version "$MM2_POM") == "$KAFKA_VERSION" ]] ||
  { echo "$MM2_POM pins Kafka $(version "$MM2_POM"), the brokers run $KAFKA_VERSION" >&2; exit 1; }

cargo build --release -q -p vygoda-mirror
BIN=$(cargo metadata --format-version 1 --no-deps | "$PY" -c "import json,sys; print(json.load(sys.stdin)['target_directory'])")/release

# MirrorMaker 2's jars, resolved from Maven Central once per pom (the folder name carries its
# hash), the way `make up` resolves the brokers' (platform/vyplat/install.py).
MM2_LIBS=$(PYTHONPATH=$ROOT/platform nice -n 19 "$PY" - "$MM2_POM" <<'PYEOF'
import hashlib, sys
from pathlib import Path
from vyplat import install, paths
pom = Path(sys.argv[1])
target = paths.CACHE / f"mm2-{paths.pom_version(pom, 'kafka')}-{hashlib.sha256(pom.read_bytes()).hexdigest()[:12]}"
paths.CACHE.mkdir(parents=True, exist_ok=True)
install.maven_classpath(pom, target, "MirrorMaker 2")
print(target)
PYEOF
)
MM2_LIBS=$(tail -n1 <<<"$MM2_LIBS")

RUN="bench-$$-$(date +%s)"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  helper delete "$RUN" || true
  rm -rf "$TMP"
}
trap cleanup EXIT

helper() {
  "$PY" - "$PLATFORM" "$@" <<'PYEOF'
import contextlib, json, os, statistics, sys, threading, time
from pathlib import Path
from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_LOG_APPEND_TIME, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

platform = json.loads(Path(sys.argv[1]).read_text())
cmd, args = sys.argv[2], sys.argv[3:]
PARTITIONS, VALUE_BYTES = 6, 200

def props(principal, cluster):
    return {**platform["principals"][principal]["kafka"],
            "bootstrap.servers": platform["clusters"][cluster]["bootstrap"]}

def reader(cluster, group):
    # The independent reader: librdkafka, explicitly read_committed, no offsets committed.
    return Consumer({**props("operator", cluster), "group.id": group, "enable.auto.commit": False,
                     "isolation.level": "read_committed", "enable.partition.eof": True})

def highs(client, topic):
    # A topic just created, or a leader moving, answers "not leader" for a moment: ask again.
    for attempt in range(30):
        try:
            md = client.list_topics(topic, timeout=10).topics[topic]
            if md.error is not None:
                return {}
            return {p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}
        except KafkaException:
            if attempt == 29:
                raise
            time.sleep(1)

def read(cluster, topic, start=None):
    """Every committed record of `topic` from `start` (partition -> offset; default the
    beginning) up to the end as it is now, as (partition, message). The end is where the reader
    meets end-of-partition at or past the high watermark read first: with transactions, commit
    markers take offsets no reader is given, so the last record's offset cannot tell."""
    c = reader(cluster, f"{topic}-reader-{os.getpid()}")
    ends = highs(c, topic)
    start = start or {}
    todo = {p for p, h in ends.items() if h > start.get(p, 0)}
    c.assign([TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING)) for p in todo])
    out, idle = [], time.time()
    while todo:
        msgs = c.consume(10000, timeout=1)
        if msgs:
            idle = time.time()
        elif time.time() - idle > 30:
            sys.exit(f"{topic}: reading stalled with partitions {sorted(todo)} short of {ends}")
        for m in msgs:
            if m.error() is None:
                out.append((m.partition(), m))
            elif m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= ends[m.partition()]:
                todo.discard(m.partition())
    c.close()
    return out

def parse(m):
    p, seq, sent_us, _ = m.value().split(b" ", 3)
    return int(p), int(seq), int(sent_us)

def total(client, topic):
    return sum(highs(client, topic).values())

def admin(cluster):
    return AdminClient(props("admin", cluster))

def produce(topic, n, rate=0.0):
    """n records into prod's `topic`, round robin over its partitions (at `rate`/s if given);
    each partition's sequence continues from its high watermark, so on a topic only this
    writes, sequence == offset."""
    c = reader("prod", f"{topic}-produce")
    nxt = highs(c, topic)
    p = Producer({**props("admin", "prod"), "acks": "all", "enable.idempotence": True,
                  "linger.ms": 0 if rate else 20})
    start = time.time()
    for i in range(n):
        part = i % PARTITIONS
        seq = nxt[part]
        nxt[part] += 1
        if rate:
            time.sleep(max(0.0, start + i / rate - time.time()))
        head = f"{part} {seq} {int(time.time() * 1e6)} ".encode()
        while True:
            try:
                p.produce(topic, key=f"{part}-{seq}".encode(), value=head.ljust(VALUE_BYTES, b"x"), partition=part)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    if p.flush(120):
        sys.exit(f"{topic}: records still unacknowledged after 120 s")
    have = highs(c, topic)
    c.close()
    if have != nxt:
        sys.exit(f"{topic}: expected high watermarks {nxt}, the topic has {have}")

if cmd == "create":
    # create CLUSTER TOPIC [LogAppendTime]
    cluster, topic = args[0], args[1]
    config = {"message.timestamp.type": args[2]} if len(args) > 2 else {}
    a = admin(cluster)  # kept referenced until the result: a collected client fails its futures
    for f in a.create_topics([NewTopic(topic, PARTITIONS, 3, config=config)]).values():
        f.result()
elif cmd == "produce":
    # produce TOPIC COUNT
    produce(args[0], int(args[1]))
elif cmd == "drain":
    # drain TOPIC COUNT TIMEOUT STARTED_AT PID: wait until the analytics TOPIC holds COUNT records;
    # print records/s between the first and last append time, and s from STARTED_AT to the last.
    topic, count, timeout, started, pid = args[0], int(args[1]), float(args[2]), float(args[3]), int(args[4])
    c = reader("analytics", f"{topic}-drain")
    deadline = time.time() + timeout
    while (have := total(c, topic) if topic in c.list_topics(timeout=10).topics else 0) < count:
        if not os.path.exists(f"/proc/{pid}"):
            sys.exit(f"{topic}: the copier (pid {pid}) exited; see its log")
        if time.time() > deadline:
            sys.exit(f"{topic}: only {have}/{count} records after {timeout}s")
        time.sleep(0.5)
    c.close()
    while len(msgs := read("analytics", topic)) < count:  # transaction markers count in watermarks
        if time.time() > deadline:
            sys.exit(f"{topic}: only {len(msgs)}/{count} committed records after {timeout}s")
        time.sleep(1)
    if any(m.timestamp()[0] != TIMESTAMP_LOG_APPEND_TIME for _, m in msgs):
        sys.exit(f"{topic}: not all records carry LogAppendTime")
    ts = [m.timestamp()[1] for _, m in msgs]
    first, last = min(ts), max(ts)
    print(f"{len(ts) / max((last - first) / 1000.0, 1e-3):.0f} {last / 1000.0 - started:.1f}")
elif cmd == "latency":
    # latency SOURCE DEST N RATE: N records at RATE/s into SOURCE while the copier runs. Both
    # topics stamp LogAppendTime; delay = destination append - source append of the same record
    # (what the copier adds, waiting for the source's high watermark included), and send ->
    # destination append (what a producer sees end to end). Prints p50 p99 of each, in ms.
    src, dst, n, rate = args[0], args[1], int(args[2]), float(args[3])
    s = reader("prod", f"{src}-latency")
    src_before = highs(s, src)
    s.close()
    c = reader("analytics", f"{dst}-latency")
    before = highs(c, dst)
    failed = []
    def producer():
        try:
            produce(src, n, rate)
        except SystemExit as e:
            failed.append(e)
    t = threading.Thread(target=producer)
    t.start()
    deadline = time.time() + n / rate + 120
    while total(c, dst) < sum(before.values()) + n:
        if failed or time.time() > deadline:
            sys.exit(f"{dst}: only {total(c, dst) - sum(before.values())}/{n} delay records arrived {failed}")
        time.sleep(0.5)
    t.join()
    c.close()
    if failed:
        sys.exit(f"the delay producer failed: {failed[0]}")
    while len(msgs := read("analytics", dst, before)) < n:  # transaction markers count in watermarks
        if time.time() > deadline:
            sys.exit(f"{dst}: only {len(msgs)}/{n} committed delay records arrived")
        time.sleep(1)
    appended = {parse(m)[:2]: m.timestamp()[1] for _, m in read("prod", src, src_before)}
    copy = sorted(m.timestamp()[1] - appended[parse(m)[:2]] for _, m in msgs)
    end_to_end = sorted(m.timestamp()[1] - parse(m)[2] / 1000.0 for _, m in msgs)
    q, e = statistics.quantiles(copy, n=100), statistics.quantiles(end_to_end, n=100)
    print(f"{q[49]:.0f} {q[98]:.0f} {e[49]:.0f} {e[98]:.0f}")
elif cmd == "until":
    # until TOPIC COUNT PID TIMEOUT: wait until the analytics TOPIC holds COUNT records.
    topic, count, pid, timeout = args[0], int(args[1]), int(args[2]), float(args[3])
    c = reader("analytics", f"{topic}-until")
    deadline = time.time() + timeout
    while True:
        have = total(c, topic) if topic in c.list_topics(timeout=10).topics else 0
        if have >= count:
            break
        if not os.path.exists(f"/proc/{pid}"):
            sys.exit(f"{topic}: the copier (pid {pid}) exited at {have} records; see its log")
        if time.time() > deadline:
            sys.exit(f"{topic}: only {have}/{count} records after {timeout}s")
        time.sleep(0.1)
    print(have)
elif cmd == "watermarks":
    # watermarks TOPIC: the sum of the analytics TOPIC's high watermarks.
    c = reader("analytics", f"{args[0]}-watermarks")
    print(total(c, args[0]))
    c.close()
elif cmd == "settle":
    # settle TOPIC N QUIET STALL TIMEOUT PID: after a restart, wait until the copier has caught up
    # (>= N records and none new for QUIET s) or stopped making progress (none new for STALL s, or
    # TIMEOUT s in all). Prints records then and s from now to the last new record.
    topic, n, quiet, stall, timeout, pid = args[0], int(args[1]), *map(float, args[2:5]), int(args[5])
    c = reader("analytics", f"{topic}-settle")
    start = changed = time.time()
    last = total(c, topic)
    while True:
        time.sleep(1)
        have = total(c, topic)
        now = time.time()
        if have != last:
            last, changed = have, now
        if not os.path.exists(f"/proc/{pid}"):
            print(f"{topic}: the copier (pid {pid}) exited; see its log", file=sys.stderr)
            break
        if (have >= n and now - changed >= quiet) or now - changed >= stall or now - start >= timeout:
            break
    c.close()
    print(f"{last} {changed - start:.1f}")
elif cmd == "count":
    # count TOPIC: the analytics TOPIC's records by the source partition and sequence in their
    # value; prints duplicates, gaps (a sequence below the prod TOPIC's high watermark of that
    # partition never seen), and records read.
    topic = args[0]
    c = reader("prod", f"{topic}-count")
    expected = highs(c, topic)
    c.close()
    seen, dups, records = {p: set() for p in expected}, 0, 0
    for _, m in read("analytics", topic):
        p, seq, _ = parse(m)
        records += 1
        if seq in seen[p]:
            dups += 1
        seen[p].add(seq)
    gaps = sum(h - len({s for s in seen[p] if s < h}) for p, h in expected.items())
    print(f"{dups} {gaps} {records}")
elif cmd == "delete":
    # delete RUN: every topic whose name holds RUN, on both clusters (the copiers' own too).
    run = args[0]
    for cluster in ("prod", "analytics"):
        a = admin(cluster)
        topics = [t for t in a.list_topics(timeout=10).topics if run in t]
        if topics:
            for f in a.delete_topics(topics).values():
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001 - report and go on deleting
                    print(f"{cluster}: {e}", file=sys.stderr)
        groups = [g.group_id for g in a.list_consumer_groups().result().valid if run in g.group_id]
        if groups:
            for f in a.delete_consumer_groups(groups).values():
                with contextlib.suppress(Exception):  # a group still expiring goes by itself
                    f.result()
        print(f"{cluster}: deleted {len(topics)} topics, {len(groups)} groups of {run}", file=sys.stderr)
PYEOF
}

# MirrorMaker 2 connects as principal admin with its PEM certificate and PKCS#8 key, as the
# brokers themselves do (platform/vyplat/kafka.py): one file holding key then certificate.
ADMIN_KEY=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['principals']['admin']['key'])" "$PLATFORM")
ADMIN_CERT=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['principals']['admin']['cert'])" "$PLATFORM")
CA=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['ca'])" "$PLATFORM")
grep -q "BEGIN PRIVATE KEY" "$ADMIN_KEY" || { echo "$ADMIN_KEY is not an unencrypted PKCS#8 key" >&2; exit 1; }
(umask 077 && cat "$ADMIN_KEY" "$ADMIN_CERT" >"$TMP/admin-keystore.pem")
bootstrap() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['clusters'][sys.argv[2]]['bootstrap'])" "$PLATFORM" "$1"; }
PROD=$(bootstrap prod)
ANALYTICS=$(bootstrap analytics)

mkdir -p "$TMP/classes"
javac -nowarn -cp "$MM2_LIBS/*" -d "$TMP/classes" benches/mm2/BenchTopicsPolicy.java

# mm2_props TOOL NAME TOPIC: the mm2.properties of one MirrorMaker 2 deployment copying TOPIC;
# every topic and group it makes is named $RUN-NAME-…. TOOL mm2eos: Connect's exactly-once source
# support on (transactions on analytics, offsets committed with each transaction).
mm2_props() {
  local tool=$1 name=$2 topic=$3 c
  {
    echo "clusters = prod, analytics"
    echo "prod.bootstrap.servers = $PROD"
    echo "analytics.bootstrap.servers = $ANALYTICS"
    for c in prod analytics; do
      echo "$c.security.protocol = SSL"
      echo "$c.ssl.keystore.type = PEM"
      echo "$c.ssl.keystore.location = $TMP/admin-keystore.pem"
      echo "$c.ssl.truststore.type = PEM"
      echo "$c.ssl.truststore.location = $CA"
    done
    echo "prod->analytics.enabled = true"
    echo "prod->analytics.topics = $topic"
    echo "prod->analytics.groups = $RUN-.*"
    # One direction only: no analytics->prod herder, not even for heartbeats.
    echo "analytics->prod.enabled = false"
    echo "analytics->prod.emit.heartbeats.enabled = false"
    echo "replication.policy.class = vygoda.bench.BenchTopicsPolicy"
    echo "replication.policy.bench.prefix = $RUN-$name-"
    echo "replication.factor = 3"
    echo "checkpoints.topic.replication.factor = 3"
    echo "heartbeats.topic.replication.factor = 3"
    echo "offset-syncs.topic.replication.factor = 3"
    echo "offset.storage.topic = $RUN-$name-offsets"
    echo "config.storage.topic = $RUN-$name-configs"
    echo "status.storage.topic = $RUN-$name-status"
    echo "offset.storage.replication.factor = 3"
    echo "config.storage.replication.factor = 3"
    echo "status.storage.replication.factor = 3"
    echo "analytics.group.id = $RUN-$name"
    # The local ACLs are kafka/acls.toml's; MirrorMaker must not add its own to analytics.
    echo "sync.topic.acls.enabled = false"
    if [[ $tool == mm2eos ]]; then
      echo "analytics.exactly.once.source.support = enabled"
      echo "prod.consumer.isolation.level = read_committed"
    fi
  } >"$TMP/$name.properties"
}

# start TOOL NAME TOPIC: start a copier of TOPIC in the background; sets PID.
start() {
  local tool=$1 name=$2 topic=$3
  case $tool in
    mirror)
      "$BIN/mirror" --platform "$PLATFORM" --topics "$topic" --group-id "$RUN-$name" \
        --metrics-addr 127.0.0.1:0 >>"$TMP/$name.log" 2>&1 &
      ;;
    mm2 | mm2eos)
      [[ -f $TMP/$name.properties ]] || mm2_props "$tool" "$name" "$topic"
      java "$MM2_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$ROOT/benches/mm2/log4j2.properties" \
        -cp "$MM2_LIBS/*:$TMP/classes" org.apache.kafka.connect.mirror.MirrorMaker \
        "$TMP/$name.properties" >>"$TMP/$name.log" 2>&1 &
      ;;
  esac
  PID=$!
  PIDS+=("$PID")
}

# stop PID: SIGTERM, then SIGKILL after 60 s.
stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

fail() { echo "$1; its log:" >&2; tail -n 30 "$2" >&2; exit 1; }

declare -A RATE WALL DELAY E2E DUPS GAPS READ KILLED AFTER CATCHUP
TOOLS=(mirror mm2 mm2eos)
[[ -n $ONLY ]] && TOOLS=("$ONLY")
for tool in "${TOOLS[@]}"; do
  name=thr-$tool
  topic=$RUN-$name
  echo "== $tool: copy a backlog of $N records"
  helper create prod "$topic" LogAppendTime
  helper create analytics "$topic" LogAppendTime
  helper produce "$topic" "$N"
  started=$(date +%s.%N)
  start "$tool" "$name" "$topic"
  read -r RATE[$tool] WALL[$tool] < <(helper drain "$topic" "$N" 1800 "$started" "$PID") ||
    fail "$tool did not copy the backlog" "$TMP/$name.log"
  echo "   ${RATE[$tool]} records/s, last record ${WALL[$tool]} s after start"
  echo "== $tool: delay, $LAT_N records at $LAT_RATE/s"
  read -r p50 p99 e50 e99 < <(helper latency "$topic" "$topic" "$LAT_N" "$LAT_RATE") ||
    fail "$tool: delay run failed" "$TMP/$name.log"
  DELAY[$tool]="$p50/$p99"
  E2E[$tool]="$e50/$e99"
  echo "   source append → destination append p50/p99 ${DELAY[$tool]} ms; send → destination ${E2E[$tool]} ms"
  stop "$PID"

  name=k9-$tool
  topic=$RUN-$name
  kill_at=$("$PY" -c "import sys; print(int(float(sys.argv[1]) * float(sys.argv[2])))" "$N" "$KILL_AT")
  echo "== $tool: kill -9 after $kill_at of $N records"
  helper create prod "$topic"
  helper produce "$topic" "$N"
  start "$tool" "$name" "$topic"
  seen=$(helper until "$topic" "$kill_at" "$PID" 1800) || fail "$tool never reached $kill_at" "$TMP/$name.log"
  kill -9 "$PID"
  wait "$PID" 2>/dev/null || true
  sleep 2  # requests the dead process had sent may still complete
  KILLED[$tool]=$(helper watermarks "$topic")
  echo "   killed -9 on seeing $seen, then ${KILLED[$tool]} in the destination (watermarks); restarting"
  start "$tool" "$name" "$topic"
  read -r AFTER[$tool] CATCHUP[$tool] < <(helper settle "$topic" "$N" "$QUIET" "$STALL" "$CATCHUP_TIMEOUT" "$PID")
  echo "   ${AFTER[$tool]} in the destination (watermarks), the last ${CATCHUP[$tool]} s after the restart"
  stop "$PID"
  read -r DUPS[$tool] GAPS[$tool] READ[$tool] < <(helper count "$topic") || fail "$tool: counting failed" "$TMP/$name.log"
done

label() { case $1 in mirror) echo "vygoda mirror (Rust)";; mm2) echo "MirrorMaker 2 $KAFKA_VERSION";; mm2eos) echo "MirrorMaker 2 $KAFKA_VERSION exactly-once";; esac; }
W='%-34s %10s %8s %17s %17s %11s %11s\n'
printf "\n$W" "" "records/s" "drain s" "delay p50/p99 ms" "send→dest p50/p99" "dups kill-9" "gaps kill-9"
for tool in "${TOOLS[@]}"; do
  printf "$W" "$(label "$tool")" "${RATE[$tool]}" "${WALL[$tool]}" "${DELAY[$tool]}" "${E2E[$tool]}" \
    "${DUPS[$tool]}" "${GAPS[$tool]}"
done
cat <<EOF

N=$N records of 200 B in 6 partitions. records/s: first → last destination append of the backlog;
drain s: copier started → last append (start-up included). delay: $LAT_N records at $LAT_RATE/s,
source append → destination append of each record; send→dest: producer's send → destination append.
load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
EOF
for tool in "${TOOLS[@]}"; do
  echo "kill -9 $(label "$tool"): ${KILLED[$tool]} of $N in the destination at the kill (watermarks);" \
    "the last record ${CATCHUP[$tool]} s after the restart; the reader read ${READ[$tool]} records."
done
