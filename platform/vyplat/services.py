"""vygoda's own long-running services on the local platform: the ban filter (prod), the mirror
(prod → analytics), the lake writer (analytics → HDFS), the jobs scheduler, the store sink
(prod → the CLIENT API's PostgreSQL store) and the CLIENT API's HTTPS server.

`up` starts the infrastructure only, so integration tests that run their own instances on
throw-away topics never compete with these. `make demo` and `platform/ctl.py services start`
start them; `down` stops them. Their metrics ports are the ones
monitoring/prometheus/prometheus.local.yml scrapes.
"""
import urllib.request

from . import paths, procs

# The CLIENT API's HTTPS address (`client-api serve`'s default --listen).
CLIENT_API_URL = "https://127.0.0.1:18443"

# name → (binary and flags, metrics address). Each reads .vygoda/platform.json by default.
SERVICES = {
    "svc-ban-filter": (["ban-filter"], "127.0.0.1:9101"),
    "svc-mirror": (["mirror"], "127.0.0.1:9102"),
    # Short file age: the demo's small volumes would otherwise sit in open files for minutes.
    "svc-lake-writer": (["lake-writer", "--max-file-age", "10s"], "127.0.0.1:9103"),
    "svc-jobs": (["vygoda-jobs", "serve"], "127.0.0.1:9104"),
    "svc-store-sink": (["store-sink"], "127.0.0.1:9106"),
    # HTTPS on 127.0.0.1:18443 (mutual TLS with the platform CA), as principal client-api.
    "svc-client-api": (["client-api", "serve"], "127.0.0.1:9107"),
}


def _metrics_answer(addr: str) -> bool:
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=3) as r:
        return r.status == 200


def start() -> dict:
    """Start every service that is not running; wait until each serves /metrics.
    Returns name → (pid, started now)."""
    out = {}
    for name, (argv, addr) in SERVICES.items():
        before = procs.running(name)
        binary = paths.BIN_DIR / argv[0]
        if not binary.exists():
            raise procs.PlatformError(f"{binary} is missing: run `make up` (it builds the workspace)")
        pid = procs.start(name, [binary, *argv[1:], "--metrics-addr", addr], cwd=paths.REPO)
        out[name] = (pid, before is None)
    for name, (_, addr) in SERVICES.items():
        procs.wait_for(name, lambda a=addr: _metrics_answer(a), 60, name)
    return out


def stop(names=None) -> None:
    for name in names or SERVICES:
        procs.stop(name)
