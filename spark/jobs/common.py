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


# Whitespace as Rust's `char::is_whitespace` sees it (the White_Space property, NBSP included);
# Java's plain `\s` is ASCII only.
_WHITESPACE = r"\p{IsWhite_Space}"


def normalise_text(col):
    """Lower case, ё→е, whitespace runs collapsed to one space and trimmed: the ban filter's
    normalisation of brands (`ingest/src/text.rs`, `normalise_brand`)."""
    lowered = F.translate(F.lower(col), "ё", "е")
    return F.trim(F.regexp_replace(lowered, _WHITESPACE + "+", " "))


def trim_whitespace(col):
    """`str::trim`: leading and trailing White_Space removed (Spark's `trim` removes spaces only)."""
    return F.regexp_replace(col, f"^{_WHITESPACE}+|{_WHITESPACE}+$", "")


# --- words on Unicode word boundaries ------------------------------------------------------------
#
# The ban filter takes the words of a text with `unicode-segmentation`'s `unicode_words()`: the
# text is cut on UAX #29 word boundaries and the pieces holding a letter or digit are its words.
# Spark SQL has no UAX #29 word iterator, so SEGMENT_PATTERN cuts text into the same pieces, one
# per match, with the Word_Break classes below (those of `unicode-segmentation` 1.13, Unicode 17;
# checked code point by code point against its tables for every character Java 17 knows):
#
#   - letters (ALetter, Hebrew_Letter) and digits (Numeric) run together: "iphone15", "5g",
#     "3.5mm" (WB5, WB8-WB10);
#   - between two letters MidLetter (":" "·"), MidNumLet ("." "‘" "’") and "'" do not break:
#     "e.g", "don't", "a:b" are one word each (WB6, WB7); between two digits MidNum ("," ";"),
#     MidNumLet and "'" do not: "3.5", "2,5", "1'000" (WB11, WB12). Anything else breaks, so
#     "wi-fi" is "wi" "fi", "1:30" is "1" "30", "a,b" is "a" "b", "3.a" is "3" "a";
#   - a Hebrew letter keeps a "'" after it (WB7a) and a '"' between Hebrew letters (WB7b, WB7c);
#   - Katakana run together (WB13); ExtendNumLet ("_", U+202F narrow no-break space, "‿" …) joins
#     letters, digits, Katakana and itself (WB13a, WB13b): "__init__" is one word;
#   - Extend, Format and ZWJ characters (combining marks, the soft hyphen U+00AD, ZWJ) belong to the
#     character before them (WB4): "wi<U+00AD>fi" is one word, soft hyphen included;
#   - a run of spaces is one piece (WB3d), CR LF one (WB3), every other character one (WB999): so an
#     ideograph, a Hiragana or Thai letter, "²" or "½" is a word of its own; emoji, punctuation and
#     symbols are no words.
#
# Not emulated: ZWJ followed by an emoji (WB3c). The filter's word "a<ZWJ>🔥" is "a<ZWJ>" here;
# both keep the ZWJ, so only a ban that itself holds a ZWJ and an emoji could be judged apart. And
# characters newer than Java's Unicode tables (Java 17: Unicode 13) are no letters here.

_EXTEND = (  # Extend | Format | ZWJ: marks, Cf (less ZWSP and the prepended numerals), skin tones
    r"[\p{Mn}\p{Me}\p{Mc}\p{Cf}\x{FF9E}\x{FF9F}\x{1F3FB}-\x{1F3FF}"
    r"&&[^\x{200B}\x{070F}\x{0600}-\x{0605}\x{06DD}\x{0890}\x{0891}\x{08E2}\x{110BD}\x{110CD}]]"
)
_HEBREW = (
    r"[\x{05D0}-\x{05EA}\x{05EF}-\x{05F2}\x{FB1D}\x{FB1F}-\x{FB28}\x{FB2A}-\x{FB36}\x{FB38}-\x{FB3C}"
    r"\x{FB3E}\x{FB40}\x{FB41}\x{FB43}\x{FB44}\x{FB46}-\x{FB4F}]"
)
_KATAKANA = (
    r"[\x{3031}-\x{3035}\x{309B}\x{309C}\x{30A0}-\x{30FA}\x{30FC}-\x{30FF}\x{31F0}-\x{31FF}\x{32D0}-\x{32FE}"
    r"\x{3300}-\x{3357}\x{FF66}-\x{FF9D}\x{1AFF0}-\x{1AFF3}\x{1AFF5}-\x{1AFFB}\x{1AFFD}\x{1AFFE}\x{1B000}"
    r"\x{1B120}-\x{1B122}\x{1B155}\x{1B164}-\x{1B167}]"
)
# Scripts UAX #29 leaves to dictionary segmentation (Line_Break=Complex_Context): not ALetter.
_COMPLEX = (
    r"\p{IsThai}\p{IsLao}\p{IsMyanmar}\p{IsKhmer}\p{IsTai_Le}\p{IsNew_Tai_Lue}\p{IsTai_Tham}"
    r"\p{IsTai_Viet}\p{IsAhom}"
)
_ALETTER = (
    r"[[\p{IsAlphabetic}\x{00B8}\x{070F}\x{02C2}-\x{02C5}\x{02D2}-\x{02D7}\x{02DE}\x{02DF}\x{02E5}-\x{02EB}"
    r"\x{02ED}\x{02EF}-\x{02FF}\x{055A}-\x{055C}\x{055E}\x{058A}\x{05F3}\x{A708}-\x{A716}\x{A720}\x{A721}"
    r"\x{A789}\x{A78A}\x{AB5B}]"
    r"&&[^\p{M}\p{IsIdeographic}\p{IsHiragana}\p{Nd}\x{FF9E}\x{FF9F}"
    + _COMPLEX + _KATAKANA[1:-1] + _HEBREW[1:-1] + "]]"
)
_NUMERIC = r"[\p{Nd}\x{066B}\x{19DA}\x{0600}-\x{0605}\x{06DD}\x{0890}\x{0891}\x{08E2}\x{110BD}\x{110CD}]"
_EXTEND_NUM_LET = r"[\p{Pc}\x{202F}]"
_MID_LETTER = r"[:\x{00B7}\x{0387}\x{055F}\x{05F4}\x{2027}\x{FE13}\x{FE55}\x{FF1A}]"
_MID_NUM = r"[,;\x{037E}\x{0589}\x{060C}\x{060D}\x{066C}\x{07F8}\x{2044}\x{FE50}\x{FE54}\x{FF0C}\x{FF1B}]"
_MID_NUM_LET = r"[.\x{2018}\x{2019}\x{2024}\x{FE52}\x{FF07}\x{FF0E}]"
_SPACE = r"[ \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200A}\x{205F}\x{3000}]"  # WSegSpace
_NEWLINE = r"\r\n\x{0B}\x{0C}\x{85}\x{2028}\x{2029}"  # CR, LF, Newline: nothing attaches to them


def _segment_pattern() -> str:
    e = f"{_EXTEND}*+"
    ahletter = f"[{_ALETTER}{_HEBREW}]"
    mid_letter = f"[{_MID_LETTER}{_MID_NUM_LET}']"
    mid_num = f"[{_MID_NUM}{_MID_NUM_LET}']"
    # One letter or digit, with the middle character after it that the next one lets it keep.
    letter = f"{_ALETTER}{e}(?:{mid_letter}{e}(?={ahletter}))?"
    hebrew = f"{_HEBREW}{e}(?:\"{e}(?={_HEBREW})|{mid_letter}{e}(?={ahletter}))?"
    number = f"{_NUMERIC}{e}(?:{mid_num}{e}(?={_NUMERIC}))?"
    run = f"(?:(?:{letter}|{hebrew}|{number})++|(?:{_KATAKANA}{e})++)"
    joiners = f"(?:{_EXTEND_NUM_LET}{e})++"
    hebrew_quote = f"(?<={_HEBREW}{_EXTEND}{{0,8}})'{e}"  # WB7a; nothing joins after it
    word = f"(?:{joiners})?+{run}(?:{joiners}{run}?)*+(?:{hebrew_quote})?"
    return f"{word}|{joiners}|{_SPACE}++{e}|\\r\\n|[{_NEWLINE}]|[^{_NEWLINE}]{e}"


SEGMENT_PATTERN = _segment_pattern()
# The pieces that are words hold a letter or digit (Rust's `char::is_alphanumeric`).
_HAS_ALPHANUMERIC = r"[\p{IsAlphabetic}\p{N}]"


def word_list(col):
    """The words of `col` (lower-cased, ё→е) on Unicode word boundaries: array<string>."""
    pieces = F.regexp_extract_all(F.translate(F.lower(col), "ё", "е"), F.lit(SEGMENT_PATTERN), 0)
    return F.filter(pieces, lambda piece: piece.rlike(_HAS_ALPHANUMERIC))


def words(col):
    """Text as ` w1 w2 … ` (its words, normalised, between single spaces) for whole-word phrase
    matching: ` phrase ` occurs in it exactly when the phrase's words are adjacent words here."""
    return F.concat(F.lit(" "), F.array_join(word_list(col), " "), F.lit(" "))


def product_text(columns: list[str]):
    """The words a word ban is matched in: ` w1 w2 ` for the name, the description and each tag,
    joined by `|` (never part of a word), so a phrase matches within one field only, as in the
    ban filter ("Жидкость для" + description "вейпа" is not the phrase "жидкость для вейпа")."""
    fields = [words(F.col(name)) for name in ("name", "description") if name in columns]
    if "tags" in columns:
        fields.append(F.transform(F.col("tags"), words))
    return F.concat_ws("|", *fields) if fields else F.lit("")


def current_catalogue(products: DataFrame) -> DataFrame:
    """Latest state per product: (product_id, category, brand, text, in_stock, delisted).

    Sellable stock is `available - reserved` (reserved: units held by open orders)."""
    latest = latest_per_key(products)
    reserved = F.col("stock.reserved") if _column_type(products.schema, "stock.reserved") else F.lit(0)
    return latest.select(
        F.col("_key").alias("product_id"),
        F.col("category"),
        F.col("brand"),
        product_text(products.columns).alias("text"),
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
        F.when(kind == "product_id", trim_whitespace(F.col("value")))
        .when(kind == "brand", normalise_text(F.col("value")))
        .otherwise(F.trim(words(F.col("value"))))
    )
    return latest.select(kind.alias("kind"), value.alias("value"))


def eligible_products(catalogue: DataFrame, bans: DataFrame | None) -> DataFrame:
    """Products that may be recommended: listed, in stock, matching no active ban. Bans match as
    the ban filter does (`ingest/src/matcher.rs`; the shared cases are `tests/fixtures/ban_cases.json`):
    product ids exactly (case-sensitive), brands normalised and whole, words as whole words on
    Unicode word boundaries (phrases as adjacent words of one field) in name, description and
    each tag."""
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
