#!/usr/bin/env python3
"""`make demo`: the whole vygoda pipeline on the bundled data, then a short report.

platform up (the Makefile's `up`) → services started (ban filter, mirror, lake writer, jobs
scheduler, store sink, CLIENT API) →
bans applied → shop catalogue published → client activity simulated → mirrored to analytics →
written to the lake → `recommendations` run by the jobs driver (Spark, then the publisher) →
report: counts per stage, run id, quality against the baseline, one user's recommendations,
and where to look. Runs with the project venv; every step is a real binary of the workspace.
"""
import json
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vyplat import paths, services  # noqa: E402

BIN = paths.BIN_DIR
PLATFORM = json.loads(paths.PLATFORM_JSON.read_text())


def step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def https_search(text: str, limit: int) -> dict:
    """Ask the CLIENT API service, as the `operator` principal."""
    ctx = ssl.create_default_context(cafile=PLATFORM["ca"])
    operator = PLATFORM["principals"]["operator"]
    ctx.load_cert_chain(operator["cert"], operator["key"])
    query = urllib.parse.urlencode({"q": text, "limit": limit, "user": "demo"})
    with urllib.request.urlopen(f"{PLATFORM['client_api_url']}/v1/search?{query}", context=ctx, timeout=30) as r:
        return json.loads(r.read())


def sh(argv: list, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    printable = " ".join(str(a) for a in argv).replace(str(paths.REPO) + "/", "")
    print(f"$ {printable}", flush=True)
    result = subprocess.run([str(a) for a in argv], cwd=paths.REPO, text=True,
                            capture_output=quiet)
    if check and result.returncode not in (0, 3):
        if quiet:
            print(result.stdout, result.stderr)
        raise SystemExit(f"demo: `{printable}` failed with exit code {result.returncode}")
    return result


_WATERMARK_READERS: dict = {}


def high_watermarks(cluster: str, topic: str) -> dict:
    """Per partition, the high watermark. One reader per cluster, kept: the waits poll this."""
    from confluent_kafka import Consumer, TopicPartition

    if cluster not in _WATERMARK_READERS:
        _WATERMARK_READERS[cluster] = Consumer({
            "bootstrap.servers": PLATFORM["clusters"][cluster]["bootstrap"],
            **PLATFORM["principals"]["operator"]["kafka"], "group.id": "operator-demo", "log_level": 2})
    consumer = _WATERMARK_READERS[cluster]
    md = consumer.list_topics(topic, timeout=15)
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
            for p in md.topics[topic].partitions}


def committed(cluster: str, group: str, topic: str) -> dict:
    """A consumer group's committed offsets (what it has fully processed), per partition."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": PLATFORM["clusters"][cluster]["bootstrap"],
                         **PLATFORM["principals"]["operator"]["kafka"], "group.id": group,
                         "log_level": 2})
    try:
        parts = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        done = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=15)
        return {tp.partition: max(tp.offset, 0) for tp in done}
    finally:
        consumer.close()


def wait(what: str, check, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def lake_offsets(topic: str) -> dict:
    """Per Kafka partition, the last offset committed into the lake, from the file names."""
    base = PLATFORM["hdfs"]["webhdfs"]
    root = PLATFORM["lake_root"].split("://", 1)[1].split("/", 1)[1]
    last: dict = {}

    def walk(path: str) -> None:
        try:
            with urllib.request.urlopen(f"{base}/{path}?op=LISTSTATUS", timeout=10) as r:
                entries = json.load(r)["FileStatuses"]["FileStatus"]
        except urllib.error.HTTPError:
            return
        for e in entries:
            name = e["pathSuffix"]
            if e["type"] == "DIRECTORY" and not name.startswith(("_", ".")):
                walk(f"{path}/{name}")
            elif name.endswith(".parquet") and not name.startswith(("_", ".")):
                _, part, _, end = name[: -len(".parquet")].rsplit("+", 3)
                last[int(part)] = max(last.get(int(part), -1), int(end))

    walk(f"{root}/{topic}")
    return last


def main() -> int:
    started = time.monotonic()
    report = {}

    step("services: ban filter (prod), mirror (prod → analytics), lake writer (analytics → HDFS), "
         "jobs scheduler, store sink (prod → PostgreSQL), CLIENT API (HTTPS)")
    for name, (pid, _) in services.start().items():
        print(f"   {name[4:]:<12} pid {pid}  log .vygoda/logs/{name}.log", flush=True)

    step("bans (ADMIN CLI → compacted product-bans)")
    for ban in json.loads((paths.REPO / "data" / "demo-bans.json").read_text()):
        sh([BIN / "vygoda-admin", "ban", "add", ban["kind"], ban["value"], "--reason", ban["reason"],
            "--by", "demo"], quiet=True)
    sh([BIN / "vygoda-admin", "ban", "list"])

    step("shop catalogue (SHOP API → products)")
    publish = sh([BIN / "shop-api", "publish", "--file", "data/catalogue.json", "--progress", "never"])
    report["publish exit code"] = publish.returncode

    # The simulator picks products from the filtered catalogue: let the filter finish first.
    step("ban filter catches up (its committed offsets on products = the high watermarks)")
    wait("ban filter", lambda: committed("prod", "ban-filter", "products") == high_watermarks("prod", "products"))

    step("client activity (simulator → client-events)")
    sh([BIN / "client-sim", "--users", "1500", "--events", "60000"])

    step("mirror catches up (analytics high watermarks = prod)")
    for topic in ("products-filtered", "product-bans", "client-events"):
        wait(f"mirror of {topic}",
             lambda t=topic: high_watermarks("analytics", t) == high_watermarks("prod", t))
        report[f"{topic} records (prod = analytics)"] = sum(high_watermarks("prod", topic).values())
    report["products records (prod)"] = sum(high_watermarks("prod", "products").values())

    step("lake writer catches up (every record of analytics is in a committed Parquet file)")
    for topic in ("products-filtered", "client-events"):
        def caught_up(t=topic):
            hw = high_watermarks("analytics", t)
            done = lake_offsets(t)
            return all(done.get(p, -1) >= h - 1 for p, h in hw.items() if h > 0)
        wait(f"lake files of {topic}", caught_up, timeout=600)
        report[f"{topic} offsets in committed lake files"] = sum(o + 1 for o in lake_offsets(topic).values())

    step("recommendations: Spark job, then the publisher, under the jobs driver")
    # The catalogue and the bans were written this hour, which the lake writer marks complete only
    # once the hour is over. Every record is in the lake (checked above), so read up to the end of
    # this hour rather than wait for it.
    hour_end = (int(time.time()) // 3600 + 1) * 3600
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour_end))
    # The scheduler started above may be running the job already: a daily tick missed while the
    # platform was down runs once at start (`missed = "run_once"`). Runs never overlap, so queue
    # behind it instead of being refused.
    run = sh([BIN / "vygoda-jobs", "run", "recommendations", "--quiet", "--wait", "60m",
              "--var", f"until={until}"], check=False)
    history = sh([BIN / "vygoda-jobs", "history", "recommendations", "--limit", "20", "--json"],
                 quiet=True)
    # One JSON object per line, newest first. The demo's run is the newest manual one: a
    # schedule tick that fell while it ran is recorded after it, as skipped.
    runs = [json.loads(line) for line in history.stdout.splitlines() if line.strip()]
    latest = next((r for r in runs if r.get("trigger") == "manual"), runs[0])
    report["run"] = {k: latest.get(k) for k in ("run_id", "state", "attempts", "exit_code",
                                                 "started_at", "ended_at", "output_path",
                                                 "spark_app_id", "spark_ui")}
    if run.returncode != 0:
        write_report(report, started)
        raise SystemExit(f"demo: the recommendations run failed (exit {run.returncode}); "
                         f"`target/debug/vygoda-jobs logs {latest.get('run_id')}` shows why")

    step("published recommendations, read back by an independent client (confluent-kafka AvroDeserializer)")
    mine = read_recommendations(latest["run_id"])
    report["recommendations records of this run (prod)"] = len(mine)
    if mine:
        sample = mine[sorted(mine)[0]]
        report["quality (hold-out)"] = dict(sorted(sample["metrics"].items()))
        report["sample"] = {"user_id": sample["user_id"], "model": sample["model"],
                            "items": [(i["rank"], i["product_id"], round(i["score"], 4))
                                      for i in sample["items"]]}

    step("CLIENT API: a search and a user's recommendations, answered from the store")
    # The store sink started with the other services follows products-filtered and
    # recommendations; wait until it serves this run to the sample user.
    user = sorted(mine)[0] if mine else "demo-user"

    def served():
        r = sh([BIN / "client-api", "--json", "recommend", "--user", user], check=False, quiet=True)
        answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
        return answer if answer and (not mine or answer.get("run_id") == latest["run_id"]) else None

    wait(f"the store sink serving run {latest['run_id']}", served, timeout=180)
    answer = served()
    report[f"client-api recommend --user {user}"] = {
        "source": answer["source"], "run_id": answer["run_id"], "model": answer["model"],
        "items": [f"{h['name']} — {h['price']} {h['currency']}" for h in answer["items"][:5]]}
    found = json.loads(sh([BIN / "client-api", "--json", "search", "смартфон", "--limit", "3"], quiet=True).stdout)
    report["client-api search “смартфон”"] = {
        "count": found["count"], "top": [f"{h['name']} — {h['price']} {h['currency']}" for h in found["results"]]}
    # The same question to the HTTPS service, as an app would ask it (mutual TLS).
    report["GET /v1/search?q=смартфон (client-api serve)"] = {
        "count": https_search("смартфон", 3)["count"], "url": PLATFORM.get("client_api_url")}

    step("report")
    for k, v in report.items():
        print(f"   {k}: {v if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False, default=str)}")
    wall = write_report(report, started)
    print(f"   wall time: {wall:.0f}s   (report: .vygoda/demo-report.json)")
    print(f"""
Where to look (open in a browser):
   the lake      {PLATFORM['hdfs']['explorer']}#/lake   (NameNode file browser: topic → date → hour)
   NameNode      {PLATFORM['hdfs']['namenode_http']}/dfshealth.html   (overview, DataNodes)
   this run      {latest.get('spark_ui') or '-'}   (Spark history server)
   Spark         master {PLATFORM['spark'].get('master_ui')}   history {PLATFORM['spark'].get('history_url')}
   dashboards    {PLATFORM.get('dashboards_url')}/   (the Grafana dashboards, drawn from Prometheus)
   Prometheus    {PLATFORM['prometheus_url']}/alerts   Alertmanager {PLATFORM['alertmanager_url']}
   Telegram      .vygoda/monitoring/telegram.jsonl   (alerts sent to {PLATFORM.get('telegram_standin_url')})
   Pushgateway   {PLATFORM.get('pushgateway_url')}   (the commands' last runs)
   run output    {latest.get('output_path')}   (WebHDFS {PLATFORM['hdfs']['webhdfs']}/lake?op=LISTSTATUS)
   registry      {PLATFORM['schema_registry']['url']}/subjects
   CLIENT API    {PLATFORM.get('client_api_url')}/v1/search?q=часы   (HTTPS, a platform certificate: curl --cert …)
   job history   target/debug/vygoda-jobs history; logs: target/debug/vygoda-jobs logs {latest.get('run_id')}
   services      make status; logs in .vygoda/logs/svc-*.log; stop them with `make down`""")
    return 0 if mine else 1


def read_recommendations(run_id: str) -> dict:
    """Every record of this run on prod's `recommendations`, decoded through the registry."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    operator = PLATFORM["principals"]["operator"]
    registry = SchemaRegistryClient({"url": PLATFORM["schema_registry"]["url"],
                                     "ssl.ca.location": PLATFORM["schema_registry"]["ca"],
                                     "ssl.certificate.location": operator["cert"],
                                     "ssl.key.location": operator["key"]})
    decode = AvroDeserializer(registry)
    ctx = SerializationContext("recommendations", MessageField.VALUE)
    highs = high_watermarks("prod", "recommendations")
    consumer = Consumer({"bootstrap.servers": PLATFORM["clusters"]["prod"]["bootstrap"],
                         **operator["kafka"], "group.id": "operator-demo", "enable.auto.commit": False,
                         "log_level": 2})
    consumer.assign([TopicPartition("recommendations", p, 0) for p, h in highs.items() if h > 0])
    left = {p for p, h in highs.items() if h > 0}
    out = {}
    deadline = time.monotonic() + 120
    while left and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        if msg.offset() + 1 >= highs[msg.partition()]:
            left.discard(msg.partition())
        if msg.value() is None:
            continue
        value = decode(msg.value(), ctx)
        if value["run_id"] == run_id:
            out[value["user_id"]] = value
    consumer.close()
    return out


def write_report(report: dict, started: float) -> float:
    wall = time.monotonic() - started
    (paths.STATE / "demo-report.json").write_text(
        json.dumps({**report, "wall_time_s": round(wall, 1)}, ensure_ascii=False, indent=2, default=str) + "\n")
    return wall


if __name__ == "__main__":
    sys.exit(main())
