"""Two Kafka-protocol clusters (prod, analytics) of three Nisshi broker processes each.

The three processes of a cluster share one PostgreSQL database, which is what makes them one
cluster that fails over (platform facts). Clients reach them only over TLS with SCRAM-SHA-512.
Users are created through a short-lived plaintext broker bound to a private loopback port on the
same storage (Nisshi's `user` tool speaks plaintext only), which is stopped before the real
listeners open.
"""
import hashlib
import json
import tomllib

from . import paths, postgres, procs, secrets

CLUSTERS = {"prod": 19092, "analytics": 29092}  # first port; brokers use port, port+1, port+2
SETUP_PORT_OFFSET = 7  # private plaintext setup broker: 19099 / 29099, only while creating users
BROKERS_PER_CLUSTER = 3
MECHANISM = "SCRAM-SHA-512"


def broker_addrs(cluster: str) -> list:
    base = CLUSTERS[cluster]
    return [f"127.0.0.1:{base + i}" for i in range(BROKERS_PER_CLUSTER)]


def bootstrap(cluster: str) -> str:
    return ",".join(broker_addrs(cluster))


def proc_name(cluster: str, n: int) -> str:
    return f"kafka-{cluster}-{n}"


def storage_url(cluster: str) -> str:
    # The maintenance sweep runs compaction; 10 min by default, 30 s keeps compacted topics honest
    # in tests and the demo without loading the database.
    return postgres.url("nisshi", f"nisshi_{cluster}") + "?maintenance_interval=30s"


def client_props(principal: str) -> dict:
    """Complete librdkafka properties for `principal`, bootstrap aside."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": principal,
        "sasl.password": secrets.password(principal),
        "ssl.ca.location": str(paths.TLS / "ca.pem"),
    }


def _broker_argv(cluster: str, addr: str, tls_name: str = None) -> list:
    argv = [paths.NISSHI, "broker", "--cluster-id", f"vygoda-{cluster}",
            "--listener-url", f"tcp://{addr}",
            "--advertised-listener-url", f"tcp://{addr}"]
    if tls_name:
        argv += ["--cert", paths.TLS / f"{tls_name}.pem", "--key", paths.TLS / f"{tls_name}.key",
                 "--authentication"]
    return argv


def _broker_env(cluster: str) -> dict:
    # Through the environment, not argv: the storage URL carries the database password.
    return {"STORAGE_ENGINE": storage_url(cluster)}


def _users_fingerprint() -> str:
    pairs = [(p, secrets.password(p)) for p in secrets.principals()]
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def user_create_argv(port: int, principal: str, password: str) -> list:
    # "--" ends the options: a password starting with "-" is a value, not a flag
    # (passwords generated before letters-and-digits only could start with one).
    return [str(paths.NISSHI), "user", "create", "--broker", f"tcp://127.0.0.1:{port}",
            "--", principal, password]


def ensure_users(cluster: str) -> None:
    """Create (or re-create) every principal's SCRAM user when the set or a password changed."""
    marker = paths.STATE / f"kafka-{cluster}.users"
    fingerprint = _users_fingerprint()
    if marker.exists() and marker.read_text().strip() == fingerprint:
        return
    port = CLUSTERS[cluster] + SETUP_PORT_OFFSET
    name = f"kafka-{cluster}-setup"
    procs.start(name, _broker_argv(cluster, f"127.0.0.1:{port}"), env=_broker_env(cluster))
    try:
        procs.wait_for(f"{cluster} setup broker", lambda: _tcp_open(port), 60, name)
        for principal in secrets.principals():
            procs.run(user_create_argv(port, principal, secrets.password(principal)))
    finally:
        procs.stop(name)
    marker.write_text(fingerprint + "\n")


def _tcp_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(cluster: str) -> None:
    ensure_users(cluster)
    for n, addr in enumerate(broker_addrs(cluster), start=1):
        name = proc_name(cluster, n)
        procs.start(name, _broker_argv(cluster, addr, tls_name=name), env=_broker_env(cluster))
    for n, addr in enumerate(broker_addrs(cluster), start=1):
        procs.wait_for(f"broker {addr} ({cluster})", lambda a=addr: broker_healthy(a), 60,
                       proc_name(cluster, n))


def admin_client(cluster: str, principal: str = "admin", addrs: str = None):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": addrs or bootstrap(cluster), **client_props(principal),
                        "socket.timeout.ms": 5000, "log_level": 2})


def broker_healthy(addr: str) -> bool:
    """A TLS + SCRAM metadata round trip through this one broker."""
    cluster = "prod" if int(addr.rsplit(":", 1)[1]) < CLUSTERS["analytics"] else "analytics"
    md = admin_client(cluster, addrs=addr).list_topics(timeout=5)
    return md is not None and len(md.brokers) > 0


def topic_specs(cluster: str, local: bool = True) -> dict:
    """Topics of kafka/topics.toml for `cluster`, with [local] overrides when `local`."""
    table = tomllib.loads((paths.REPO / "kafka" / "topics.toml").read_text())
    defaults = {**table["defaults"], **(table.get("local", {}) if local else {})}
    specs = {}
    for name, topic in table["topics"].items():
        if cluster not in topic["clusters"]:
            continue
        merged = {**defaults, **{k: v for k, v in topic.items() if k in defaults or k == "partitions"}}
        if local:
            merged.update(table.get("local", {}))
        specs[name] = merged
    return specs


def ensure_topics(cluster: str) -> list:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    from confluent_kafka.admin import NewTopic

    admin = admin_client(cluster)
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = topic_specs(cluster)
    new = [
        NewTopic(name, num_partitions=spec["partitions"], replication_factor=spec["replication_factor"],
                 config={"cleanup.policy": spec["cleanup_policy"], "retention.ms": str(spec["retention_ms"])})
        for name, spec in wanted.items() if name not in existing
    ]
    if not new:
        return []
    for name, future in admin.create_topics(new, request_timeout=30).items():
        try:
            future.result()
        except Exception as error:  # noqa: BLE001
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise procs.PlatformError(f"creating topic {name} on {cluster}: {error}") from error
    return [t.topic for t in new]


def stop(cluster: str) -> None:
    for n in range(1, BROKERS_PER_CLUSTER + 1):
        procs.stop(proc_name(cluster, n))
    procs.stop(f"kafka-{cluster}-setup")
