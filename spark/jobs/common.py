"""Shared pieces of vygoda's Spark jobs: lake reading, schema checks, the catalogue and the bans.

The lake writer lays topics out as ``<lake_root>/<topic>/date=YYYY-MM-DD/hour=HH/*.parquet`` and drops a
``_manifest.json`` into an hour once it is complete. Jobs read complete hours only (or every hour
before an explicit ``--until`` cutoff), so a run is reproducible from the watermarks it records.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

MANIFEST = "_manifest.json"
EXIT_SCHEMA = 2  # the driver does not retry this: the input, not the cluster, is wrong

_HOUR_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})$")


class SchemaMismatch(Exception):
    """An input lacks a column the job needs, or carries it with another type."""


@dataclass
class TopicInput:
    """The hour partitions of one topic a run read, and why they were taken as complete."""

    topic: str
    paths: list[str] = field(default_factory=list)
    hours: list[str] = field(default_factory=list)
    manifests: dict[str, dict] = field(default_factory=dict)
    skipped_incomplete: list[str] = field(default_factory=list)

    def watermark(self) -> dict:
        return {
            "hours": len(self.hours),
            "first_hour": self.hours[0] if self.hours else None,
            "last_hour": self.hours[-1] if self.hours else None,
            "skipped_incomplete": self.skipped_incomplete,
            "manifests": self.manifests,
        }


def spark_session(app_name: str) -> SparkSession:
    """A session in UTC: lake timestamps are UTC and day boundaries must not move with the host.

    Under the jobs driver the application keeps the name the driver gave it
    (`vygoda-<job>-<run_id>`, so the history server shows which run it was) and its id is reported
    back to the driver, which records it in the run history."""
    builder = SparkSession.builder.config("spark.sql.session.timeZone", "UTC")
    if not os.environ.get("VYGODA_RUN_ID"):
        builder = builder.appName(app_name)
    spark = builder.getOrCreate()
    report_application(spark)
    return spark


def report_application(spark: SparkSession) -> None:
    """Write the application id where the jobs driver asked for it (`VYGODA_SPARK_APP_FILE`)."""
    target = os.environ.get("VYGODA_SPARK_APP_FILE")
    if not target:
        return
    sc = spark.sparkContext
    report = {"app_id": sc.applicationId, "app_name": sc.appName, "master": sc.master}
    tmp = f"{target}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f)
    os.replace(tmp, target)  # the driver never reads half a report


def parse_utc(text: str | None) -> datetime | None:
    """`2026-04-21T13:00:00Z`, `2026-04-21T13:00` or `2026-04-21` as an aware UTC datetime."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- file system access through Hadoop, so file:// and hdfs:// behave the same -------------------


def _fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jpath


def list_dirs(spark: SparkSession, path: str) -> list[str]:
    fs, jpath = _fs(spark, path)
    if not fs.exists(jpath):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(jpath) if s.isDirectory())


def read_text(spark: SparkSession, path: str) -> str | None:
    fs, jpath = _fs(spark, path)
    if not fs.exists(jpath):
        return None
    stream = fs.open(jpath)
    try:
        reader = spark.sparkContext._jvm.java.io.BufferedReader(
            spark.sparkContext._jvm.java.io.InputStreamReader(stream, "UTF-8")
        )
        lines = []
        line = reader.readLine()
        while line is not None:
            lines.append(line)
            line = reader.readLine()
        return "\n".join(lines)
    finally:
        stream.close()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write via a temporary name and rename, so a reader never sees half a file."""
    fs, jpath = _fs(spark, path)
    tmp = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path + ".tmp")
    out = fs.create(tmp, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    if fs.exists(jpath):
        fs.delete(jpath, False)
    if not fs.rename(tmp, jpath):
        raise OSError(f"cannot rename {path}.tmp to {path}; check permissions on the output directory")


def write_json(spark: SparkSession, path: str, value: dict) -> None:
    write_text(spark, path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


# --- complete partitions -------------------------------------------------------------------------


def manifest_is_complete(manifest: dict) -> bool:
    """The lake writer marks an hour complete in its manifest; accept the spellings it may use."""
    if manifest.get("complete") is True:
        return True
    return str(manifest.get("status", "")).lower() in ("complete", "closed", "sealed")


def select_partitions(
    spark: SparkSession, lake_root: str, topic: str, until: datetime | None = None
) -> TopicInput:
    """Hour partitions of `topic` to read: those with a complete manifest, or with `until` given,
    every hour that ends at or before it (the caller vouches for completeness)."""
    chosen = TopicInput(topic)
    base = f"{lake_root.rstrip('/')}/{topic}"
    for date_dir in list_dirs(spark, base):
        for hour_dir in list_dirs(spark, f"{base}/{date_dir}"):
            rel = f"{date_dir}/{hour_dir}"
            match = _HOUR_DIR.match(rel)
            if not match:
                continue
            start = datetime.fromisoformat(f"{match[1]}T{match[2]}:00:00+00:00")
            path = f"{base}/{rel}"
            if until is not None:
                if start + timedelta(hours=1) > until:
                    continue
                manifest = None
            else:
                text = read_text(spark, f"{path}/{MANIFEST}")
                manifest = json.loads(text) if text else None
                if manifest is None or not manifest_is_complete(manifest):
                    chosen.skipped_incomplete.append(rel)
                    continue
            chosen.paths.append(path)
            chosen.hours.append(rel)
            if manifest is not None:
                chosen.manifests[rel] = manifest
    return chosen


def read_topic(
    spark: SparkSession, lake_root: str, topic: str, until: datetime | None, required: dict[str, str]
) -> tuple[DataFrame | None, TopicInput]:
    """The complete part of a topic, checked against `required` column types. None when empty."""
    chosen = select_partitions(spark, lake_root, topic, until)
    if not chosen.paths:
        return None, chosen
    base = f"{lake_root.rstrip('/')}/{topic}"
    df = spark.read.option("basePath", base).option("mergeSchema", "true").parquet(*chosen.paths)
    check_schema(df, topic, required)
    return within_manifest_offsets(spark, df, chosen), chosen


def within_manifest_offsets(spark: SparkSession, df: DataFrame, chosen: TopicInput) -> DataFrame:
    """Drop rows committed to an hour after its manifest was read (late records): the manifest's
    `offsets[p]` bounds what this run reads, and inputs.json records the manifests, so a rerun
    over the same inputs reads the same rows."""
    bounds, bounded_hours = [], []
    for rel, manifest in chosen.manifests.items():
        offsets = manifest.get("offsets")
        if not isinstance(offsets, dict):
            continue
        m = _HOUR_DIR.match(rel)
        bounded_hours.append((m[1], int(m[2])))
        bounds += [(m[1], int(m[2]), int(p), int(o)) for p, o in offsets.items()]
    if not bounded_hours:
        return df
    b = spark.createDataFrame(bounds, "_b_date string, _b_hour int, _b_partition int, _b_bound bigint")
    h = spark.createDataFrame(bounded_hours, "_h_date string, _h_hour int")
    day, hour = F.date_format(F.col("date"), "yyyy-MM-dd"), F.col("hour").cast("int")
    joined = df.join(
        F.broadcast(b), (day == b["_b_date"]) & (hour == b["_b_hour"]) & (F.col("_partition") == b["_b_partition"]),
        "left",
    ).join(F.broadcast(h), (day == h["_h_date"]) & (hour == h["_h_hour"]), "left")
    keep = F.col("_h_date").isNull() | (F.col("_offset") < F.col("_b_bound"))
    return joined.where(keep).drop("_b_date", "_b_hour", "_b_partition", "_b_bound", "_h_date", "_h_hour")


def check_schema(df: DataFrame, source: str, required: dict[str, str]) -> None:
    """Fail with a message naming the column: a wrong lake schema must not yield silent garbage.

    `required` maps a column (dots for struct fields) to a Spark simpleString type; a type may list
    alternatives with `|` (e.g. `int|bigint`)."""
    for column, expected in required.items():
        actual = _column_type(df.schema, column)
        if actual is None:
            found = ", ".join(df.columns)
            raise SchemaMismatch(
                f"{source}: column `{column}` is missing (found: {found}); "
                f"check the lake writer's mapping of the Avro schema"
            )
        if actual not in expected.split("|"):
            raise SchemaMismatch(
                f"{source}: column `{column}` has type {actual}, expected {expected}; "
                f"check the lake writer's mapping of the Avro schema"
            )


def _column_type(schema, dotted: str) -> str | None:
    current = schema
    for part in dotted.split("."):
        names = {f.name: f for f in current.fields}
        if part not in names:
            return None
        current = names[part].dataType
        if part != dotted.split(".")[-1] and not hasattr(current, "fields"):
            return None
    return current.simpleString()


def not_tombstone(df: DataFrame) -> DataFrame:
    return df.where(~F.col("_tombstone")) if "_tombstone" in df.columns else df


def latest_per_key(df: DataFrame) -> DataFrame:
    """The newest record per Kafka key, tombstones included (a key is on one partition, so the
    offset orders its records; the partition number only breaks ties between re-keyed copies)."""
    w = Window.partitionBy("_key").orderBy(F.col("_offset").desc(), F.col("_partition").desc())
    keyed = df.withColumn("_key", F.col("_key").cast("string"))
    return keyed.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


# --- catalogue, bans, eligibility ----------------------------------------------------------------

EVENT_COLUMNS = {"user_id": "string", "event_type": "string", "product_id": "string", "ts": "timestamp"}
PRODUCT_COLUMNS = {
    "_key": "string|binary",
    "_offset": "bigint|int",
    "_partition": "int|bigint",
    "_tombstone": "boolean",
    "product_id": "string",
    "category": "string",
    "brand": "string",
    "stock.available": "int|bigint",
}
BAN_COLUMNS = {
    "_key": "string|binary",
    "_offset": "bigint|int",
    "_partition": "int|bigint",
    "_tombstone": "boolean",
    "kind": "string",
    "value": "string",
}

BAN_KINDS = ("product_id", "brand", "word")


def normalise_text(col):
    """Lower case, ё→е, whitespace collapsed: the ADMIN CLI's normalisation of brands and words."""
    lowered = F.translate(F.lower(col), "ё", "е")
    return F.trim(F.regexp_replace(lowered, r"\s+", " "))


def words(col):
    """Text as ` w1 w2 … ` (letters and digits only, normalised), for whole-word phrase matching."""
    only_words = F.regexp_replace(F.translate(F.lower(col), "ё", "е"), r"[^\p{L}\p{N}]+", " ")
    return F.concat(F.lit(" "), F.trim(only_words), F.lit(" "))


def current_catalogue(products: DataFrame) -> DataFrame:
    """Latest state per product: (product_id, category, brand, text, in_stock, delisted).

    Sellable stock is `available - reserved` (reserved: units held by open orders)."""
    latest = latest_per_key(products)
    def opt(name):
        return F.col(name) if name in products.columns else F.lit("")

    reserved = F.col("stock.reserved") if _column_type(products.schema, "stock.reserved") else F.lit(0)
    tags = F.array_join(F.col("tags"), " ") if "tags" in products.columns else F.lit("")
    text = F.concat_ws(" ", opt("name"), opt("description"), tags)
    return latest.select(
        F.col("_key").alias("product_id"),
        F.col("category"),
        F.col("brand"),
        words(text).alias("text"),
        F.coalesce(F.col("stock.available") - F.coalesce(reserved, F.lit(0)) > 0, F.lit(False)).alias("in_stock"),
        F.col("_tombstone").alias("delisted"),
    )


def active_bans(bans: DataFrame | None) -> DataFrame | None:
    """Bans in force: latest record per ban key that is not a tombstone (a removal)."""
    if bans is None:
        return None
    latest = latest_per_key(bans).where(~F.col("_tombstone"))
    kind = F.lower(F.trim(F.col("kind").cast("string")))
    value = (
        F.when(kind == "product_id", F.trim("value"))
        .when(kind == "brand", normalise_text(F.col("value")))
        .otherwise(F.trim(words(F.col("value"))))
    )
    return latest.select(kind.alias("kind"), value.alias("value"))


def eligible_products(catalogue: DataFrame, bans: DataFrame | None) -> DataFrame:
    """Products that may be recommended: listed, in stock, matching no active ban. Bans match as
    the ban filter does: product ids exactly, brands normalised, words as whole words (phrases
    as adjacent words) in name, description and tags."""
    listed = catalogue.where(~F.col("delisted") & F.col("in_stock"))
    if bans is None:
        return listed.drop("text")
    by_id = listed.join(bans.where("kind = 'product_id'"), F.col("product_id") == F.col("value"), "left_semi")
    by_brand = listed.join(
        bans.where("kind = 'brand'"), normalise_text(F.col("brand")) == F.col("value"), "left_semi"
    )
    by_word = listed.join(
        F.broadcast(bans.where("kind = 'word' AND value <> ''")),
        F.instr(F.col("text"), F.concat(F.lit(" "), F.col("value"), F.lit(" "))) > 0,
        "left_semi",
    )
    banned = by_id.select("product_id").unionByName(by_brand.select("product_id")).unionByName(
        by_word.select("product_id")
    )
    return listed.join(banned, "product_id", "left_anti").drop("text")


def dedupe_events(events: DataFrame) -> DataFrame:
    """Producers are at-least-once: the same event may be in the lake twice (same event_id)."""
    if "event_id" not in events.columns:
        return events
    return events.dropDuplicates(["event_id"])


def fail(message: str, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
