#!/usr/bin/env python3
"""CLIENT API benchmark (not a test), on the running platform with throw-away databases and topics:

  1. store sink catch-up: a fresh store filled from the start of `products-filtered` (the bundled
     catalogue, as the demo left it) and from a bench topic of N generated products; rows/s from
     the first committed batch to the last, wall time from the sink's start, its peak RSS;
  2. search under load: `client-api serve` (release build, server TLS) on each of those stores,
     `wrk` from a second process on loopback asking /v1/search with catalogue words (each
     request answered, recorded and relayed to a bench events topic, as in production);
     requests/s and latency p50/p99.

    .vygoda/venv/bin/python benches/client_api_bench.py               # N=100000, 20 s per load
    N=20000 DURATION=10 .vygoda/venv/bin/python benches/client_api_bench.py

Figures go to stdout; README's "Benchmarks" quotes them with this command.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VYGODA = ROOT / ".vygoda"
N = int(os.environ.get("N", "100000"))
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
RUN = f"bench-{os.getpid()}-{int(time.time())}"

sys.path.insert(0, str(ROOT / "data"))
from catalogue_words import CATEGORIES  # noqa: E402


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def sh(argv: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=ROOT, check=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform() -> dict:
    path = VYGODA / "platform.json"
    if not path.exists():
        sys.exit("no platform: run `make up` (and `make demo` for the bundled catalogue) first")
    return json.loads(path.read_text())


PLATFORM = platform()


def admin_props() -> dict:
    return {"bootstrap.servers": PLATFORM["clusters"]["prod"]["bootstrap"], **PLATFORM["principals"]["admin"]["kafka"]}


def create_topics(names: dict) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient(admin_props())
    futures = admin.create_topics([NewTopic(n, p, 3, config={"cleanup.policy": c}) for n, (p, c) in names.items()])
    for f in futures.values():
        f.result()


def delete_topics(names) -> None:
    from confluent_kafka.admin import AdminClient
    for f in AdminClient(admin_props()).delete_topics(list(names)).values():
        with contextlib.suppress(Exception):  # best-effort clean-up
            f.result()


def psql(url: str, query: str) -> str:
    return sh(["psql", url, "-AtX", "-c", query], capture_output=True, text=True).stdout.strip()


def database_url(name: str) -> str:
    # The platform's `vygoda` role may create databases (the `store` role may not).
    return PLATFORM["postgres_url"].rsplit("/", 1)[0] + f"/{name}"


def high_watermarks(topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({**admin_props(), "group.id": f"{RUN}-probe"})
    try:
        parts = c.list_topics(topic, timeout=30).topics[topic].partitions
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in parts)
    finally:
        c.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def catch_up(bin_dir: Path, db: str, products: str, recommendations: str, records: int) -> dict:
    """Run a store sink from the start of `products` into database `db` until it holds every
    record's offset; rows/s between the first and the last committed batch."""
    url = database_url(db)
    psql(PLATFORM["postgres_url"], f"CREATE DATABASE {db}")
    log = (VYGODA / "logs" / f"{db}-sink.log").open("w")
    started = time.monotonic()
    sink = subprocess.Popen([bin_dir / "store-sink", "--store-url", url, "--products-topic", products,
                             "--recommendations-topic", recommendations, "--group", f"{db}-sink".replace("_", "-"),
                             "--metrics-addr", f"127.0.0.1:{free_port()}"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    first = last = None
    try:
        while True:
            if sink.poll() is not None:
                raise SystemExit(f"store-sink exited {sink.returncode}; see {log.name}")
            # The sink creates its tables at start; until then there is nothing to count.
            done = subprocess.run(["psql", url, "-AtX", "-c", "SELECT coalesce(sum(next_offset), 0) FROM sink_offsets "
                                   f"WHERE topic = '{products}'"], capture_output=True, text=True)
            applied = int(done.stdout.strip() or 0) if done.returncode == 0 else 0
            now = time.monotonic()
            if applied and first is None:
                first = (now, applied)
            if applied >= records:
                last = (now, applied)
                break
            if now - started > 900:
                raise SystemExit(f"the sink applied {applied} of {records} in 15 min; see {log.name}")
            time.sleep(0.05)  # polling a benchmark's progress, not synchronising a test
        rss = peak_rss_mb(sink.pid)
    finally:
        stop(sink)
        log.close()
    rows = int(psql(url, "SELECT count(*) FROM products"))
    span = max(last[0] - first[0], 1e-3)
    return {"records": records, "rows": rows, "wall_s": round(last[0] - started, 1),
            "rows_per_s": round((last[1] - first[1]) / span), "peak_rss_mb": round(rss)}


def queries() -> list:
    words = []
    for c in CATEGORIES:
        words.append(c["name"].lower())
        words.extend(c["kinds"][:2])
        words.extend(c["brands"][:2])
    # A few misspellings: the trigram path.
    words += ["смартфн", "наушникии", "холодильнк", "чсы"]
    return [urllib.parse.quote(w) for w in words]


def wrk_script(path: Path) -> None:
    table = ", ".join(f'"{q}"' for q in queries())
    path.write_text(f"""local queries = {{{table}}}
local n = 0
request = function()
  n = n + 1
  local q = queries[(n % #queries) + 1]
  return wrk.format("GET", "/v1/search?q=" .. q .. "&limit=10&user=bench")
end
""")


def search_load(bin_dir: Path, db: str, events: str, script: Path) -> dict:
    port, metrics = free_port(), free_port()
    log = (VYGODA / "logs" / f"{db}-serve.log").open("w")
    serve = subprocess.Popen([bin_dir / "client-api", "--store-url", database_url(db), "--events-topic", events,
                              "serve", "--listen", f"127.0.0.1:{port}", "--metrics-addr", f"127.0.0.1:{metrics}",
                              "--client-ca", "none", "--store-connections", "16"],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if serve.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"client-api serve did not start; see {log.name}") from None
                time.sleep(0.1)
        out = sh(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", script,
                  f"https://127.0.0.1:{port}"], capture_output=True, text=True).stdout
        rss = peak_rss_mb(serve.pid)
    finally:
        stop(serve)
        log.close()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    (VYGODA / "logs" / f"{db}-wrk.txt").write_text(out)
    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", out)
    recorded = int(psql(database_url(db), "SELECT count(*) FROM requests"))
    return {"requests_per_s": round(rate), "p50": dist.get("50"), "p99": dist.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "timeouts_2s": int(timeouts.group(1)) if timeouts else 0, "recorded": recorded,
            "serve_peak_rss_mb": round(rss)}


def main() -> None:
    if not shutil.which("wrk"):
        say("installing wrk (Debian)")
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    sh(["cargo", "build", "--release", "-q", "-p", "vygoda-client-api", "-p", "vygoda-ingest", "--bins"])
    meta = json.loads(sh(["cargo", "metadata", "--format-version", "1", "--no-deps"], capture_output=True).stdout)
    bin_dir = Path(meta["target_directory"]) / "release"
    products, recs, events = f"{RUN}-products-filtered", f"{RUN}-recommendations", f"{RUN}-client-events"
    create_topics({products: (6, "compact"), recs: (6, "compact"), events: (6, "delete")})
    small, large = f"{RUN}-bundled".replace("-", "_"), f"{RUN}-generated".replace("-", "_")
    tmp = Path(tempfile.mkdtemp())
    try:
        say(f"publishing {N} generated products to {products}")
        catalogue = tmp / "products.ndjson"
        sh([sys.executable, ROOT / "data" / "generate_catalogue.py", "--count", N, "--out", catalogue,
            "--ndjson", "--no-bad"], stdout=subprocess.DEVNULL)
        sh([bin_dir / "shop-api", "publish", "--file", catalogue, "--topic", products, "--progress", "never"],
           stdout=subprocess.DEVNULL)
        figures = {}
        say("store sink: the bundled catalogue from the start of products-filtered")
        figures["sink, products-filtered (bundled)"] = catch_up(
            bin_dir, small, "products-filtered", "recommendations", high_watermarks("products-filtered"))
        say(f"store sink: {N} generated products")
        figures[f"sink, {N} generated products"] = catch_up(bin_dir, large, products, recs, high_watermarks(products))
        script = tmp / "search.lua"
        wrk_script(script)
        for label, db in ((f"search, bundled catalogue ({figures['sink, products-filtered (bundled)']['rows']} "
                           "products)", small), (f"search, {N} generated products", large)):
            say(f"{label}: wrk -t2 -c{CONNECTIONS} -d{DURATION}s")
            figures[label] = search_load(bin_dir, db, events, script)
        print(json.dumps({"cores": os.cpu_count(), "connections": CONNECTIONS, "duration_s": DURATION,
                          **figures}, ensure_ascii=False, indent=2))
    finally:
        for db in (small, large):
            drop = f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            subprocess.run(["psql", PLATFORM["postgres_url"], "-AtX", "-c", drop], capture_output=True)
        delete_topics([products, recs, events])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
