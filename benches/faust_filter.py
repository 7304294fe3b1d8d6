#!/usr/bin/env python3
"""The ban filter written with Faust (faust-streaming), as a baseline for benches/ingest_bench.sh.

Same job as `ban-filter` without its extras: consume products (Confluent-framed Avro), drop
products matching static bans (id exact; brand and words lowercased with ё→е, words on \\w
boundaries), forward the others unchanged, keyed by product_id. No ban topic, no retroactive
delisting, no dead-letter topic: the benchmark compares the hot path only.

    python benches/faust_filter.py --platform .vygoda/platform.json --input T --output T2 \\
        --ban-brand fakelab --ban-word реплика worker -l warning
"""
import argparse
import io
import json
import re
import ssl
import sys
import tempfile
from pathlib import Path

import fastavro
import faust

WORD = re.compile(r"\w+")


def norm(text: str) -> str:
    return text.lower().replace("ё", "е")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default=".vygoda/platform.json", help="platform file")
    ap.add_argument("--principal", default="admin", help="principal (Faust declares its own topics)")
    ap.add_argument("--input", required=True, help="products topic")
    ap.add_argument("--output", required=True, help="filtered topic")
    ap.add_argument("--app-id", default="vygoda-faust-filter", help="Faust app id (consumer group)")
    ap.add_argument("--ban-id", action="append", default=[], help="banned product id")
    ap.add_argument("--ban-brand", action="append", default=[], help="banned brand")
    ap.add_argument("--ban-word", action="append", default=[], help="banned word")
    ap.add_argument("--schema",
                    default=str(Path(__file__).resolve().parent.parent / "kafka/schemas/products-value.avsc"),
                    help="products schema (writer schema of the input)")
    return ap.parse_known_args(argv)


args, faust_argv = parse_args(sys.argv[1:])
platform = json.loads(Path(args.platform).read_text())
principal = platform["principals"][args.principal]
brokers = platform["clusters"]["prod"]["bootstrap"].split(",")
ssl_ctx = ssl.create_default_context(cafile=platform["ca"])
# The brokers require a client certificate: the principal's own, as for every other client.
ssl_ctx.load_cert_chain(principal["kafka"]["ssl.certificate.location"], principal["kafka"]["ssl.key.location"])
schema = fastavro.parse_schema(json.loads(Path(args.schema).read_text()))
ban_ids = set(args.ban_id)
ban_brands = {" ".join(norm(b).split()) for b in args.ban_brand}
ban_words = {norm(w) for w in args.ban_word}

app = faust.App(
    args.app_id,
    broker=[f"kafka://{b}" for b in brokers],
    broker_credentials=faust.SSLCredentials(ssl_ctx),
    store="memory://",
    # Faust's default data directory is "<app id>-data" in the working directory: keep the clone clean.
    datadir=str(Path(tempfile.gettempdir()) / f"{args.app_id}-data"),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    topic_allow_declare=False,
    topic_disable_leader=True,
)
products = app.topic(args.input, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
filtered = app.topic(args.output, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def banned(p: dict) -> bool:
    if p["product_id"] in ban_ids:
        return True
    if p.get("brand") and " ".join(norm(p["brand"]).split()) in ban_brands:
        return True
    texts = [p["name"], p.get("description") or ""] + list(p.get("tags") or [])
    return any(w in ban_words for t in texts for w in WORD.findall(norm(t)))


@app.agent(products)
async def filter_products(stream):
    async for _key, value in stream.items():
        if not value or value[0] != 0:
            continue
        product = fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, schema)
        if not banned(product):
            await filtered.send(key=product["product_id"].encode(), value=value)


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *faust_argv]
    app.main()
