#!/usr/bin/env python3
"""vygoda's local platform: `up`, `down`, `status`, `reset`, `install`.

    python3 platform/ctl.py up        # idempotent: installs what is missing, starts what is down
    python3 platform/ctl.py status    # every part, its address and health (--json)
    python3 platform/ctl.py down      # stops what `up` started, by pid; data stays
    python3 platform/ctl.py reset     # down, then wipe .vygoda (data, certificates, passwords)
    python3 platform/ctl.py memory    # resident memory of every running part
    python3 platform/ctl.py services start|stop   # vygoda's own services (ban filter, mirror,
                                                  # lake writer, jobs scheduler) on the platform

The Makefile's `up`, `down`, `status` and `reset` call this. It needs only the standard library
to install; then it re-runs itself inside the project venv, whose confluent-kafka client does the
Kafka health checks and topic creation.
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vyplat import paths  # noqa: E402
from vyplat.procs import PlatformError  # noqa: E402

IN_VENV_FLAG = "VYGODA_PLATFORM_IN_VENV"


def reexec_in_venv(argv: list) -> None:
    if os.environ.get(IN_VENV_FLAG):
        return
    python = paths.venv_dir() / "bin" / "python"
    if not python.exists():
        # A fresh machine, or platform/requirements.txt changed since the last install.
        raise PlatformError(f"the platform is not installed ({python} missing): run `make up`")
    os.environ[IN_VENV_FLAG] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


def write_platform_json() -> None:
    from vyplat import dashboards, hdfs, kafka, monitoring, postgres, registry, secrets, services, spark

    platform = {
        "clusters": {c: {"bootstrap": kafka.bootstrap(c), "brokers": kafka.broker_addrs(c)}
                     for c in kafka.CLUSTERS},
        # One identity per principal, for the brokers and the registry alike: its certificate.
        "principals": {p: {"username": p, "cert": str(paths.TLS / f"{p}.pem"), "key": str(paths.TLS / f"{p}.key"),
                           "kafka": kafka.client_props(p)}
                       for p in secrets.principals()},
        "ca": str(paths.TLS / "ca.pem"),
        "schema_registry": {"url": registry.URL, "ca": str(paths.TLS / "ca.pem")},
        "hdfs": {"url": hdfs.RPC, "webhdfs": f"{hdfs.HTTP}/webhdfs/v1", "namenode_http": hdfs.HTTP,
                 "explorer": hdfs.EXPLORER},
        "lake_root": f"{hdfs.RPC}/lake",
        "postgres_url": postgres.url("vygoda", "vygoda"),
        # The CLIENT API's store: products, recommendations, requests (store sink, client-api).
        "store_url": postgres.url("store", "store"),
        # `client-api serve` (started with the services): /v1/search, /v1/products/{id},
        # /v1/users/{user}/recommendations; callers present a platform certificate.
        "client_api_url": services.CLIENT_API_URL,
        "prometheus_url": monitoring.PROMETHEUS,
        "alertmanager_url": monitoring.ALERTMANAGER,
        # Short-lived commands PUT their outcome to <pushgateway_url>/metrics/job/<command>.
        "pushgateway_url": monitoring.PUSHGATEWAY,
        # Alertmanager's Telegram route posts to this stand-in of the Bot API (messages in
        # .vygoda/monitoring/telegram.jsonl).
        "telegram_standin_url": monitoring.TELEGRAM_API,
        "dashboards_url": dashboards.URL,
        # Jobs run on the standalone cluster; `local[N]` stays a per-job option.
        "spark": {"submit": str(paths.SPARK_SUBMIT),
                  "python": str(paths.VENV_LINK / "bin" / "python"), "master": spark.MASTER,
                  "master_ui": spark.MASTER_UI, "history_url": spark.HISTORY_UI},
    }
    # Names key files and holds the PostgreSQL URL with its password: owner-readable only.
    secrets.write_private(paths.PLATFORM_JSON, json.dumps(platform, indent=2) + "\n")


def up() -> int:
    from vyplat import acls, dashboards, hdfs, kafka, monitoring, postgres, procs, registry, secrets, spark, status

    started = time.monotonic()
    # One certificate per identity: the registry's server, every Kafka node, every principal
    # (`monitoring` is also the blackbox exporter's identity in its broker probe).
    certs = ["registry", *kafka.node_names(), *secrets.principals()]
    procs.run(["bash", paths.REPO / "kafka" / "make-certs.sh", paths.TLS, *certs])
    # Before anything that reads it starts (the registry, the lag exporter).
    write_platform_json()
    postgres.start()
    # Both clusters' JVMs start together; then each is waited for.
    for cluster in kafka.CLUSTERS:
        kafka.start(cluster)
    for cluster in kafka.CLUSTERS:
        kafka.wait_healthy(cluster)
        created = kafka.ensure_topics(cluster)
        if created:
            print(f"[up] {cluster}: created topics {', '.join(created)}", flush=True)
        added, removed = acls.sync(cluster)
        if added or removed:
            print(f"[up] {cluster}: ACLs now equal kafka/acls.toml ({added} added, {removed} removed)",
                  flush=True)
        kafka.wait_isr_full(cluster)
    hdfs.start()
    # After HDFS: the history server reads, and every application writes, event logs there.
    spark.start()
    registry.start()
    monitoring.start()
    dashboards.start()
    healthy = status.show(as_json=False)
    print(f"[up] platform {'healthy' if healthy else 'NOT healthy'} in {time.monotonic() - started:.1f}s; "
          f"description: {paths.PLATFORM_JSON}", flush=True)
    return 0 if healthy else 1


def down() -> int:
    from vyplat import dashboards, hdfs, kafka, monitoring, postgres, procs, registry, spark

    for name in sorted(p.stem for p in paths.RUN.glob("svc-*.pid")):
        procs.stop(name)
    dashboards.stop()
    monitoring.stop()
    registry.stop()
    spark.stop()
    hdfs.stop()
    for cluster in kafka.CLUSTERS:
        kafka.stop(cluster)
    postgres.stop()
    print("[down] stopped", flush=True)
    return 0


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="platform/ctl.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="install what is missing (packages, Kafka and Hadoop jars, venv, binaries)")
    upp = sub.add_parser("up", help="install what is missing and start what is down (idempotent)")
    upp.add_argument("--no-build", action="store_true",
                     help="skip `cargo build` (test fixtures: cargo holds its build lock while tests run)")
    sub.add_parser("down", help="stop what up started; data stays")
    st = sub.add_parser("status", help="every part, its address and health")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("reset", help="down, then wipe all local data, certificates and passwords")
    sub.add_parser("memory", help="resident memory (PSS, RSS) of every running part")
    sv = sub.add_parser("services", help="start or stop vygoda's own services on the running platform")
    sv.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args(argv)

    paths.ensure_dirs()
    try:
        # The first run (system Python) installs; its re-run inside the venv need not check again.
        if args.cmd in ("install", "up") and not os.environ.get(IN_VENV_FLAG):
            from vyplat import install

            install.all_(build=not getattr(args, "no_build", False))
            if args.cmd == "install":
                return 0
        if args.cmd == "reset":
            down()
            shutil.rmtree(paths.STATE)
            print(f"[reset] removed {paths.STATE}")
            return 0
        reexec_in_venv(argv)
        if args.cmd == "up":
            return up()
        if args.cmd == "down":
            return down()
        if args.cmd == "memory":
            from vyplat import memory

            memory.show()
            return 0
        if args.cmd == "services":
            from vyplat import services

            if args.action == "stop":
                services.stop()
                return 0
            for name, (pid, new) in services.start().items():
                print(f"{name[4:]:<12} pid {pid:<8} {'started' if new else 'already running'}  "
                      f"log .vygoda/logs/{name}.log")
            return 0
        from vyplat import status

        return 0 if status.show(args.json) else 1
    except PlatformError as error:
        print(f"[{args.cmd}] FAILED: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
