"""What is running, where, and whether it answers: `make status` and the `status` block of
.vygoda/platform.json."""
import json
import time

from . import acls, dashboards, hdfs, kafka, monitoring, postgres, procs, registry, spark


def _check(fn) -> tuple:
    try:
        return (bool(fn()), "")
    except Exception as error:  # noqa: BLE001
        return (False, str(error).splitlines()[0][:120])


def parts() -> list:
    """(name, address, process name or None, health check) for every part of the platform."""
    rows = [("postgresql", f"127.0.0.1:{postgres.PORT}", None, postgres.is_ready)]
    for cluster in kafka.CLUSTERS:
        for n, addr in enumerate(kafka.broker_addrs(cluster), start=1):
            rows.append((f"kafka {cluster} broker {n}", addr, kafka.proc_name(cluster, n),
                         lambda a=addr: kafka.broker_healthy(a)))
        rows.append((f"kafka {cluster} replicas", "every partition's ISR full", None,
                     lambda c=cluster: kafka.isr_full(c)))
        rows.append((f"kafka {cluster} ACLs", "equal to kafka/acls.toml", None,
                     lambda c=cluster: acls.wanted(c) == acls.present(c)))
    rows += [
        ("hdfs namenode", f"{hdfs.RPC} (web {hdfs.HTTP})", "hdfs-namenode", hdfs.healthy),
        ("hdfs file browser", hdfs.EXPLORER, None, hdfs.ui_served),
        ("hdfs datanode", f"127.0.0.1:9866 (web {hdfs.DATANODE_HTTP})", "hdfs-datanode", hdfs.healthy),
        ("schema registry", registry.URL, "schema-registry", registry.healthy),
        ("prometheus", monitoring.PROMETHEUS, "prometheus",
         lambda: monitoring._ready(f"{monitoring.PROMETHEUS}/-/ready")),
        ("alertmanager", monitoring.ALERTMANAGER, "alertmanager",
         lambda: monitoring._ready(f"{monitoring.ALERTMANAGER}/-/ready")),
        ("telegram stand-in", f"{monitoring.TELEGRAM_API} (Bot API for Alertmanager)", "telegram-standin",
         lambda: monitoring._ready(f"{monitoring.TELEGRAM_API}/healthz")),
        ("pushgateway", monitoring.PUSHGATEWAY, "pushgateway",
         lambda: monitoring._ready(f"{monitoring.PUSHGATEWAY}/-/ready")),
        ("blackbox exporter", monitoring.BLACKBOX, "blackbox-exporter",
         lambda: monitoring._ready(f"http://{monitoring.BLACKBOX}/-/healthy")),
        ("lag exporter", monitoring.LAG, "lag-exporter",
         lambda: monitoring._ready(f"http://{monitoring.LAG}/metrics")),
        ("node exporter", monitoring.NODE, "node-exporter",
         lambda: monitoring._ready(f"http://{monitoring.NODE}/metrics")),
        ("dashboards", f"{dashboards.URL}/ (the Grafana JSON, drawn)", "dashboards", dashboards.healthy),
        ("spark master", f"{spark.MASTER} (web {spark.MASTER_UI})", "spark-master", spark.master_alive),
        ("spark worker", f"{spark.WORKER_CORES} cores, {spark.WORKER_MEMORY} (web {spark.WORKER_UI})", "spark-worker",
         spark.master_alive),
        ("spark history server", spark.HISTORY_UI, "spark-history", spark.history_alive),
    ]
    return rows


def collect() -> list:
    out = []
    for name, addr, proc, check in parts():
        pid = procs.running(proc) if proc else None
        ok, error = _check(check)
        if proc and not pid:
            ok, error = False, "not running"
        out.append({"part": name, "address": addr, "pid": pid, "healthy": ok, "error": error})
    return out


def show(as_json: bool) -> bool:
    rows = collect()
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["part"]) for r in rows)
        for r in rows:
            mark = "up  " if r["healthy"] else "DOWN"
            pid = f"pid {r['pid']}" if r["pid"] else ""
            print(f"{mark}  {r['part']:<{width}}  {r['address']:<56} {pid:<10} {r['error']}")
    return all(r["healthy"] for r in rows)


def checked_at() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
