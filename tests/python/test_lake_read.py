"""The lake as its readers see it: records produced with a third-party client (confluent-kafka's
AvroSerializer), written by the real `lake-writer` binary, read back with pyarrow and Spark.

Checks: every produced (partition, offset) exactly once (offsets from the producer's own
delivery reports), Hive partition discovery (`date`, `hour`), nested Avro types as Parquet
types, tombstones as `_tombstone` rows, undecodable records in the dead-letter NDJSON, complete
manifests + `_SUCCESS`, and Spark reading the same lake from file:// and hdfs://.

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_lake_read.py`. Skipped only when
`.vygoda/platform.json` is absent; a platform that is down fails.
"""
import base64
import decimal
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLATFORM_FILE = REPO / ".vygoda" / "platform.json"

if not PLATFORM_FILE.exists():
    pytest.skip(f"{PLATFORM_FILE} is absent: run `make up`", allow_module_level=True)

import pyarrow as pa  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import requests  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.avro import AvroSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402

from workspace import built  # noqa: E402

PLATFORM = json.loads(PLATFORM_FILE.read_text())
ADMIN = PLATFORM["principals"]["admin"]
N = 1200
SCHEMA = {
    "type": "record", "name": "Product", "namespace": "vygoda.test", "fields": [
        {"name": "product_id", "type": "string"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "shop", "type": ["null", {"type": "record", "name": "Shop", "fields": [
            {"name": "id", "type": "int"}, {"name": "name", "type": "string"}]}], "default": None},
        {"name": "updated_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "HIDDEN"]}},
    ]}


def kafka(principal):
    conf = dict(PLATFORM["principals"][principal]["kafka"])
    conf["bootstrap.servers"] = PLATFORM["clusters"]["analytics"]["bootstrap"]
    return conf


@pytest.fixture(scope="module")
def binary():
    return built("bins", "lake-writer")


@pytest.fixture(scope="module")
def topic():
    """A fresh 3-partition topic with N products (every 10th a tombstone, 2 undecodable),
    produced by confluent-kafka; yields (name, {(partition, offset): kind})."""
    name = f"test-lake-read-{uuid.uuid4().hex[:12]}"
    admin = AdminClient(kafka("admin"))
    admin.create_topics([NewTopic(name, 3, 3)])[name].result()
    registry = SchemaRegistryClient({"url": PLATFORM["schema_registry"]["url"],
                                     "ssl.ca.location": str(PLATFORM["schema_registry"]["ca"]),
                                     "ssl.certificate.location": ADMIN["cert"],
                                     "ssl.key.location": ADMIN["key"]})
    serialize = AvroSerializer(registry, json.dumps(SCHEMA))
    ctx = SerializationContext(name, MessageField.VALUE)
    producer = Producer({**kafka("admin"), "enable.idempotence": True})
    delivered = {}
    # Record times spread over the two whole hours that ended at least an hour ago, so both hours
    # are past the writer's lateness and must come out complete.
    hour_ms = 3_600_000
    first_ms = (int(time.time() * 1000) // hour_ms - 3) * hour_ms

    def report(kind):
        def cb(err, msg):
            assert err is None, err
            delivered[(msg.partition(), msg.offset())] = kind
        return cb

    for i in range(N):
        key = f"prod-{i % 300}".encode()
        at = {"timestamp": first_ms + i * (2 * hour_ms // N)}
        if i % 10 == 9:
            producer.produce(name, None, key, on_delivery=report("tombstone"), **at)
        elif i in (100, 700):
            producer.produce(name, b"\x01garbage", key, on_delivery=report("bad"), **at)
        else:
            value = {"product_id": f"prod-{i % 300}", "price": decimal.Decimal(i) / 100,
                     "tags": [f"t{i % 4}"], "attrs": {"stock": i}, "updated_at": 1_700_000_000_000 + i,
                     "shop": None if i % 3 == 0 else {"id": i % 17, "name": f"shop {i % 17}"},
                     "status": "ACTIVE" if i % 2 else "HIDDEN"}
            producer.produce(name, serialize(value, ctx), key, on_delivery=report("value"), **at)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert len(delivered) == N
    yield name, delivered
    admin.delete_topics([name])


def run_writer(binary, topic_name, lake_root):
    proc = subprocess.run(
        [str(binary), "--platform", str(PLATFORM_FILE), "--topics", topic_name,
         "--lake-root", lake_root, "--until-caught-up", "--metrics-addr", "127.0.0.1:0",
         "--max-file-records", "250"],
        cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def lake(binary, topic, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    run_writer(binary, topic[0], f"file://{root}")
    return root


def test_pyarrow_reads_every_record_exactly_once(lake, topic):
    name, delivered = topic
    table = ds.dataset(lake / name, format="parquet", partitioning="hive").to_table()
    rows = list(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist(), strict=True))
    assert len(rows) == len(set(rows)), "duplicates"
    expected = {k for k, kind in delivered.items() if kind != "bad"}
    assert set(rows) == expected
    assert {"date", "hour"} <= set(table.column_names), "hive partitions discovered"

    schema = table.schema
    assert schema.field("price").type == pa.decimal128(12, 2)
    assert schema.field("tags").type == pa.list_(pa.field("element", pa.string(), nullable=False))
    assert pa.types.is_map(schema.field("attrs").type)
    assert pa.types.is_struct(schema.field("shop").type)
    assert schema.field("updated_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("_timestamp").type == pa.timestamp("ms", tz="UTC")

    tomb = table.filter(ds.field("_tombstone"))
    assert tomb.num_rows == sum(1 for kind in delivered.values() if kind == "tombstone")
    assert tomb["product_id"].null_count == tomb.num_rows
    values = table.filter(~ds.field("_tombstone")).to_pylist()
    row = next(r for r in values if r["shop"] is not None)
    i = int(row["attrs"][0][1])
    assert row["price"] == decimal.Decimal(i) / 100
    assert row["shop"] == {"id": i % 17, "name": f"shop {i % 17}"}


def test_dead_letters_keep_the_raw_record(lake, topic):
    name, delivered = topic
    lines = [json.loads(line) for f in (lake / "_dead_letter" / name).glob("*.ndjson")
             for line in f.read_text().splitlines()]
    assert {(d["partition"], d["offset"]) for d in lines} == {k for k, v in delivered.items() if v == "bad"}
    assert all(base64.b64decode(d["value_base64"]) == b"\x01garbage" for d in lines)
    assert all("magic" in d["reason"] for d in lines)


def test_hours_are_complete_with_manifest_and_success(lake, topic):
    name, _ = topic
    hours = {p.parent for p in (lake / name).rglob("*.parquet")}
    assert len(hours) == 2, hours
    for hour in hours:
        manifest = json.loads((hour / "_manifest.json").read_text())
        assert manifest["complete"] is True, manifest
        assert (hour / "_SUCCESS").exists()
        assert set(manifest["offsets"]) == {"0", "1", "2"}
    assert not [p for p in (lake / name).rglob(".*")], "no temporaries left"


def test_spark_reads_the_lake_from_file_and_hdfs(binary, lake, topic):
    name, delivered = topic
    hdfs_root = f"{PLATFORM['hdfs']['url']}/test/{name}"
    run_writer(binary, name, hdfs_root)
    script = f"""
import json
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").appName("lake-read-test").getOrCreate()
out = {{}}
for where, path in (("file", "file://{lake}/{name}"), ("hdfs", "{hdfs_root}/{name}")):
    df = spark.read.parquet(path)
    out[where] = {{
        "rows": df.count(),
        "distinct": df.select("_partition", "_offset").distinct().count(),
        "columns": df.columns,
        "tombstones": df.filter("_tombstone").count(),
        "shop_names": df.filter("shop is not null").select("shop.name").distinct().count(),
    }}
print("RESULT " + json.dumps(out))
spark.stop()
"""
    proc = subprocess.run([PLATFORM["spark"]["python"], "-c", script], capture_output=True,
                          text=True, timeout=600)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(next(line for line in proc.stdout.splitlines()
                                 if line.startswith("RESULT "))[7:])
        expected = sum(1 for kind in delivered.values() if kind != "bad")
        for where in ("file", "hdfs"):
            r = result[where]
            assert r["rows"] == r["distinct"] == expected, (where, r)
            assert "date" in r["columns"] and "hour" in r["columns"]
            assert r["tombstones"] == sum(1 for k in delivered.values() if k == "tombstone")
            assert r["shop_names"] == 17
    finally:
        requests.delete(f"{PLATFORM['hdfs']['webhdfs']}/test/{name}",
                        params={"op": "DELETE", "recursive": "true", "user.name": "vygoda"}, timeout=30)
