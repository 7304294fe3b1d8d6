#!/usr/bin/env python3
"""Baseline for benches/lake_bench.sh: the lake writer's job done the usual Python way.

confluent-kafka consumes every partition of a topic from the beginning up to the high
watermarks seen at start, fastavro decodes the Confluent wire format with schemas fetched from
the registry (cached by id), pyarrow writes zstd Parquet files per (partition, hour) with the
same Kafka metadata columns, written to a temporary name and renamed. Files close on a record
count. No crash recovery, manifests or dead letters: it is the fast path only, so the
comparison flatters Python.

  python_lake_writer.py --platform .vygoda/platform.json --topic T --out /tmp/lake
"""
import argparse
import io
import json
import os
import struct
import time
import uuid
from collections import defaultdict
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import requests
from confluent_kafka import Consumer, TopicPartition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platform", default=".vygoda/platform.json")
    ap.add_argument("--cluster", default="analytics")
    ap.add_argument("--principal", default="lake-writer")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--out", required=True, help="local lake root directory")
    ap.add_argument("--max-file-records", type=int, default=1_000_000)
    args = ap.parse_args()

    platform = json.loads(Path(args.platform).read_text())
    conf = dict(platform["principals"][args.principal]["kafka"])
    conf.update({
        "bootstrap.servers": platform["clusters"][args.cluster]["bootstrap"],
        "group.id": "python-lake-writer-bench",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    registry = platform["schema_registry"]
    session = requests.Session()
    session.verify = str(registry["ca"])
    who = platform["principals"][args.principal]
    session.auth = (who["username"], who["password"])
    schemas = {}

    def schema(schema_id):
        if schema_id not in schemas:
            # verify per request: a REQUESTS_CA_BUNDLE in the environment would override session.verify
            r = session.get(f"{registry['url']}/schemas/ids/{schema_id}", verify=str(registry["ca"]),
                            timeout=10)
            r.raise_for_status()
            schemas[schema_id] = fastavro.parse_schema(json.loads(r.json()["schema"]))
        return schemas[schema_id]

    consumer = Consumer(conf)
    md = consumer.list_topics(args.topic, timeout=30).topics[args.topic]
    targets = {}
    for p in md.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=30)
        if high > low:
            targets[p] = high
    consumer.assign([TopicPartition(args.topic, p, 0) for p in md.partitions])

    buffers = defaultdict(list)  # (partition, hour) -> rows
    written = 0

    def flush(key):
        nonlocal written
        rows = buffers.pop(key, None)
        if not rows:
            return
        partition, hour = key
        day = time.strftime("%Y-%m-%d", time.gmtime(hour * 3600))
        hh = time.strftime("%H", time.gmtime(hour * 3600))
        directory = Path(args.out) / args.topic / f"date={day}" / f"hour={hh}"
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{args.topic}+{partition}+{rows[0]['_offset']:020d}+{rows[-1]['_offset']:020d}.parquet"
        tmp = directory / f".{name}.{uuid.uuid4().hex[:12]}.inprogress"
        pq.write_table(pa.Table.from_pylist(rows), tmp, compression="zstd")
        os.rename(tmp, directory / name)
        written += len(rows)

    while targets:
        for msg in consumer.consume(num_messages=1000, timeout=1.0):
            if msg.error():
                continue
            p, off = msg.partition(), msg.offset()
            ts_type, ts = msg.timestamp()
            payload = msg.value()
            row = None
            if payload is None:
                row = {"_tombstone": True}
            elif len(payload) > 5 and payload[0] == 0:
                (schema_id,) = struct.unpack(">I", payload[1:5])
                writer_schema = schema(schema_id)  # a registry failure stops the run, loudly
                try:
                    row = fastavro.schemaless_reader(io.BytesIO(payload[5:]), writer_schema)
                    row["_tombstone"] = False
                except Exception:  # noqa: BLE001 - the baseline drops what it cannot decode
                    row = None
            if row is not None:
                key = msg.key()
                row.update({"_topic": msg.topic(), "_partition": p, "_offset": off,
                            "_timestamp": ts, "_key": key.decode() if key else None})
                hour = (ts if ts > 0 else int(time.time() * 1000)) // 3_600_000
                buffers[(p, hour)].append(row)
                if len(buffers[(p, hour)]) >= args.max_file_records:
                    flush((p, hour))
            if p in targets and off + 1 >= targets[p]:
                del targets[p]
    for key in list(buffers):
        flush(key)
    consumer.close()
    print(json.dumps({"records": written}))


if __name__ == "__main__":
    main()
