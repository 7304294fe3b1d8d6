#!/usr/bin/env python3
"""`make demo`: the whole vygoda pipeline on the bundled data, then a short report.

platform up (the Makefile's `up`) → services started (ban filter, mirror, lake writer) →
bans applied → shop catalogue published → client activity simulated → mirrored to analytics →
written to the lake → `recommendations` run by the jobs driver (Spark, then the publisher) →
report: counts per stage, run id, quality against the baseline, one user's recommendations,
and where to look. Runs with the project venv; every step is a real binary of the workspace.
"""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vyplat import paths, procs  # noqa: E402

BIN = paths.BIN_DIR
PLATFORM = json.loads(paths.PLATFORM_JSON.read_text())
LAKE_TOPICS = ["products-filtered", "product-bans", "client-events", "recommendations"]
SERVICES = {
    # name: argv; metrics addresses match monitoring/prometheus/prometheus.local.yml
    "svc-ban-filter": [BIN / "ban-filter", "--metrics-addr", "127.0.0.1:9101"],
    "svc-mirror": [BIN / "mirror", "--metrics-addr", "127.0.0.1:9102"],
    "svc-lake-writer": [BIN / "lake-writer", "--metrics-addr", "127.0.0.1:9103", "--max-file-age", "10s"],
}


def step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


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


def admin_client(cluster: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": PLATFORM["clusters"][cluster]["bootstrap"],
                        **PLATFORM["principals"]["operator"]["kafka"], "log_level": 2})


def high_watermarks(cluster: str, topic: str) -> dict:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": PLATFORM["clusters"][cluster]["bootstrap"],
                         **PLATFORM["principals"]["operator"]["kafka"], "group.id": "operator-demo",
                         "log_level": 2})
    try:
        md = consumer.list_topics(topic, timeout=15)
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
                for p in md.topics[topic].partitions}
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

    step("services: ban filter (prod), mirror (prod → analytics), lake writer (analytics → HDFS)")
    for name, argv in SERVICES.items():
        pid = procs.start(name, argv, cwd=paths.REPO)
        print(f"   {name[4:]:<12} pid {pid}  log .vygoda/logs/{name}.log")

    step("bans (ADMIN CLI → compacted product-bans)")
    for ban in json.loads((paths.REPO / "data" / "demo-bans.json").read_text()):
        sh([BIN / "vygoda-admin", "ban", "add", ban["kind"], ban["value"], "--reason", ban["reason"],
            "--by", "demo"], quiet=True)
    sh([BIN / "vygoda-admin", "ban", "list"])

    step("shop catalogue (SHOP API → products)")
    publish = sh([BIN / "shop-api", "publish", "--file", "data/catalogue.json", "--progress", "never"])
    report["publish exit code"] = publish.returncode

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

    step("recommendations: Spark job, then the publisher, under the jobs driver")
    run = sh([BIN / "vygoda-jobs", "run", "recommendations"])
    history = sh([BIN / "vygoda-jobs", "history", "recommendations", "--json"], quiet=True)
    runs = json.loads(history.stdout)
    latest = runs[0] if isinstance(runs, list) and runs else runs
    report["run"] = latest
    report["recommendations records (prod)"] = sum(high_watermarks("prod", "recommendations").values())

    step("report")
    for k, v in report.items():
        print(f"   {k}: {v if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False)[:400]}")
    print(f"   wall time: {time.monotonic() - started:.0f}s")
    print(f"""
Where to look:
   lake          {PLATFORM['lake_root']}  (WebHDFS {PLATFORM['hdfs']['webhdfs']}/lake?op=LISTSTATUS)
   NameNode      {PLATFORM['hdfs']['namenode_http']}
   Prometheus    {PLATFORM['prometheus_url']}   Alertmanager {PLATFORM['alertmanager_url']}
   registry      {PLATFORM['schema_registry']['url']}/subjects
   job history   target/debug/vygoda-jobs history
   services      make status; logs in .vygoda/logs/""")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
