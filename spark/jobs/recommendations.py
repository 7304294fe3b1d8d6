"""Top-N product recommendations per user: implicit-feedback ALS with a category-popularity fallback.

Reads the complete hours of client events, the filtered catalogue and the ban list from the lake,
writes ``<output_root>/recommendations/run_id=<id>/`` (Parquet: user_id, rank, product_id, score,
model) plus ``metrics.json`` (hold-out evaluation), ``inputs.json`` (the watermarks read) and, last,
a ``_SUCCESS`` JSON marker that the publisher and the driver wait for. With ``--evaluate-only`` it
writes just ``metrics.json`` there (no recommendations, no ``_SUCCESS``: nothing to publish).

Ships with ``common.py`` and ``evaluate.py`` (``--py-files``); neither imports this module.

Exit codes: 0 done, 1 failure worth retrying, 2 bad input or arguments (retrying will not help).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

import evaluate
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

import common

DEFAULT_WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "review": 2.0}


@dataclass
class Params:
    top_n: int = 10
    model: str = "als"  # "als" (with popularity fill) or "popularity" (the baseline)
    rank: int = 20
    max_iter: int = 10
    reg_param: float = 0.05
    alpha: float = 10.0
    seed: int = 42
    min_interactions: int = 3
    candidates: int = 100
    top_categories: int = 3
    popularity_slack: int = 50
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


def parse_weights(text: str) -> dict[str, float]:
    """`view=1,add_to_cart=3` -> {"view": 1.0, ...}."""
    weights = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"weight `{item}` must be event_type=number")
        weights[name.strip()] = float(value)
    return weights


def feedback(events: DataFrame, weights: dict[str, float]) -> DataFrame:
    """Implicit feedback (user_id, product_id, weight): summed event weights per user and product."""
    mapping = F.create_map(*[x for k, v in weights.items() for x in (F.lit(k), F.lit(float(v)))])
    return (
        events.where(F.col("product_id").isNotNull() & F.col("user_id").isNotNull())
        .withColumn("w", mapping[F.col("event_type")])
        .where(F.col("w").isNotNull())
        .groupBy("user_id", "product_id")
        .agg(F.sum("w").alias("weight"))
    )


def purchases(events: DataFrame) -> DataFrame:
    return (
        events.where((F.col("event_type") == "purchase") & F.col("product_id").isNotNull())
        .select("user_id", "product_id")
        .distinct()
    )


def popularity_candidates(
    fb: DataFrame, catalogue: DataFrame, eligible: DataFrame, users: DataFrame, p: Params
) -> DataFrame:
    """(user_id, product_id, score, tier): popular products of the user's preferred categories
    (tier 1), then globally popular ones (tier 2) so that every user can get N items."""
    pop = (
        eligible.select("product_id", "category")
        .join(fb.groupBy("product_id").agg(F.sum("weight").alias("pop")), "product_id", "left")
        .fillna(0.0, ["pop"])
    )
    top_pop = pop.agg(F.max("pop")).first()[0] or 0.0
    pop = pop.withColumn("pop_norm", F.col("pop") / F.lit(max(float(top_pop), 1.0)))
    keep = p.top_n + p.popularity_slack
    per_cat = Window.partitionBy("category").orderBy(F.desc("pop"), "product_id")
    cat_top = pop.withColumn("r", F.row_number().over(per_cat)).where(F.col("r") <= keep)

    prefs = (
        fb.join(users, "user_id", "left_semi")
        .join(catalogue.select("product_id", "category"), "product_id")
        .where(F.col("category").isNotNull())
        .groupBy("user_id", "category")
        .agg(F.sum("weight").alias("w"))
    )
    per_user = Window.partitionBy("user_id")
    prefs = (
        prefs.withColumn("share", F.col("w") / F.sum("w").over(per_user))
        .withColumn("r", F.row_number().over(per_user.orderBy(F.desc("w"), "category")))
        .where(F.col("r") <= p.top_categories)
    )
    by_category = prefs.join(cat_top, "category").select(
        "user_id", "product_id", (F.col("share") * F.col("pop_norm")).alias("score"), F.lit(1).alias("tier")
    )
    global_top = pop.orderBy(F.desc("pop"), "product_id").limit(keep)
    overall = users.crossJoin(global_top).select(
        "user_id", "product_id", F.col("pop_norm").alias("score"), F.lit(2).alias("tier")
    )
    return by_category.unionByName(overall)


def als_candidates(
    spark: SparkSession, fb: DataFrame, eligible: DataFrame, users: DataFrame, p: Params
) -> DataFrame:
    """(user_id, product_id, score, tier 0) from ALS for users with enough history."""
    warm = (
        fb.groupBy("user_id")
        .agg(F.count("*").alias("n"))
        .where(F.col("n") >= p.min_interactions)
        .select("user_id")
        .join(users, "user_id", "left_semi")
    )
    if warm.limit(1).count() == 0:
        return spark.createDataFrame([], "user_id string, product_id string, score double, tier int")
    user_ix = StringIndexer(inputCol="user_id", outputCol="u").fit(fb)
    item_ix = StringIndexer(inputCol="product_id", outputCol="i").fit(fb)
    ratings = item_ix.transform(user_ix.transform(fb)).select(
        F.col("u").cast("int"), F.col("i").cast("int"), F.col("weight").cast("float")
    )
    als = ALS(
        userCol="u", itemCol="i", ratingCol="weight", implicitPrefs=True, rank=p.rank,
        maxIter=p.max_iter, regParam=p.reg_param, alpha=p.alpha, seed=p.seed,
        coldStartStrategy="drop", nonnegative=False,
    )
    model = als.fit(ratings)
    user_ids = spark.createDataFrame(list(enumerate(user_ix.labelsArray[0])), "u int, user_id string")
    items = spark.createDataFrame(list(enumerate(item_ix.labelsArray[0])), "i int, product_id string")
    subset = warm.join(user_ids, "user_id").select("u")
    recs = model.recommendForUserSubset(subset, p.candidates)
    return (
        recs.select("u", F.explode("recommendations").alias("r"))
        .select("u", F.col("r.i").alias("i"), F.col("r.rating").cast("double").alias("score"))
        .join(user_ids, "u")
        .join(items, "i")
        .join(eligible.select("product_id"), "product_id", "left_semi")
        .select("user_id", "product_id", "score", F.lit(0).alias("tier"))
    )


def recommend(
    spark: SparkSession, events: DataFrame, catalogue: DataFrame, bans: DataFrame | None, p: Params,
    users: DataFrame | None = None,
) -> DataFrame:
    """Top-N per user (user_id, rank, product_id, score, model) for `users` (default: every user
    seen in `events`). Never recommends a delisted, banned or out-of-stock product, nor one the
    user bought."""
    eligible = common.eligible_products(catalogue, bans).cache()
    fb = feedback(events, p.weights).cache()
    if users is None:
        users = events.where(F.col("user_id").isNotNull()).select("user_id").distinct()
    candidates = popularity_candidates(fb, catalogue, eligible, users, p)
    if p.model == "als":
        candidates = als_candidates(spark, fb, eligible, users, p).unionByName(candidates)
    candidates = candidates.join(eligible.select("product_id"), "product_id", "left_semi").join(
        purchases(events), ["user_id", "product_id"], "left_anti"
    )
    # One row per (user, product): the best tier wins, so an ALS pick is not repeated as filler.
    best = Window.partitionBy("user_id", "product_id").orderBy("tier", F.desc("score"))
    ranked = Window.partitionBy("user_id").orderBy("tier", F.desc("score"), "product_id")
    return (
        candidates.withColumn("d", F.row_number().over(best))
        .where("d = 1")
        .withColumn("rank", F.row_number().over(ranked))
        .where(F.col("rank") <= p.top_n)
        .select(
            "user_id",
            F.col("rank").cast("int"),
            "product_id",
            F.col("score").cast("double"),
            F.when(F.col("tier") == 0, "als").otherwise("popularity").alias("model"),
        )
    )


def load_inputs(spark: SparkSession, args) -> tuple[DataFrame, DataFrame, DataFrame | None, dict]:
    """Events, catalogue and active bans from the complete part of the lake, with watermarks."""
    until = common.parse_utc(args.until)
    events, ev_in = common.read_topic(spark, args.lake_root, args.events_topic, until, common.EVENT_COLUMNS)
    products, pr_in = common.read_topic(
        spark, args.lake_root, args.products_topic, until, common.PRODUCT_COLUMNS
    )
    bans, ban_in = common.read_topic(spark, args.lake_root, args.bans_topic, until, common.BAN_COLUMNS)
    for name, df in ((args.events_topic, events), (args.products_topic, products)):
        if df is None:
            common.fail(
                f"no complete hour partitions of `{name}` under {args.lake_root}; "
                f"is the lake writer running (or pass --until)?"
            )
    watermarks = {
        "lake_root": args.lake_root,
        "until": until.isoformat() if until else None,
        "topics": {t.topic: t.watermark() for t in (ev_in, pr_in, ban_in)},
    }
    events = common.dedupe_events(common.not_tombstone(events))
    return events, common.current_catalogue(products), common.active_bans(bans), watermarks


def params_from(args) -> Params:
    return Params(
        top_n=args.top_n, rank=args.rank, max_iter=args.max_iter, reg_param=args.reg_param,
        alpha=args.alpha, seed=args.seed, min_interactions=args.min_interactions,
        candidates=args.candidates, top_categories=args.top_categories,
        popularity_slack=args.popularity_slack, weights=args.weights,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--lake-root", required=True, help="lake root URL (hdfs://… or file://…)")
    a("--until", "--complete-before", dest="until", default=None,
      help="read every hour ending at or before this UTC time instead of trusting manifests")
    a("--events-topic", default="client-events", help="lake topic of client events")
    a("--products-topic", default="products-filtered", help="lake topic of the filtered catalogue")
    a("--bans-topic", default="product-bans", help="lake topic of the ban list")
    a("--top-n", type=int, default=10, help="recommendations per user")
    a("--rank", type=int, default=20, help="ALS latent factors")
    a("--max-iter", type=int, default=10, help="ALS iterations")
    a("--reg-param", type=float, default=0.05, help="ALS regularisation")
    a("--alpha", type=float, default=10.0, help="ALS implicit confidence scale")
    a("--seed", type=int, default=42, help="ALS seed (same input + seed -> same output)")
    a("--min-interactions", type=int, default=3, help="distinct products below which a user is cold")
    a("--candidates", type=int, default=100, help="ALS candidates per user before filtering")
    a("--top-categories", type=int, default=3, help="preferred categories used for cold users")
    a("--popularity-slack", type=int, default=50, help="extra popular items kept to survive filtering")
    a("--weights", type=parse_weights, default=dict(DEFAULT_WEIGHTS),
      help="implicit weights per event type, e.g. view=1,add_to_cart=3,purchase=5,review=2")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--output-root", required=True, help="root URL of job outputs")
    parser.add_argument("--run-id", required=True, help="the driver's run id; names the output directory")
    parser.add_argument("--output-files", type=int, default=1, help="Parquet files to write")
    parser.add_argument("--evaluate-k", type=int, default=10, help="k of the hold-out metrics (0: skip)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="only evaluate on the hold-out: write metrics.json, no recommendations, no _SUCCESS")
    evaluate.add_holdout_arguments(parser)
    args = parser.parse_args(argv)
    if args.evaluate_only and args.evaluate_k <= 0:
        parser.error("--evaluate-only needs --evaluate-k > 0")
    return args


def output_dir(output_root: str, run_id: str) -> str:
    return f"{output_root.rstrip('/')}/recommendations/run_id={run_id}"


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    """Read, evaluate, train, write; returns the summary also written to `_SUCCESS` (with
    `--evaluate-only`: read, evaluate, write metrics.json; returns the metrics)."""
    out = output_dir(args.output_root, args.run_id)
    events, catalogue, bans, watermarks = load_inputs(spark, args)
    events = events.cache()
    p = params_from(args)
    metrics = None
    if args.evaluate_k > 0:
        metrics = evaluate.evaluate(
            spark, events, catalogue, bans, p, args.evaluate_k,
            args.holdout_fraction, args.holdout_min_events, recommend=recommend,
        )
    if args.evaluate_only:
        common.write_json(spark, f"{out}/metrics.json", metrics)
        return metrics
    recs = recommend(spark, events, catalogue, bans, p)
    # Our own JSON _SUCCESS is written last; Spark's empty one would announce the run too early.
    spark.sparkContext._jsc.hadoopConfiguration().set(
        "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
    )
    recs.coalesce(args.output_files).write.mode("overwrite").parquet(out)
    written = spark.read.parquet(out).agg(
        F.count("*").alias("rows"), F.countDistinct("user_id").alias("users")
    ).first()
    if metrics is not None:
        common.write_json(spark, f"{out}/metrics.json", metrics)
    common.write_json(spark, f"{out}/inputs.json", watermarks)
    summary = {
        "run_id": args.run_id,
        "job": "recommendations",
        "output": out,
        "completed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "rows": written["rows"],
        "users": written["users"],
        "params": dict(vars(p)),
    }
    common.write_json(spark, f"{out}/_SUCCESS", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.spark_session(f"vygoda-recommendations-{args.run_id}")
    try:
        summary = run(spark, args)
        print(json.dumps(summary, default=str), flush=True)
        return 0
    except common.SchemaMismatch as e:
        common.fail(str(e), common.EXIT_SCHEMA)
    finally:
        spark.stop()
    return 1


if __name__ == "__main__":
    sys.exit(main())
