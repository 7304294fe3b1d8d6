"""Hold-out evaluation of the recommender: precision@k, recall@k and NDCG@k for ALS and popularity.

Each user's last events (by time) are held out; both models are trained on the rest and judged on
whether they recommend the products the user went on to view, put in the cart or buy. The
recommendations job calls `evaluate()` with its own `recommend` before training on everything
(`recommendations.py --evaluate-only` runs the evaluation alone and writes just ``metrics.json``).

The model comes in as a function, so this module imports no other job module and the dependency
runs one way: recommendations -> evaluate.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

POSITIVE_EVENTS = ("view", "add_to_cart", "purchase")


def add_holdout_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--holdout-fraction", type=float, default=0.2,
                        help="share of each user's latest product events held out")
    parser.add_argument("--holdout-min-events", type=int, default=5,
                        help="users with fewer product events are not evaluated")


def split_holdout(events: DataFrame, fraction: float, min_events: int) -> tuple[DataFrame, DataFrame]:
    """(training events, relevant (user_id, product_id)): the latest `fraction` of each user's
    product events form the tail; relevant items are the tail's positive products the user had not
    already bought in training (the recommender may not return those)."""
    tagged = events.withColumn("_eid", F.monotonically_increasing_id()).cache()
    product_events = tagged.where(F.col("product_id").isNotNull() & F.col("user_id").isNotNull())
    order = [F.desc("ts")] + ([F.desc("_offset")] if "_offset" in events.columns else []) + [F.desc("_eid")]
    w_user = Window.partitionBy("user_id")
    held = (
        product_events.withColumn("_n", F.count("*").over(w_user))
        .withColumn("_pos", F.row_number().over(w_user.orderBy(*order)))
        .withColumn("_tail", F.greatest(F.lit(1), F.floor(F.col("_n") * F.lit(fraction))))
        .where((F.col("_n") >= min_events) & (F.col("_pos") <= F.col("_tail")))
        .drop("_n", "_pos", "_tail")
    )
    train = tagged.join(held.select("_eid"), "_eid", "left_anti").drop("_eid")
    bought = train.where(F.col("event_type") == "purchase").select("user_id", "product_id")
    relevant = (
        held.where(F.col("event_type").isin(*POSITIVE_EVENTS))
        .select("user_id", "product_id")
        .distinct()
        .join(bought, ["user_id", "product_id"], "left_anti")
    )
    return train, relevant


def ranking_metrics(recs: DataFrame, relevant: DataFrame, k: int) -> dict:
    """Mean precision@k, recall@k and NDCG@k (binary relevance) over users with relevant items.

    A user without any recommendation scores 0, so a model cannot win by staying silent."""
    top = recs.where(F.col("rank") <= k).select("user_id", "product_id", "rank")
    rel = relevant.withColumn("rel", F.lit(1))
    hits = top.join(rel, ["user_id", "product_id"]).groupBy("user_id").agg(
        F.count("*").alias("hits"), F.sum(1.0 / F.log2(F.col("rank") + 1)).alias("dcg")
    )
    per_user = (
        relevant.groupBy("user_id").agg(F.count("*").alias("n_rel"))
        .join(hits, "user_id", "left")
        .fillna(0, ["hits"])
        .fillna(0.0, ["dcg"])
        .withColumn("m", F.least(F.col("n_rel"), F.lit(k)))
        .withColumn("idcg", F.expr("aggregate(sequence(1, m), 0D, (acc, i) -> acc + 1D / log2(i + 1))"))
        .select(
            (F.col("hits") / F.lit(k)).alias("precision"),
            (F.col("hits") / F.col("n_rel")).alias("recall"),
            (F.col("dcg") / F.col("idcg")).alias("ndcg"),
        )
    )
    row = per_user.agg(
        F.count("*").alias("users"), F.avg("precision"), F.avg("recall"), F.avg("ndcg")
    ).first()
    return {
        "users": int(row[0]),
        f"precision@{k}": float(row[1] or 0.0),
        f"recall@{k}": float(row[2] or 0.0),
        f"ndcg@{k}": float(row[3] or 0.0),
    }


# recommend(spark, events, catalogue, bans, params, users=...) -> (user_id, rank, product_id, …)
Recommend = Callable[..., DataFrame]


def evaluate(
    spark: SparkSession, events: DataFrame, catalogue: DataFrame, bans: DataFrame | None, params,
    k: int, fraction: float, min_events: int, recommend: Recommend,
) -> dict:
    """Metrics of ALS (with its popularity fill) and of the popularity baseline on the hold-out.

    `params` is the recommender's dataclass (`top_n` and `model` are replaced per model);
    `recommend` trains on the training events and ranks products for the given users."""
    train, relevant = split_holdout(events, fraction, min_events)
    train, relevant = train.cache(), relevant.cache()
    users = relevant.select("user_id").distinct()
    p = replace(params, top_n=max(k, params.top_n))
    out = {"k": k, "holdout_fraction": fraction, "holdout_min_events": min_events}
    for name, model in (("als", "als"), ("popularity", "popularity")):
        recs = recommend(spark, train, catalogue, bans, replace(p, model=model), users=users)
        out[name] = ranking_metrics(recs, relevant, k)
    out["evaluated_users"] = out["als"]["users"]
    return out


def flatten(metrics: dict) -> dict[str, float]:
    """`{"als": {"ndcg@10": x}}` -> `{"als.ndcg@10": x}`: the publisher's map<string, double>."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            for inner, v in flatten(value).items():
                flat[f"{key}.{inner}"] = v
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[key] = float(value)
    return flat
