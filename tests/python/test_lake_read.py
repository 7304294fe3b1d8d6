"""The lake as its readers see it: records produced with a third-party client (confluent-kafka's
AvroSerializer), written by the real `lake-writer` binary, read back with pyarrow and Spark.

Checks: every produced (partition, offset) exactly once (offsets from the producer's own
delivery reports), Hive partition discovery (`date`, `hour`), nested Avro types as Parquet
types, tombstones as `_tombstone` rows, undecodable records in the dead-letter NDJSON, complete
manifests + `_SUCCESS`, Spark reading the same lake from file:// and hdfs://, and a person
walking it in the NameNode's file browser (headless Chromium, screenshots kept).

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_lake_read.py` (after `make up`; a
platform that is not up fails it).
"""
import base64
import decimal
import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import requests
from browser import render, screenshot
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from platform_facts import FILE as PLATFORM_FILE
from platform_facts import facts

from workspace import built

REPO = Path(__file__).resolve().parents[2]
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
    platform = facts()
    conf = dict(platform["principals"][principal]["kafka"])
    conf["bootstrap.servers"] = platform["clusters"]["analytics"]["bootstrap"]
    return conf


@pytest.fixture(scope="module")
def binary():
    return built("bins", "lake-writer")


@pytest.fixture(scope="module")
def topic(platform):
    """A fresh 3-partition topic with N products (every 10th a tombstone, 2 undecodable),
    produced by confluent-kafka; yields (name, {(partition, offset): kind})."""
    name = f"test-lake-read-{uuid.uuid4().hex[:12]}"
    admin = AdminClient(kafka("admin"))
    admin.create_topics([NewTopic(name, 3, 3)])[name].result()
    admin_principal = platform["principals"]["admin"]
    registry = SchemaRegistryClient({"url": platform["schema_registry"]["url"],
                                     "ssl.ca.location": str(platform["schema_registry"]["ca"]),
                                     "ssl.certificate.location": admin_principal["cert"],
                                     "ssl.key.location": admin_principal["key"]})
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


@pytest.fixture(scope="module")
def hdfs_lake(platform, binary, topic):
    """The same topic written by the lake writer to HDFS; yields its folder's path in HDFS."""
    name, _ = topic
    run_writer(binary, name, f"{platform['hdfs']['url']}/test/{name}")
    yield f"/test/{name}"
    requests.delete(f"{platform['hdfs']['webhdfs']}/test/{name}",
                    params={"op": "DELETE", "recursive": "true", "user.name": "vygoda"}, timeout=30)


def webhdfs_list(path):
    r = requests.get(f"{facts()['hdfs']['webhdfs']}{path}", params={"op": "LISTSTATUS"}, timeout=10)
    r.raise_for_status()
    return {f["pathSuffix"]: f for f in r.json()["FileStatuses"]["FileStatus"]}


def test_namenode_file_browser_lists_the_committed_parquet(platform, hdfs_lake, topic):
    """A person walks the lake in the NameNode UI: topic -> date -> hour, and sees the files."""
    name, _ = topic
    topic_dir = f"{hdfs_lake}/{name}"
    date = next(d for d in webhdfs_list(topic_dir) if d.startswith("date="))
    hour = sorted(h for h in webhdfs_list(f"{topic_dir}/{date}") if h.startswith("hour="))[0]
    folder = f"{topic_dir}/{date}/{hour}"
    committed = sorted(f for f in webhdfs_list(folder) if f.endswith(".parquet"))
    assert committed, f"the lake writer committed no Parquet file under {folder}"

    url = f"{platform['hdfs']['explorer']}#{folder}"
    dom = render(url)
    listed = set(re.findall(r'class="explorer-browse-links"[^>]*>([^<{]+)</a>', dom))
    assert set(committed) <= listed, (f"the file browser at {url} shows {sorted(listed)}", committed)
    assert {"_SUCCESS", "_manifest.json"} <= listed, sorted(listed)
    screenshot(url, "hdfs-explorer-hour")

    # One level up, the date folder lists its hours as folders to click.
    dom = render(f"{platform['hdfs']['explorer']}#{topic_dir}/{date}")
    assert f'inode-type="DIRECTORY" class="explorer-browse-links">{hour}</a>' in dom


def test_hdfs_shell_lists_the_lake(hdfs_lake, topic):
    """`.vygoda/bin/hdfs dfs`, Hadoop's own shell, sees what WebHDFS sees."""
    name, _ = topic
    shell = REPO / ".vygoda" / "bin" / "hdfs"
    proc = subprocess.run([str(shell), "dfs", "-ls", "-R", f"{hdfs_lake}/{name}"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = {line.rsplit("/", 1)[-1] for line in proc.stdout.splitlines()}
    parquet = {f for f in listed if f.endswith(".parquet")}
    assert len(parquet) >= 2 and "_SUCCESS" in listed, proc.stdout


def test_namenode_overview_shows_the_live_datanode(platform):
    url = f"{platform['hdfs']['namenode_http']}/dfshealth.html#tab-datanode"
    dom = render(url)
    assert "127.0.0.1:9866" in dom, "the DataNodes tab names no live DataNode"
    assert "In Service" in dom
    screenshot(url, "hdfs-datanodes")


def test_spark_reads_the_lake_from_file_and_hdfs(platform, lake, hdfs_lake, topic):
    name, delivered = topic
    hdfs_root = f"{platform['hdfs']['url']}{hdfs_lake}"
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
    proc = subprocess.run([platform["spark"]["python"], "-c", script], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    expected = sum(1 for kind in delivered.values() if kind != "bad")
    for where in ("file", "hdfs"):
        r = result[where]
        assert r["rows"] == r["distinct"] == expected, (where, r)
        assert "date" in r["columns"] and "hour" in r["columns"]
        assert r["tombstones"] == sum(1 for k in delivered.values() if k == "tombstone")
        assert r["shop_names"] == 17
