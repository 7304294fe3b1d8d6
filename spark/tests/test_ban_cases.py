"""The shared ban table, `tests/fixtures/ban_cases.json`, through the jobs' eligibility.

The Rust ban filter runs the same table: a ban means the same in the stream and in the
recommendations, or a product the filter let through could still be recommended (or the reverse).
Each case goes the way the job takes it: catalogue and ban records as read from the lake,
`current_catalogue`, `active_bans`, `eligible_products`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tinylake import BAN_SCHEMA, PRODUCT_SCHEMA, T0, Lake

import common

TABLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ban_cases.json"
CASES = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]


def frame(spark, topic: str, schema: str, rows: list[dict]):
    """Lake records of `topic` (offsets in row order, no tombstones), as `read_topic` returns them."""
    meta = {"_topic": topic, "_partition": 0, "_timestamp": T0, "_tombstone": False}
    struct = spark.createDataFrame([], schema).schema
    full = [{**meta, "_offset": n, **row} for n, row in enumerate(rows, 1)]
    return spark.createDataFrame([tuple(r.get(f.name) for f in struct) for r in full], struct)


def product_record(p: dict, product_id: str | None = None) -> dict:
    pid = product_id or p["product_id"]
    return Lake.product(pid, "c", brand=p["brand"], name=p["name"], description=p["description"], tags=p["tags"])


def test_case_names_are_unique():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 25


def test_every_case_product_is_eligible_without_bans(spark):
    """Otherwise a case expecting `banned` would pass for another reason (stock, a null field)."""
    rows = [product_record(c["product"], f"{n}/{c['product']['product_id']}") for n, c in enumerate(CASES)]
    catalogue = common.current_catalogue(frame(spark, "products-filtered", PRODUCT_SCHEMA, rows))
    eligible = {r.product_id for r in common.eligible_products(catalogue, None).collect()}
    assert eligible == {r["product_id"] for r in rows}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_ban_case(spark, case):
    """One case alone: its product and its ban, through the job's functions."""
    catalogue = common.current_catalogue(
        frame(spark, "products-filtered", PRODUCT_SCHEMA, [product_record(case["product"])])
    )
    ban = Lake.ban(case["ban"]["kind"], case["ban"]["value"])
    bans = common.active_bans(frame(spark, "product-bans", BAN_SCHEMA, [ban]))
    eligible = [r.product_id for r in common.eligible_products(catalogue, bans).collect()]
    assert (eligible == []) == case["banned"], case.get("note", "")
