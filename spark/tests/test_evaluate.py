"""Ranking metrics on a hand-computed example and the hold-out split."""

from __future__ import annotations

import math

import evaluate
import pytest
from tinylake import EVENT_SCHEMA, Lake


def test_metrics_match_a_hand_computed_example(spark):
    recs = spark.createDataFrame(
        [("A", 1, "x"), ("A", 2, "y"), ("A", 3, "z"),
         ("B", 1, "q"), ("B", 2, "r"), ("B", 3, "s"), ("B", 4, "t"),
         ("D", 1, "x")],
        "user_id string, rank int, product_id string",
    )
    relevant = spark.createDataFrame(
        [("A", "y"), ("A", "w"), ("B", "q"), ("B", "t"), ("C", "m")], "user_id string, product_id string"
    )
    m = evaluate.ranking_metrics(recs, relevant, 3)
    # A: hit at rank 2 of 2 relevant; B: hit at rank 1 (t at rank 4 is past k); C: no recs at all;
    # D has nothing relevant and is not evaluated.
    idcg2 = 1 + 1 / math.log2(3)
    ndcg_a, ndcg_b = (1 / math.log2(3)) / idcg2, 1 / idcg2
    assert m["users"] == 3
    assert m["precision@3"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert m["recall@3"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert m["ndcg@3"] == pytest.approx((ndcg_a + ndcg_b + 0) / 3)
    assert m["ndcg@3"] == pytest.approx(1 / 3)


def test_perfect_ranking_scores_one(spark):
    recs = spark.createDataFrame([("A", 1, "x"), ("A", 2, "y")], "user_id string, rank int, product_id string")
    relevant = spark.createDataFrame([("A", "x"), ("A", "y")], "user_id string, product_id string")
    m = evaluate.ranking_metrics(recs, relevant, 2)
    assert (m["precision@2"], m["recall@2"], m["ndcg@2"]) == (1.0, 1.0, 1.0)


def test_holdout_takes_each_users_latest_events(spark):
    rows = [Lake.event("long", "view", f"p{i}", minute=i) for i in range(1, 11)]
    rows.append(Lake.event("long", "purchase", "p9", minute=0))  # bought before: not relevant
    rows.append(Lake.event("long", "search", None, minute=11, query="x"))
    rows += [Lake.event("short", "view", f"p{i}", minute=i) for i in range(1, 4)]
    meta = {"_topic": "client-events", "_partition": 0, "_timestamp": None, "_tombstone": False}
    full = [{**meta, "_offset": n, **r} for n, r in enumerate(rows)]
    schema = spark.createDataFrame([], EVENT_SCHEMA).schema
    events = spark.createDataFrame([tuple(r.get(f.name) for f in schema) for r in full], schema)

    train, relevant = evaluate.split_holdout(events, fraction=0.2, min_events=5)
    # "long" has 11 product events: the latest 2 (p10, p9) are held out, p9 was bought already.
    assert {(r.user_id, r.product_id) for r in relevant.collect()} == {("long", "p10")}
    assert train.count() == len(rows) - 2
    assert train.where("user_id = 'short'").count() == 3


def test_flatten_for_the_publisher():
    flat = evaluate.flatten({"k": 10, "als": {"ndcg@10": 0.5, "users": 3}, "note": "x"})
    assert flat == {"k": 10.0, "als.ndcg@10": 0.5, "als.users": 3.0}
