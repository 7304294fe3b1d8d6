"""The local platform itself: healthy, idempotent `up`, credentials private, platform.json usable.

Run with the project venv: `.vygoda/venv/bin/python -m pytest tests/python/test_platform.py`.
Nothing here is skipped when the platform is down: these tests are how we know it is up. The
tests that read platform.json take conftest.py's `platform` fixture, which fails naming the parts
that do not answer.
"""
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".vygoda"
CTL = [sys.executable, str(REPO / "platform" / "ctl.py")]


def pids() -> dict:
    return {p.stem: p.read_text().strip() for p in (STATE / "run").glob("*.pid")}


def test_status_reports_every_part_healthy():
    out = subprocess.run([*CTL, "status", "--json"], capture_output=True, text=True, timeout=120)
    rows = json.loads(out.stdout)
    unhealthy = [r for r in rows if not r["healthy"]]
    assert not unhealthy, f"unhealthy parts: {unhealthy}"
    assert out.returncode == 0
    parts = {r["part"] for r in rows}
    for expected in ("postgresql", "kafka prod broker 3", "kafka analytics broker 3", "hdfs namenode",
                     "hdfs file browser", "hdfs datanode", "schema registry", "prometheus", "alertmanager",
                     "spark master", "spark worker", "spark history server", "dashboards"):
        assert expected in parts


def test_second_up_is_a_no_op():
    before = pids()
    assert len(before) >= 12, f"expected every platform process to have a pid file: {before}"
    result = subprocess.run([*CTL, "up"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created topics" not in result.stdout
    assert pids() == before, "a second `up` restarted something"


def test_credentials_are_owner_only(platform):
    for path in [STATE / "platform.json", *sorted((STATE / "secrets").iterdir())]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is readable by others: {oct(mode)}"
    assert stat.S_IMODE((STATE / "secrets").stat().st_mode) == 0o700
    for key in (STATE / "tls").glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0, f"{key.name} is readable by others"


def test_credentials_are_not_tracked_by_git():
    tracked = subprocess.run(["git", "ls-files", ".vygoda"], cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout == ""
    ignored = subprocess.run(["git", "check-ignore", "-q", ".vygoda/platform.json"], cwd=REPO)
    assert ignored.returncode == 0


def test_every_principal_has_complete_client_properties(platform):
    import tomllib

    declared = set(tomllib.loads((REPO / "kafka" / "acls.toml").read_text())["principals"])
    assert declared <= set(platform["principals"]), "acls.toml principals missing from platform.json"
    assert "operator" in platform["principals"]
    for name, principal in platform["principals"].items():
        props = principal["kafka"]
        assert props["security.protocol"] == "SSL"
        assert not any(k.startswith("sasl.") for k in props), "identity is the certificate alone"
        assert Path(props["ssl.ca.location"]).is_file()
        cert = Path(props["ssl.certificate.location"])
        subject = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253"],
                                 capture_output=True, text=True, check=True).stdout
        assert subject.strip().startswith(f"subject=CN={name},"), subject
        key = Path(props["ssl.key.location"])
        assert key.stat().st_mode & 0o077 == 0, f"{key} must be owner-only"
        # The registry knows the principal by the same certificate.
        assert (principal["cert"], principal["key"]) == (str(cert), str(key))
        assert "password" not in principal


def test_platform_json_properties_work_for_a_plain_librdkafka_client(platform):
    """Any librdkafka client connects with nothing but the file: bootstrap + principal props."""
    from confluent_kafka.admin import AdminClient

    for cluster in ("prod", "analytics"):
        conf = {"bootstrap.servers": platform["clusters"][cluster]["bootstrap"],
                **platform["principals"]["operator"]["kafka"]}
        topics = AdminClient(conf).list_topics(timeout=15).topics
        assert "products-filtered" in topics and "client-events" in topics


def test_topics_follow_the_declarative_file(platform):
    import tomllib

    from confluent_kafka.admin import AdminClient

    table = tomllib.loads((REPO / "kafka" / "topics.toml").read_text())
    for cluster in ("prod", "analytics"):
        conf = {"bootstrap.servers": platform["clusters"][cluster]["bootstrap"],
                **platform["principals"]["admin"]["kafka"]}
        metadata = AdminClient(conf).list_topics(timeout=15)
        for name, spec in table["topics"].items():
            if cluster in spec["clusters"]:
                assert name in metadata.topics, f"{name} missing on {cluster}"
                partitions = metadata.topics[name].partitions.values()
                assert len(partitions) == spec["partitions"], name
                for p in partitions:
                    assert len(p.replicas) == 3, f"{name}/{p.id} on {cluster}: replicas {p.replicas}"
                    assert sorted(p.isrs) == sorted(p.replicas), f"{name}/{p.id} on {cluster}: ISR {p.isrs}"
            else:
                assert name not in metadata.topics, f"{name} should not exist on {cluster}"


def test_live_topics_require_two_in_sync_replicas(platform):
    from confluent_kafka.admin import AdminClient, ConfigResource

    conf = {"bootstrap.servers": platform["clusters"]["prod"]["bootstrap"],
            **platform["principals"]["admin"]["kafka"]}
    admin = AdminClient(conf)
    for topic in ("products", "products-filtered"):
        for resource, future in admin.describe_configs([ConfigResource("topic", topic)]).items():
            assert future.result()["min.insync.replicas"].value == "2", resource
    # Each node's default covers internal topics too (__consumer_offsets exists only once a group
    # commits). One broker per request: the protocol allows no more.
    for node in ("1", "2", "3"):
        for resource, future in admin.describe_configs([ConfigResource("broker", node)]).items():
            assert future.result()["min.insync.replicas"].value == "2", resource


def test_production_topic_values_are_rf3_min_isr2():
    import tomllib

    table = tomllib.loads((REPO / "kafka" / "topics.toml").read_text())
    assert table["defaults"]["replication_factor"] == 3
    assert table["defaults"]["min_insync_replicas"] == 2
    for name, spec in table["topics"].items():
        assert spec.get("replication_factor", 3) == 3, name
        assert spec.get("min_insync_replicas", 2) == 2, name


def test_webhdfs_and_namenode_answer(platform):
    import urllib.request

    with urllib.request.urlopen(f"{platform['hdfs']['webhdfs']}/lake?op=GETFILESTATUS", timeout=10) as r:
        assert json.load(r)["FileStatus"]["type"] == "DIRECTORY"


@pytest.fixture(scope="module")
def vyplat():
    """The platform's own Python package (platform/vyplat), as `make up` runs it."""
    sys.path.insert(0, str(REPO / "platform"))
    import vyplat

    return vyplat


def test_generated_passwords_are_letters_and_digits(vyplat):
    from vyplat import secrets

    for _ in range(200):
        pw = secrets._generate()
        assert len(pw) == 32 and pw.isascii() and pw.isalnum(), pw
