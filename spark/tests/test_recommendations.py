"""The recommendations job end to end on a tiny lake: exclusions, cold users, output files."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import recommendations
from tinylake import BAN_SCHEMA, EVENT_SCHEMA, PRODUCT_SCHEMA, T0, Lake

PHONES = [f"p{i}" for i in range(1, 9)]
BOOKS = [f"b{i}" for i in range(1, 7)]
TOP_N = 5


def build_lake(spark, root) -> Lake:
    lake = Lake(spark, root)
    products = [lake.product(p, "phones", brand="Bad  Brand" if p == "p3" else "acme") for p in PHONES]
    products[1] = lake.product("p2", "phones", name="Phone (REFURBISHED!)")
    products[4] = lake.product("p5", "phones", available=3, reserved=3)  # nothing left to sell
    products += [lake.product(b, "books") for b in BOOKS]
    lake.write("products-filtered", PRODUCT_SCHEMA, products)
    # p4 delisted later (its latest record is a tombstone); an incomplete hour must be ignored.
    lake.write("products-filtered", PRODUCT_SCHEMA, [lake.tombstone("p4")], hour=T0 + timedelta(hours=1))
    lake.write("products-filtered", PRODUCT_SCHEMA, [lake.tombstone("p7")], hour=T0 + timedelta(hours=2),
               complete=False)
    lake.write("product-bans", BAN_SCHEMA, [
        lake.ban("brand", " bad brand"), lake.ban("word", "Refurbished"), lake.ban("product_id", "b6"),
    ])
    lake.write("product-bans", BAN_SCHEMA, [lake.tombstone("product_id:b6")], hour=T0 + timedelta(hours=1))

    events, minute = [], 0
    for u in range(1, 7):
        user = f"u{u}"
        # Everybody likes the phones that end up banned, delisted or out of stock: the filter
        # (not a lack of signal) must be what keeps them out.
        for p in ("p2", "p3", "p4", "p5", "p1", "p6", "p7", "p8")[: 4 + u % 4]:
            minute += 1
            events.append(lake.event(user, "view", p, minute))
            events.append(lake.event(user, "add_to_cart", p, minute))
        events.append(lake.event(user, "search", None, minute, query="phone"))
    for p in ("p1", "p6"):
        minute += 1
        events.append(lake.event("u1", "purchase", p, minute))
    # Book popularity among other users: b2 > b3 > b6 > others.
    for user, books in (("r1", ["b2", "b3", "b6"]), ("r2", ["b2", "b3"]), ("r3", ["b2"])):
        for b in books:
            minute += 1
            events.append(lake.event(user, "purchase", b, minute))
    events.append(lake.event("cold", "view", "b1", minute + 1))
    lake.write("client-events", EVENT_SCHEMA, events)
    return lake


@pytest.fixture(scope="module")
def run_output(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("recs")
    lake = build_lake(spark, root / "lake")
    args = recommendations.parse_args([
        "--lake-root", lake.url, "--output-root", (root / "out").as_uri(), "--run-id", "t-1",
        "--top-n", str(TOP_N), "--rank", "4", "--max-iter", "3", "--candidates", "20",
        "--evaluate-k", "3", "--holdout-min-events", "4",
    ])
    summary = recommendations.run(spark, args)
    out = root / "out" / "recommendations" / "run_id=t-1"
    rows = [r.asDict() for r in spark.read.parquet(str(out / "*.parquet")).collect()]
    return summary, out, rows


def recs_of(rows, user):
    return [r["product_id"] for r in sorted((r for r in rows if r["user_id"] == user), key=lambda r: r["rank"])]


def test_never_recommends_banned_delisted_or_out_of_stock(run_output):
    _, _, rows = run_output
    recommended = {r["product_id"] for r in rows}
    # p2: banned word in its name, p3: banned brand, p4: delisted, p5: all stock reserved.
    assert recommended.isdisjoint({"p2", "p3", "p4", "p5"})
    # p7's tombstone sits in an incomplete hour, b6's ban was lifted: both stay eligible.
    assert "p7" in recommended
    assert "b6" in recommended


def test_never_recommends_what_the_user_bought(run_output):
    _, _, rows = run_output
    assert set(recs_of(rows, "u1")).isdisjoint({"p1", "p6"})
    assert {"p1", "p6"} & set(recs_of(rows, "u2")), "others may still get p1/p6"


def test_cold_user_gets_popular_products_of_preferred_category(run_output):
    _, _, rows = run_output
    cold = [r for r in rows if r["user_id"] == "cold"]
    assert {r["model"] for r in cold} == {"popularity"}
    assert recs_of(rows, "cold")[:3] == ["b2", "b3", "b6"]


def test_warm_users_get_als_and_every_user_gets_top_n(run_output):
    _, _, rows = run_output
    users = {r["user_id"] for r in rows}
    assert users == {f"u{i}" for i in range(1, 7)} | {"r1", "r2", "r3", "cold"}
    for user in users:
        ranks = sorted(r["rank"] for r in rows if r["user_id"] == user)
        assert ranks == list(range(1, TOP_N + 1)), user
    assert any(r["model"] == "als" for r in rows if r["user_id"] == "u2")


def test_writes_markers_with_watermarks_and_metrics(run_output):
    summary, out, rows = run_output
    success = json.loads((out / "_SUCCESS").read_text())
    assert success["run_id"] == "t-1" and success["rows"] == len(rows) == summary["rows"]
    assert success["completed_at"].endswith("+00:00")
    inputs = json.loads((out / "inputs.json").read_text())
    products = inputs["topics"]["products-filtered"]
    assert products["hours"] == 2
    assert products["skipped_incomplete"] == ["date=2026-01-01/hour=02"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["als"]) == {"users", "precision@3", "recall@3", "ndcg@3"}
    assert metrics["als"]["users"] == metrics["popularity"]["users"] > 0


def test_evaluate_only_writes_just_the_metrics(spark, tmp_path):
    lake = build_lake(spark, tmp_path / "lake")
    args = recommendations.parse_args([
        "--lake-root", lake.url, "--output-root", (tmp_path / "out").as_uri(), "--run-id", "e-1",
        "--rank", "4", "--max-iter", "3", "--candidates", "20",
        "--evaluate-k", "3", "--holdout-min-events", "4", "--evaluate-only",
    ])
    metrics = recommendations.run(spark, args)
    out = tmp_path / "out" / "recommendations" / "run_id=e-1"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["metrics.json"]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["k"] == 3 and metrics["als"]["users"] == metrics["popularity"]["users"] > 0


def test_evaluate_only_needs_a_cutoff():
    with pytest.raises(SystemExit) as exit_:
        recommendations.parse_args([
            "--lake-root", "file:///x", "--output-root", "file:///y", "--run-id", "r",
            "--evaluate-k", "0", "--evaluate-only",
        ])
    assert exit_.value.code == 2
