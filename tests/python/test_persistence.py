"""`make down && make up` keeps the data: Kafka records, HDFS files, credentials and CA.

The test takes the shared platform down; whatever it finds, its fixture brings the platform back
up before the next test runs."""
import json
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import platform_facts
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".vygoda"
CTL = [sys.executable, str(REPO / "platform" / "ctl.py")]


def _port_open(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


@pytest.fixture
def up_again_after():
    """After the test, `ctl up` if any part of the platform is down: an assertion between the
    test's `down` and its `up` must not leave the rest of the suite without a platform."""
    yield
    if platform_facts.down(platform_facts.facts()):
        up = subprocess.run([*CTL, "up"], capture_output=True, text=True, timeout=900)
        assert up.returncode == 0, f"bringing the platform back up failed: {up.stdout}{up.stderr}"


def test_down_then_up_keeps_kafka_and_hdfs_data(platform, up_again_after):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    conf = {"bootstrap.servers": platform["clusters"]["prod"]["bootstrap"],
            **platform["principals"]["admin"]["kafka"]}
    topic = f"test-persist-{uuid.uuid4().hex[:12]}"
    admin = AdminClient(conf)  # kept: a dropped client destroys its handle before the answer
    for f in admin.create_topics([NewTopic(topic, 1, 3)]).values():
        f.result()
    marker = uuid.uuid4().hex.encode()
    producer = Producer({**conf, "enable.idempotence": True})
    producer.produce(topic, key=b"k", value=marker)
    assert producer.flush(30) == 0

    hdfs_file = f"/test/{topic}.txt"
    web = platform["hdfs"]["webhdfs"]
    # The NameNode answers 307 to the DataNode; requests follows it with the method and body.
    r = requests.put(f"{web}{hdfs_file}", params={"op": "CREATE", "user.name": "vygoda", "overwrite": "true"},
                     data=marker, timeout=30)
    assert r.status_code == 201, r.text

    admin_cert = Path(platform["principals"]["admin"]["cert"]).read_text()
    down = subprocess.run([*CTL, "down"], capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stderr
    brokers = platform["clusters"]["prod"]["brokers"]
    assert not any(_port_open(b) for b in brokers), "brokers still listening after down"
    assert not list((STATE / "run").glob("kafka-*.pid"))

    up = subprocess.run([*CTL, "up"], capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, up.stdout + up.stderr
    after = json.loads((STATE / "platform.json").read_text())
    # Identities survive: a client configured before `down` still connects after `up`.
    assert Path(after["principals"]["admin"]["cert"]).read_text() == admin_cert

    consumer = Consumer({**conf, "group.id": f"{topic}-reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    msg = consumer.poll(30)
    consumer.close()
    assert msg is not None and msg.error() is None, "record not readable after restart"
    assert msg.value() == marker

    with urllib.request.urlopen(f"{web}{hdfs_file}?op=OPEN&user.name=vygoda", timeout=30) as r:
        assert r.read() == marker
    for f in admin.delete_topics([topic]).values():
        f.result()
    urllib.request.urlopen(urllib.request.Request(
        f"{web}{hdfs_file}?op=DELETE&user.name=vygoda", method="DELETE"), timeout=30)
