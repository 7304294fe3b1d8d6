"""A tiny lake for the Spark tests: the jobs' lake layout written from Python rows, and the
schemas the lake writer gives each topic. (Helpers live here, not in conftest.py: test modules
import them, and `conftest` is a module name the platform suites' conftest.py shares.)"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

JOBS_DIR = Path(__file__).resolve().parents[1] / "jobs"
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
if str(JOBS_DIR) not in sys.path:
    sys.path.insert(0, str(JOBS_DIR))  # the job modules, as --py-files puts them on a cluster

META = "_topic string, _partition int, _offset bigint, _timestamp timestamp, _key string, _tombstone boolean"
EVENT_SCHEMA = (
    f"{META}, event_id string, user_id string, session_id string, event_type string, product_id string, query string, "
    "rating int, ts timestamp"
)
PRODUCT_SCHEMA = (
    f"{META}, product_id string, name string, description string, tags array<string>, "
    "price struct<amount:decimal(12,2),currency:string>, "
    "category string, brand string, stock struct<available:int,reserved:int>, sku string, store_id string"
)
BAN_SCHEMA = f"{META}, kind string, value string, reason string, added_by string, added_at timestamp"

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Lake:
    """Writes topic rows as the lake writer does: one directory per hour, `_manifest.json` when
    the hour is complete. Offsets grow in call order so "latest per key" is well defined."""

    def __init__(self, spark, root: Path):
        self.spark, self.root, self.offset = spark, root, 0

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def write(self, topic: str, schema: str, rows: list[dict], hour: datetime = T0, complete=True,
              manifest: dict | None = None):
        full = []
        for row in rows:
            self.offset += 1
            meta = {
                "_topic": topic, "_partition": 0, "_offset": self.offset, "_timestamp": hour,
                "_tombstone": False,
            }
            full.append({**meta, **row})
        df = self.spark.createDataFrame(
            [tuple(r.get(f.name) for f in self.spark.createDataFrame([], schema).schema) for r in full],
            schema,
        )
        hour_dir = self.root / topic / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        df.write.mode("append").parquet(str(hour_dir))
        if complete:
            body = {"complete": True, "topic": topic, **(manifest or {})}
            (hour_dir / "_manifest.json").write_text(json.dumps(body))
        return hour_dir

    @staticmethod
    def product(pid, category, brand="acme", available=10, reserved=0, **extra):
        return {
            "_key": pid, "product_id": pid, "name": pid, "category": category, "brand": brand,
            "price": {"amount": Decimal("9.99"), "currency": "RUB"},
            "stock": {"available": available, "reserved": reserved}, "sku": f"sku-{pid}", "store_id": "s1",
            **extra,
        }

    @staticmethod
    def tombstone(key):
        return {"_key": key, "_tombstone": True}

    @staticmethod
    def event(user, event_type, product=None, minute=0, **extra):
        return {
            "_key": user, "event_id": str(uuid.uuid4()), "user_id": user, "session_id": f"{user}-s",
            "event_type": event_type,
            "product_id": product, "ts": T0 + timedelta(minutes=minute), **extra,
        }

    @staticmethod
    def ban(kind, value):
        return {"_key": f"{kind}:{value}", "kind": kind, "value": value, "reason": "test",
                "added_by": "tester", "added_at": T0}
