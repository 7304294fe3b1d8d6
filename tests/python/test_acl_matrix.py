"""The brokers enforce kafka/acls.toml: for every principal on both clusters, every topic of
kafka/topics.toml and every group the table names (plus one nobody owns) and every operation, a
granted operation works and any other is refused with an authorization error.

The expectation is read from the table here, with Kafka's own rule that Read and Write imply
Describe, independently of the Rust code that turns the table into bindings. No probe changes
anything: a write sends a record larger than the topic accepts (refused after authorization), a
create only validates an existing name, a group commit names a topic that does not exist.
"""
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from platform_facts import facts

REPO = Path(__file__).resolve().parents[2]
ACLS = tomllib.loads((REPO / "kafka" / "acls.toml").read_text())
TOPICS = tomllib.loads((REPO / "kafka" / "topics.toml").read_text())["topics"]
TOPIC_OPS = ["Read", "Write", "Describe", "DescribeConfigs", "Create"]
GROUP_OPS = ["Read", "Describe"]
# Topic the group probes commit to: in the test namespace (readable by all), never created.
ABSENT = f"test-acl-absent-{uuid.uuid4().hex[:8]}"


def granted(principal: str, cluster: str, kind: str, name: str, op: str) -> bool:
    p = ACLS["principals"][principal]
    if p.get("super_user"):
        return True
    implied = {op, "Read", "Write"} if op == "Describe" else {op}
    for g in p.get("grants", []):
        pattern = g.get(kind)
        if g["cluster"] not in ("*", cluster) or pattern is None:
            continue
        matches = pattern == "*" or pattern == name or (pattern.endswith("*") and name.startswith(pattern[:-1]))
        if matches and implied & set(g["ops"]):
            return True
    return False


def groups() -> list:
    """Every group the table names (one member of each prefix), and one that nobody is granted."""
    named = set()
    for p in ACLS["principals"].values():
        for pattern in (g["group"] for g in p.get("grants", []) if "group" in g):
            if pattern != "*":
                named.add(pattern[:-1] + "-probe" if pattern.endswith("*") else pattern)
    return sorted(named) + ["nobodys-group"]


def props(cluster: str, principal: str) -> dict:
    platform = facts()
    return {"bootstrap.servers": platform["clusters"][cluster]["bootstrap"],
            **platform["principals"][principal]["kafka"], "log_level": 0}


class Refused(Exception):
    """The broker answered with an authorization error."""


def authz(code) -> bool:
    from confluent_kafka import KafkaError

    return code in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
                    KafkaError.CLUSTER_AUTHORIZATION_FAILED)


def outcome(fn, attempts: int = 20) -> bool:
    """True if `fn` got past authorization, False if it was refused by it; anything else fails.
    A coordinator still loading (just after a node restarted) is asked again: that answer says
    nothing about authorization yet."""
    from confluent_kafka import KafkaError, KafkaException

    transient = (KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
                 KafkaError.NOT_COORDINATOR)
    for attempt in range(attempts):
        try:
            fn()
            return True
        except Refused:
            return False
        except KafkaException as error:
            code = error.args[0].code()
            if authz(code):
                return False
            if code not in transient or attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def probe_topics(cluster: str, principal: str, topics: list) -> dict:
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    admin = AdminClient(props(cluster, principal))
    seen = {}

    def describe(t):
        md = admin.list_topics(topic=t, timeout=15).topics[t]
        if md.error is not None and authz(md.error.code()):
            raise Refused()
        assert md.error is None, f"{t}: {md.error}"

    def describe_configs(t):
        for f in admin.describe_configs([ConfigResource("topic", t)], request_timeout=15).values():
            f.result()

    def create(t):
        for f in admin.create_topics([NewTopic(t, 1, 3)], validate_only=True, request_timeout=15).values():
            try:
                f.result()
            except Exception as error:
                if error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    return
                raise
            raise AssertionError(f"validate-only create of existing {t} succeeded")

    for t in topics:
        seen[(t, "Describe")] = outcome(lambda t=t: describe(t))
        seen[(t, "DescribeConfigs")] = outcome(lambda t=t: describe_configs(t))
        seen[(t, "Create")] = outcome(lambda t=t: create(t))

    # Write: a 2 MB record to topics that take 1 MB: authorized → MSG_SIZE_TOO_LARGE, nothing stored.
    results = {}
    producer = Producer({**props(cluster, principal), "enable.idempotence": False, "acks": "1",
                         "message.max.bytes": 4_000_000, "message.timeout.ms": 20000, "retries": 0})
    for t in topics:
        try:
            producer.produce(t, value=b"x" * 2_000_000,
                             on_delivery=lambda err, msg, t=t: results.__setitem__(t, err))
        except KafkaException as error:
            # The producer already holds the broker's refusal of this topic's metadata.
            results[t] = error.args[0]
    assert producer.flush(30) == 0, "deliveries still pending"
    for t in topics:
        err = results[t]
        assert err is not None, f"{t}: an oversized probe record was stored"
        if authz(err.code()):
            seen[(t, "Write")] = False
        else:
            assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, f"{t}: {err}"
            seen[(t, "Write")] = True

    seen.update(probe_reads(cluster, principal, topics))
    return seen


def probe_read(cluster: str, principal: str, topic: str) -> bool:
    """Fetch partition 0 from its end with a consumer of its own, so any authorization error is
    this topic's: end-of-partition means a Fetch was answered (allowed)."""
    from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition

    # The group is in the test namespace every principal may use: only the topic is probed.
    consumer = Consumer({**props(cluster, principal), "group.id": "test-acl-reader",
                         "enable.partition.eof": True, "enable.auto.commit": False})
    try:
        # A topic the principal may not even describe is refused at metadata already; a consumer
        # assigned to it would wait without an error event (librdkafka keeps retrying).
        md = consumer.list_topics(topic=topic, timeout=15).topics[topic]
        if md.error is not None and authz(md.error.code()):
            return False
        consumer.assign([TopicPartition(topic, 0, OFFSET_END)])
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is None:
                continue
            if msg.error().code() == KafkaError._PARTITION_EOF:
                return True
            if authz(msg.error().code()):
                return False
        raise AssertionError(f"{principal} on {cluster}: no answer to a fetch of {topic}")
    finally:
        consumer.close()


def probe_reads(cluster: str, principal: str, topics: list) -> dict:
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = pool.map(lambda t: probe_read(cluster, principal, t), topics)
        return {(t, "Read"): a for t, a in zip(topics, answers, strict=True)}


def probe_groups(cluster: str, principal: str, names: list) -> dict:
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(props(cluster, principal))
    seen = {}
    for g in names:
        def describe(g=g):
            for f in admin.describe_consumer_groups([g], request_timeout=15).values():
                f.result()

        seen[(g, "Describe")] = outcome(describe)
        if not seen[(g, "Describe")]:
            # FindCoordinator needs Describe: the broker has refused this group to the principal
            # already, and a commit would only wait for a coordinator it will never be told.
            seen[(g, "Read")] = False
            continue
        consumer = Consumer({**props(cluster, principal), "group.id": g, "enable.auto.commit": False})

        def commit(consumer=consumer, g=g):
            try:
                result = consumer.commit(offsets=[TopicPartition(ABSENT, 0, 1)], asynchronous=False)
            except KafkaException as error:
                # Past the group's check, the missing topic is what the broker objects to.
                if error.args[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
                    return
                raise
            errors = [tp.error for tp in result if tp.error is not None]
            assert errors, f"{g}: a commit for a topic that does not exist succeeded"
            if any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in errors):
                raise Refused()

        try:
            seen[(g, "Read")] = outcome(commit)
        finally:
            consumer.close()
    return seen


CASES = [(c, p) for c in ("prod", "analytics") for p in sorted(ACLS["principals"])]


@pytest.mark.usefixtures("platform")
@pytest.mark.parametrize("cluster,principal", CASES, ids=[f"{c}-{p}" for c, p in CASES])
def test_brokers_allow_exactly_what_the_table_grants(cluster, principal):
    topics = sorted(t for t, spec in TOPICS.items() if cluster in spec["clusters"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        t_future = pool.submit(probe_topics, cluster, principal, topics)
        g_future = pool.submit(probe_groups, cluster, principal, groups())
        seen = {**{("topic",) + k: v for k, v in t_future.result().items()},
                **{("group",) + k: v for k, v in g_future.result().items()}}
    wrong = []
    for (kind, name, op), allowed in sorted(seen.items()):
        want = granted(principal, cluster, kind, name, op)
        if allowed != want:
            wrong.append(f"{op} on {kind} {name}: {'allowed' if allowed else 'refused'}, table says "
                         f"{'allow' if want else 'refuse'}")
    expected_count = len(topics) * len(TOPIC_OPS) + len(groups()) * len(GROUP_OPS)
    assert len(seen) == expected_count, f"probed {len(seen)} of {expected_count}"
    assert not wrong, f"{principal} on {cluster}:\n  " + "\n  ".join(wrong)


def test_refusals_include_the_ones_the_issue_names():
    """Spot checks of the matrix's meaning, stated in the table's own terms."""
    assert not granted("shop-api", "prod", "topic", "products-filtered", "Read")
    assert not any(granted("lake-writer", c, "topic", t, "Write") for c in ("prod", "analytics") for t in TOPICS)
    assert not any(granted("operator", c, "topic", t, op) for c in ("prod", "analytics") for t in TOPICS
                   for op in ("Write", "Create"))
    assert not granted("shop-api", "prod", "group", "ban-filter", "Read")
    assert granted("ban-filter", "prod", "group", "ban-filter", "Read")
