"""vygoda's schema registry driven by a real third-party client: confluent-kafka's
SchemaRegistryClient, AvroSerializer and AvroDeserializer, over mutual TLS: each client presents
its principal's certificate from the platform CA, as on the brokers.

Also decodes bytes that Rust code (the `schema_registry_converter` crate, via the crate's
`encode_sample` example) wrote in the Confluent wire format, and the other way round.

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_schema_registry.py` (after `make up`;
a platform that is not up fails it).
"""
import json
import os
import struct
import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from platform_facts import facts

from workspace import built

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("platform")


def registry() -> tuple[str, str]:
    """The registry under test: (its URL, the CA file). VYGODA_TEST_REGISTRY_URL points the tests
    at another instance (e.g. a fresh build on 18181)."""
    spec = facts()["schema_registry"]
    return os.environ.get("VYGODA_TEST_REGISTRY_URL", spec["url"]), str(spec["ca"])

V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "vygoda.test",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "amount_cents", "type": "long", "default": 0},
    ],
}
V2 = {**V1, "fields": V1["fields"] + [{"name": "coupon", "type": ["null", "string"], "default": None}]}
BREAKING = {**V1, "fields": V1["fields"] + [{"name": "shop_id", "type": "string"}]}


def client(principal: str | None = "admin") -> SchemaRegistryClient:
    """A fresh client (fresh caches), so every call below really reaches the server; it presents
    `principal`'s certificate (None: no certificate)."""
    url, ca = registry()
    conf = {"url": url, "ssl.ca.location": ca}
    if principal:
        who = facts()["principals"][principal]
        conf["ssl.certificate.location"] = who["cert"]
        conf["ssl.key.location"] = who["key"]
    return SchemaRegistryClient(conf)


def avro(schema: dict, pretty: bool = False) -> Schema:
    return Schema(json.dumps(schema, indent=2 if pretty else None), "AVRO")


def subject() -> str:
    return f"test-{uuid.uuid4().hex}-value"


def test_register_is_idempotent_and_reads_back():
    s = subject()
    schema_id = client().register_schema(s, avro(V1))
    # Another client, other formatting: same id, still one version.
    assert client().register_schema(s, avro(V1, pretty=True)) == schema_id
    reader = client("operator")
    assert json.loads(reader.get_schema(schema_id).schema_str) == V1
    assert s in reader.get_subjects()
    assert reader.get_versions(s) == [1]
    latest = reader.get_latest_version(s)
    assert (latest.schema_id, latest.version, latest.subject) == (schema_id, 1, s)
    assert reader.get_version(s, 1).schema_id == schema_id
    found = reader.lookup_schema(s, avro(V1, pretty=True))
    assert (found.schema_id, found.version) == (schema_id, 1)
    assert reader.get_schema_types() == ["AVRO"]
    assert {"subject": s, "version": 1} in [
        {"subject": sv.subject, "version": sv.version} for sv in reader.get_schema_versions(schema_id)
    ]


def test_same_schema_under_two_subjects_has_one_id():
    marker = uuid.uuid4().hex
    schema = {**V1, "doc": marker}
    first, second = subject(), subject()
    assert client().register_schema(first, avro(schema)) == client().register_schema(second, avro(schema))
    # A different default is a different schema (identity keeps defaults), so a different id.
    changed = {**schema, "fields": V1["fields"][:2] + [{"name": "amount_cents", "type": "long", "default": 1}]}
    assert client().register_schema(first, avro(changed)) != client().register_schema(second, avro(schema))


def test_compatibility_checks_levels_and_refusal():
    s = subject()
    writer = client()
    writer.register_schema(s, avro(V1))
    assert writer.test_compatibility(s, avro(V2)) is True
    assert writer.test_compatibility(s, avro(BREAKING)) is False
    assert writer.test_compatibility(s, avro(BREAKING), version=1) is False
    assert writer.test_compatibility_all_versions(s, avro(V2)) is True
    with pytest.raises(SchemaRegistryError) as refused:
        writer.register_schema(s, avro(BREAKING))
    assert refused.value.http_status_code == 409
    assert "shop_id" in refused.value.error_message
    assert client().get_versions(s) == [1]

    assert client("operator").get_compatibility() in (
        "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
    writer.set_compatibility(s, "FULL")
    assert client().get_compatibility(s) == "FULL"
    writer.set_compatibility(s, "NONE")
    assert client().get_compatibility(s) == "NONE"
    assert client().register_schema(s, avro(BREAKING)) > 0
    assert client().get_versions(s) == [1, 2]
    with pytest.raises(SchemaRegistryError) as bad_level:
        writer.set_compatibility(s, "SIDEWAYS")
    assert bad_level.value.error_code == 42203


def test_soft_then_permanent_delete():
    s = subject()
    writer = client()
    first = writer.register_schema(s, avro(V1))
    writer.register_schema(s, avro(V2))
    assert writer.delete_version(s, 1) == 1
    assert client().get_versions(s) == [2]
    assert client().get_versions(s, deleted=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as gone:
        client().get_version(s, 1)
    assert gone.value.error_code == 40402
    assert writer.delete_subject(s) == [2]
    assert s not in client().get_subjects()
    assert s in client().get_subjects(deleted=True)
    assert writer.delete_subject(s, permanent=True) == [1, 2]
    assert s not in client().get_subjects(deleted=True)
    # Data written with the id stays decodable: the id still resolves.
    assert json.loads(client().get_schema(first).schema_str) == V1


def test_callers_are_their_certificates_and_may_do_what_the_acl_table_grants():
    s = subject()
    # No certificate: the TLS handshake fails, nothing is answered.
    with pytest.raises(Exception) as anonymous:
        client(None).get_subjects()
    assert not isinstance(anonymous.value, SchemaRegistryError), anonymous.value
    assert "certificate" in str(anonymous.value).lower() or "handshake" in str(anonymous.value).lower() \
        or "ssl" in str(anonymous.value).lower(), anonymous.value
    # shop-api registers under the topics it may write (here the local test namespace), not
    # under another service's topic, and administers nothing.
    shop = client("shop-api")
    assert shop.register_schema(s, avro(V1)) > 0
    with pytest.raises(SchemaRegistryError) as foreign_topic:
        shop.register_schema("client-events-value", avro(V1))
    assert (foreign_topic.value.http_status_code, foreign_topic.value.error_code) == (403, 40301)
    assert "shop-api" in foreign_topic.value.error_message
    for change in (lambda c: c.set_compatibility(s, "NONE"), lambda c: c.delete_subject(s)):
        with pytest.raises(SchemaRegistryError) as refused:
            change(shop)
        assert refused.value.http_status_code == 403
    # operator reads everything and changes nothing.
    reader = client("operator")
    assert s in reader.get_subjects()
    with pytest.raises(SchemaRegistryError) as read_only:
        reader.set_compatibility(s, "NONE")
    assert read_only.value.http_status_code == 403
    assert client().get_versions(s) == [1]
    with pytest.raises(SchemaRegistryError) as unset:
        client().get_compatibility(s)
    assert unset.value.error_code == 40408, "no level was set on the subject"


def test_avro_serializer_and_deserializer_round_trip():
    topic = f"test-{uuid.uuid4().hex}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(client(), json.dumps(V2))
    record = {"order_id": "o-1", "placed_at": 1_700_000_000_000, "amount_cents": 129_900, "coupon": "SALE"}
    payload = serializer(record, ctx)
    magic, schema_id = struct.unpack(">bI", payload[:5])
    assert magic == 0
    assert client().lookup_schema(f"{topic}-value", avro(V2)).schema_id == schema_id
    decoded = AvroDeserializer(client("operator"))(payload, ctx)
    assert decoded["order_id"] == "o-1" and decoded["amount_cents"] == 129_900 and decoded["coupon"] == "SALE"
    assert int(decoded["placed_at"].timestamp() * 1000) == record["placed_at"]


def run_sample(*args: str) -> str:
    """The Rust example (schema_registry_converter) against the platform registry."""
    (url, ca), admin = registry(), facts()["principals"]["admin"]
    command = [str(built("examples", "encode_sample")),
               args[0], "--url", url, "--ca", ca, "--cert", admin["cert"], "--key", admin["key"], *args[1:]]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_bytes_written_by_rust_decode_in_python_and_back(tmp_path):
    s = subject()
    out = tmp_path / "rust.bin"
    written = json.loads(run_sample("encode", "--subject", s, "--out", str(out)))
    payload = out.read_bytes()
    assert payload[0] == 0
    (schema_id,) = struct.unpack(">I", payload[1:5])
    assert client().get_latest_version(s).schema_id == schema_id
    topic = s.removesuffix("-value")
    decoded = AvroDeserializer(client("operator"))(payload, SerializationContext(topic, MessageField.VALUE))
    assert decoded == written

    # Python writes with the same subject; Rust decodes it.
    schema_str = client().get_schema(schema_id).schema_str
    record = {**written, "id": 7, "note": None, "tags": []}
    python_bytes = AvroSerializer(client(), schema_str)(record, SerializationContext(topic, MessageField.VALUE))
    back = tmp_path / "python.bin"
    back.write_bytes(python_bytes)
    assert json.loads(run_sample("decode", "--input", str(back))) == record
