"""Schema checks name the column; partition selection honours manifests; daily stats SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import recommendations
import run_sql
from tinylake import BAN_SCHEMA, EVENT_SCHEMA, PRODUCT_SCHEMA, SQL_DIR, T0, Lake

import common


def test_missing_event_type_fails_naming_the_column(spark, lake):
    schema = EVENT_SCHEMA.replace("event_type string, ", "")
    lake.write("client-events", schema, [{"_key": "u", "user_id": "u", "product_id": "p", "ts": T0}])
    with pytest.raises(common.SchemaMismatch, match=r"client-events: column `event_type` is missing"):
        common.read_topic(spark, lake.url, "client-events", None, common.EVENT_COLUMNS)


def test_wrongly_typed_event_type_fails_naming_column_and_types(spark, lake):
    schema = EVENT_SCHEMA.replace("event_type string", "event_type int")
    lake.write("client-events", schema, [{"_key": "u", "user_id": "u", "event_type": 1, "ts": T0}])
    with pytest.raises(common.SchemaMismatch, match=r"`event_type` has type int, expected string"):
        common.read_topic(spark, lake.url, "client-events", None, common.EVENT_COLUMNS)


def test_nested_column_type_is_checked(spark, lake):
    schema = PRODUCT_SCHEMA.replace("stock struct<available:int,reserved:int>", "stock string")
    lake.write("products-filtered", schema, [{"_key": "p", "product_id": "p", "stock": "many"}])
    with pytest.raises(common.SchemaMismatch, match=r"`stock.available` is missing"):
        common.read_topic(spark, lake.url, "products-filtered", None, common.PRODUCT_COLUMNS)


def test_job_reports_schema_mismatch_instead_of_running(spark, lake, tmp_path):
    lake.write("client-events", EVENT_SCHEMA.replace("ts timestamp", "ts string"),
               [{"_key": "u", "user_id": "u", "event_type": "view", "ts": "yesterday"}])
    lake.write("products-filtered", PRODUCT_SCHEMA, [lake.product("p", "c")])
    args = recommendations.parse_args(
        ["--lake-root", lake.url, "--output-root", tmp_path.as_uri(), "--run-id", "bad"]
    )
    with pytest.raises(common.SchemaMismatch, match=r"`ts` has type string, expected timestamp"):
        recommendations.run(spark, args)


def test_only_complete_hours_unless_until_is_given(spark, lake):
    lake.write("client-events", EVENT_SCHEMA, [lake.event("u", "view", "p")])
    lake.write("client-events", EVENT_SCHEMA, [lake.event("u", "view", "q")], hour=T0 + timedelta(hours=1),
               complete=False)
    chosen = common.select_partitions(spark, lake.url, "client-events")
    assert chosen.hours == ["date=2026-01-01/hour=00"]
    assert chosen.skipped_incomplete == ["date=2026-01-01/hour=01"]
    cutoff = T0 + timedelta(hours=2)
    assert len(common.select_partitions(spark, lake.url, "client-events", cutoff).hours) == 2
    assert len(common.select_partitions(spark, lake.url, "client-events", T0 + timedelta(minutes=59)).hours) == 0


def test_split_statements_respects_quotes_and_comments():
    sql = "select ';' as a; -- a comment; with semicolon\nselect 2;\n\n"
    assert run_sql.split_statements(sql) == ["select ';' as a", "select 2"]


def test_daily_stats_per_category_and_day(spark, lake, tmp_path):
    lake.write("products-filtered", PRODUCT_SCHEMA, [
        lake.product("p1", "phones"), lake.product("p2", "phones"), lake.product("b1", "books"),
    ])
    lake.write("products-filtered", PRODUCT_SCHEMA, [Lake.tombstone("b1")])  # delisted, keeps category
    events = [lake.event("u1", "view", "p1"), lake.event("u2", "view", "p1"), lake.event("u1", "view", "p2"),
              lake.event("u3", "view", "p2"), lake.event("u1", "add_to_cart", "p2"),
              lake.event("u1", "purchase", "p2"), lake.event("u1", "view", "b1"),
              lake.event("u1", "view", "b1", minute=24 * 60), lake.event("u1", "search", None, query="x")]
    lake.write("client-events", EVENT_SCHEMA, events)
    out = tmp_path / "stats"
    run_sql.run(spark, run_sql.parse_args([
        "--sql", str(SQL_DIR / "daily_stats.sql"), "--lake-root", lake.url,
        "--lake-input", "events=client-events", "--lake-input", "products=products-filtered",
        "--param", "top_products=2", "--output", out.as_uri(),
    ]))
    rows = {(r.category, str(r.day)): r for r in spark.read.parquet(str(out)).collect()}
    phones = rows[("phones", "2026-01-01")]
    assert (phones.views, phones.carts, phones.purchases) == (4, 1, 1)
    assert phones.conversion == pytest.approx(0.25)
    assert phones.top_products == ["p2", "p1"]
    assert rows[("books", "2026-01-01")].views == 1
    assert rows[("books", "2026-01-02")].views == 1
    assert (out / "_inputs.json").exists()


def test_bans_match_like_the_ban_filter(spark, lake):
    products = [
        lake.product("id-1", "c"),
        lake.product("ID-1", "c"),  # product ids are case-sensitive
        lake.product("b1", "c", brand="  Ёлка   Toys "),
        lake.product("w1", "c", name="Вейп-набор", description="x"),
        lake.product("w2", "c", name="Super vape kit", tags=["gift"]),
        lake.product("w3", "c", name="vaper"),  # a longer word is not the banned word
        lake.product("w4", "c", name="kit", tags=["Super Vape"]),  # phrase inside a tag
        lake.product("ok", "c"),
    ]
    lake.write("products-filtered", PRODUCT_SCHEMA, products)
    lake.write("product-bans", BAN_SCHEMA, [
        Lake.ban("product_id", "id-1"), Lake.ban("brand", "елка toys"), Lake.ban("word", "вейп"),
        Lake.ban("word", "super  VAPE"),
    ])
    catalogue = common.current_catalogue(common.read_topic(spark, lake.url, "products-filtered", None, {})[0])
    bans = common.active_bans(common.read_topic(spark, lake.url, "product-bans", None, {})[0])
    eligible = {r.product_id for r in common.eligible_products(catalogue, bans).collect()}
    assert eligible == {"ID-1", "w3", "ok"}


def test_late_rows_past_the_manifest_offsets_are_not_read(spark, lake):
    rows = [lake.event("u", "view", f"p{i}") for i in range(4)]
    # Offsets 1..4 written; the manifest was taken when partition 0 had offsets < 3 committed.
    lake.write("client-events", EVENT_SCHEMA, rows, manifest={"offsets": {"0": 3}})
    df, chosen = common.read_topic(spark, lake.url, "client-events", None, common.EVENT_COLUMNS)
    assert sorted(r._offset for r in df.collect()) == [1, 2]
    assert chosen.manifests["date=2026-01-01/hour=00"]["offsets"] == {"0": 3}


def test_duplicate_events_are_counted_once(spark):
    schema = "event_id string, user_id string"
    events = spark.createDataFrame([("e1", "u"), ("e1", "u"), ("e2", "u")], schema)
    assert common.dedupe_events(events).count() == 2
