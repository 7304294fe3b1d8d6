"""Two Apache Kafka clusters (prod, analytics) of three KRaft nodes each, broker and controller
in one process, from the jars `install` resolved from Maven Central.

Every listener is TLS with client certificates: CLIENT for services and people, REPLICATION
between brokers, CONTROLLER for the quorum. A certificate's CN is the principal (`shop-api`,
`admin`, `kafka-prod-2`). Each node keeps its own log directory under .vygoda/kafka/, formatted
once with its cluster's id, so data survives `down`/`up`. The properties use the same names as
kafka/prod/, with loopback addresses and small heaps.
"""
import base64
import secrets as _secrets
import tomllib
from concurrent.futures import ThreadPoolExecutor

from . import paths, procs
from .secrets import write_private

CLUSTERS = {"prod": 19092, "analytics": 29092}  # CLIENT port of node 1; nodes use port, +1, +2
CONTROLLER_OFFSET = 100   # 19192.., 29192..
REPLICATION_OFFSET = 200  # 19292.., 29292..
JMX_OFFSET = 300          # the JMX exporter agent's /metrics: 19392.., 29392..
BROKERS_PER_CLUSTER = 3
HOME = paths.STATE / "kafka"
# 6 JVMs on a 2-core, 24 GiB machine: a 320 MB heap holds the test and demo load with room;
# Kafka's scripts default to 1 GB each.
HEAP = ["-Xms96m", "-Xmx320m"]


def broker_addrs(cluster: str) -> list:
    base = CLUSTERS[cluster]
    return [f"127.0.0.1:{base + i}" for i in range(BROKERS_PER_CLUSTER)]


def bootstrap(cluster: str) -> str:
    return ",".join(broker_addrs(cluster))


def proc_name(cluster: str, n: int) -> str:
    return f"kafka-{cluster}-{n}"


def node_names(cluster: str = None) -> list:
    """Every node's process (and certificate) name, of one cluster or of both."""
    return [proc_name(c, n) for c in ([cluster] if cluster else CLUSTERS)
            for n in range(1, BROKERS_PER_CLUSTER + 1)]


def jmx_addrs(cluster: str) -> list:
    """Where each node's JMX exporter agent serves Prometheus metrics."""
    base = CLUSTERS[cluster] + JMX_OFFSET
    return [f"127.0.0.1:{base + i}" for i in range(BROKERS_PER_CLUSTER)]


def client_props(principal: str) -> dict:
    """Complete librdkafka properties for `principal`, bootstrap aside: its own certificate."""
    return {
        "security.protocol": "SSL",
        "ssl.ca.location": str(paths.TLS / "ca.pem"),
        "ssl.certificate.location": str(paths.TLS / f"{principal}.pem"),
        "ssl.key.location": str(paths.TLS / f"{principal}.key"),
    }


def super_users(cluster: str) -> list:
    # The nodes' own principals must be super users: controller and replication requests are
    # authorized with them, before any ACL can exist.
    return ["admin", *node_names(cluster)]


def node_properties(cluster: str, n: int) -> dict:
    """server.properties of node `n`: kafka/prod/<cluster>/server-<n>.properties on loopback."""
    base = CLUSTERS[cluster]
    port = base + n - 1
    name = proc_name(cluster, n)
    voters = ",".join(f"{i}@127.0.0.1:{base + CONTROLLER_OFFSET + i - 1}"
                      for i in range(1, BROKERS_PER_CLUSTER + 1))
    return {
        "process.roles": "broker,controller",
        "node.id": str(n),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listeners": (f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + CONTROLLER_OFFSET},"
                      f"REPLICATION://127.0.0.1:{port + REPLICATION_OFFSET}"),
        "advertised.listeners": (f"CLIENT://127.0.0.1:{port},"
                                 f"REPLICATION://127.0.0.1:{port + REPLICATION_OFFSET}"),
        "listener.security.protocol.map": "CLIENT:SSL,CONTROLLER:SSL,REPLICATION:SSL",
        "inter.broker.listener.name": "REPLICATION",
        "ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT",
        "ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(HOME / name / "keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(paths.TLS / "ca.pem"),
        # Deny by default: what kafka/acls.toml does not grant is refused (`up` syncs the ACLs).
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{u}" for u in super_users(cluster)),
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "num.partitions": "6",
        "offsets.topic.replication.factor": "3",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "transaction.state.log.num.partitions": "10",
        # Tests start many short-lived groups; production waits 3 s for members to gather.
        "group.initial.rebalance.delay.ms": "0",
        "log.dirs": str(HOME / name / "data"),
        "log.segment.bytes": str(64 * 1024 * 1024),
        "num.recovery.threads.per.data.dir": "1",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }


def _cluster_id(cluster: str) -> str:
    """The cluster's KRaft id, made once (16 random bytes, URL-safe base64 as Kafka's own)."""
    path = HOME / f"{cluster}.cluster-id"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(_secrets.token_bytes(16)).decode().rstrip("=") + "\n")
    return path.read_text().strip()


def _java(main: str, *args, agent: list = ()) -> list:
    return ["java", *HEAP, *agent, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={paths.REPO / 'kafka' / 'local' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={paths.LOGS}",
            "-cp", f"{paths.kafka_libs()}/*", main, *args]


def _config_text(cluster: str, n: int) -> str:
    return "".join(f"{k}={v}\n" for k, v in node_properties(cluster, n).items())


def _prepare(cluster: str, n: int) -> list:
    """Write node n's config and key store, format its storage once; returns its command line."""
    name = proc_name(cluster, n)
    node = HOME / name
    node.mkdir(parents=True, exist_ok=True)
    # The key store holds the node's private key: written owner-only.
    keystore = (paths.TLS / f"{name}.key").read_text() + (paths.TLS / f"{name}.pem").read_text()
    write_private(node / "keystore.pem", keystore)
    text = _config_text(cluster, n)
    config = node / "server.properties"
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    if not (node / "data" / "meta.properties").exists():
        procs.run(_java("kafka.tools.StorageTool", "format", "--ignore-formatted",
                        "-t", _cluster_id(cluster), "-c", config))
    argv = _command(cluster, n)
    (node / "command").write_text(" ".join(map(str, argv)))
    return argv


def _command(cluster: str, n: int) -> list:
    # The JMX exporter agent with the production rules file: the same metric names here and there.
    config = HOME / proc_name(cluster, n) / "server.properties"
    jmx = jmx_addrs(cluster)[n - 1]
    rules = paths.REPO / "monitoring" / "kafka" / "jmx-exporter.yml"
    return _java("kafka.Kafka", config, agent=[f"-javaagent:{paths.JMX_EXPORTER}={jmx}:{rules}"])


def _stale(cluster: str, n: int) -> bool:
    """A running node whose configuration or command line changed since it started."""
    node = HOME / proc_name(cluster, n)
    config, command = node / "server.properties", node / "command"
    # No record of the command line: started by an older `up`, so not known to be current.
    return (config.exists() and config.read_text() != _config_text(cluster, n)) or (
        not command.exists() or command.read_text() != " ".join(map(str, _command(cluster, n))))


def start(cluster: str) -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    stale = [proc_name(cluster, n) for n in range(1, BROKERS_PER_CLUSTER + 1)
             if procs.running(proc_name(cluster, n)) and _stale(cluster, n)]
    if stale:
        print(f"[up] {cluster}: configuration changed, restarting {', '.join(stale)}", flush=True)
        with ThreadPoolExecutor(max_workers=len(stale)) as pool:
            list(pool.map(lambda name: procs.stop(name, grace=30.0), stale))
    todo = [n for n in range(1, BROKERS_PER_CLUSTER + 1) if not procs.running(proc_name(cluster, n))]
    # Formatting starts a JVM per node: in parallel on first `up`.
    with ThreadPoolExecutor(max_workers=BROKERS_PER_CLUSTER) as pool:
        argvs = dict(zip(todo, pool.map(lambda n: _prepare(cluster, n), todo), strict=True))
    for n, argv in argvs.items():
        procs.start(proc_name(cluster, n), argv, restart_on_change=False)


def wait_healthy(cluster: str, timeout: float = 120) -> None:
    for n, addr in enumerate(broker_addrs(cluster), start=1):
        procs.wait_for(f"broker {addr} ({cluster})", lambda a=addr: broker_healthy(a), timeout,
                       proc_name(cluster, n))


def admin_client(cluster: str, principal: str = "admin", addrs: str = None):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": addrs or bootstrap(cluster), **client_props(principal),
                        "socket.timeout.ms": 5000, "log_level": 2})


def cluster_of(addr: str) -> str:
    port = int(addr.rsplit(":", 1)[1])
    return next(c for c, base in CLUSTERS.items() if base <= port < base + BROKERS_PER_CLUSTER)


def broker_healthy(addr: str) -> bool:
    """A TLS metadata round trip through this one node, which sees every node of its cluster."""
    md = admin_client(cluster_of(addr), addrs=addr).list_topics(timeout=5)
    return md is not None and len(md.brokers) == BROKERS_PER_CLUSTER


def under_replicated(cluster: str) -> list:
    """`topic/partition` of every partition whose ISR is not all of its replicas."""
    md = admin_client(cluster).list_topics(timeout=10)
    return [f"{t.topic}/{p.id}" for t in md.topics.values() for p in t.partitions.values()
            if set(p.isrs) != set(p.replicas) or p.leader < 0]


def isr_full(cluster: str) -> bool:
    return not under_replicated(cluster)


def wait_isr_full(cluster: str, timeout: float = 120) -> None:
    procs.wait_for(f"{cluster}: every partition's ISR full", lambda: isr_full(cluster), timeout)


def topic_specs(cluster: str) -> dict:
    """Topics of kafka/topics.toml for `cluster`: the same values as production."""
    table = tomllib.loads((paths.REPO / "kafka" / "topics.toml").read_text())
    defaults = table["defaults"]
    specs = {}
    for name, topic in table["topics"].items():
        if cluster not in topic["clusters"]:
            continue
        specs[name] = {**defaults, **{k: v for k, v in topic.items() if k in defaults or k == "partitions"}}
    return specs


def ensure_topics(cluster: str) -> list:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    from confluent_kafka.admin import NewTopic

    admin = admin_client(cluster)
    existing = set(admin.list_topics(timeout=10).topics)
    new = [
        NewTopic(name, num_partitions=spec["partitions"], replication_factor=spec["replication_factor"],
                 config={"cleanup.policy": spec["cleanup_policy"], "retention.ms": str(spec["retention_ms"]),
                         "min.insync.replicas": str(spec["min_insync_replicas"])})
        for name, spec in topic_specs(cluster).items() if name not in existing
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
    """SIGTERM to every node at once: each one's controlled shutdown needs the quorum, which
    stopping them one by one would lose before the last one is done."""
    names = node_names(cluster)
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(lambda name: procs.stop(name, grace=30.0), names))
