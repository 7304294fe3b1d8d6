#!/usr/bin/env python3
"""Deterministic catalogue of «Покупай выгодно» shops, and the bad-input corpus of the SHOP API.

    python3 data/generate_catalogue.py                      # data/catalogue.json + data/bad-products/
    python3 data/generate_catalogue.py --count 100000 --out /tmp/big.ndjson --ndjson --no-bad

Standard library only; the same seed gives byte-identical files. See data/README.md for which
brands and words are banned in the demo and which products carry them.
"""
import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalogue_words import BANNED_BRANDS, BANNED_WORD_PHRASES, CATEGORIES, CLOSERS, COLOURS, CURRENCIES, OPENERS

HERE = Path(__file__).resolve().parent
STORES = [f"store-{n:03d}" for n in range(1, 51)]
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
SCENARIO_IDS = ("123", "234")


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds").replace("+00:00", "Z")


def price(rng: random.Random, low: int, high: int) -> float:
    # Prices end in 0 or 9 roubles and often carry kopecks, like real price tags.
    rub = rng.randint(low, high)
    rub = rub - rub % 10 + rng.choice([0, 9, 9, 9])
    return round(rub + rng.choice([0, 0, 0.99, 0.5, 0.9]), 2)


def product(rng: random.Random, n: int, product_id: str, banned: str = "") -> dict:
    cat = CATEGORIES[n % len(CATEGORIES)]
    brand = rng.choice(cat["brands"])
    if banned == "brand":
        # Spelling varies on purpose: the filter must match brands case- and ё-insensitively.
        brand = rng.choice(BANNED_BRANDS)
    kind = rng.choice(cat["kinds"])
    model = f"{rng.choice('ABCDEFGHKMNPRSTXZ')}{rng.randint(1, 99)}"
    variant = rng.choice(cat["variants"])
    name = f"{kind} {brand} {model} {variant}".strip()
    colour = rng.choice(COLOURS)
    features = rng.sample(cat["features"], k=min(3, len(cat["features"])))
    description = (f"{rng.choice(OPENERS).format(kind=kind.lower(), brand=brand)} "
                   f"{' '.join(features)} Цвет: {colour}. {rng.choice(CLOSERS)}")
    tags = rng.sample(cat["tags"], k=rng.randint(2, min(5, len(cat["tags"]))))
    if banned == "word":
        phrase = rng.choice(BANNED_WORD_PHRASES)
        where = rng.choice(["name", "description", "tags"])
        if where == "name":
            name = f"{name} ({phrase})"
        elif where == "description":
            description = f"{description} {phrase.capitalize()}."
        else:
            tags.append(phrase)
    created = EPOCH + timedelta(seconds=rng.randint(0, 600 * 86400))
    updated = created + timedelta(seconds=rng.randint(0, 90 * 86400))
    available = rng.randint(0, 500)
    specs = {key: rng.choice(values) for key, values in cat["specs"].items()}
    specs["Цвет"] = colour
    item = {
        "product_id": product_id,
        "name": name,
        "description": description,
        "price": {"amount": price(rng, *cat["price"]), "currency": "RUB"},
        "category": cat["name"],
        "brand": brand,
        "stock": {"available": available, "reserved": rng.randint(0, min(available, 40))},
        "sku": f"{cat['sku']}-{n:06d}",
        "tags": tags,
        "images": [
            {"url": f"https://cdn.pokupay.example/img/{product_id}/{i + 1}.jpg",
             "alt": f"{name}, фото {i + 1}"}
            for i in range(rng.randint(1, 4))
        ],
        "specifications": specs,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "index": "products",
        "store_id": rng.choice(STORES),
    }
    # Some shops trade abroad; a few omit optional fields (the schema keeps them absent).
    roll = rng.random()
    if roll < 0.04:
        item["price"]["currency"] = rng.choice(CURRENCIES)
    elif roll < 0.07:
        del item["description"]
    elif roll < 0.09:
        del item["stock"]["reserved"]
        del item["updated_at"]
    return item


def catalogue(count: int, seed: int) -> list:
    rng = random.Random(seed)
    items = []
    for n in range(count):
        banned = ""
        # About 1 in 60 products carries a banned brand and 1 in 60 a banned word: enough for
        # the demo to show bans, delisting and relisting at catalogue scale.
        if n % 60 == 17:
            banned = "brand"
        elif n % 60 == 43:
            banned = "word"
        items.append(product(rng, n, str(100000 + n), banned))
    # The scenario's products: clean, so only an explicit id ban keeps them out.
    for n, pid in enumerate(SCENARIO_IDS):
        item = product(random.Random(seed + n + 1), n, pid)
        item["price"]["currency"] = "RUB"
        items.insert(n * 7, item)
    return items


def dump_array(items: list) -> str:
    # One product per line inside the array: readable diffs, still a plain JSON array.
    return "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2400, help="generated products (plus 123 and 234)")
    ap.add_argument("--seed", type=int, default=20240601, help="random seed")
    ap.add_argument("--out", type=Path, default=HERE / "catalogue.json", help="catalogue file")
    ap.add_argument("--ndjson", action="store_true", help="one JSON object per line, no array")
    ap.add_argument("--no-bad", action="store_true", help="do not write data/bad-products/")
    args = ap.parse_args()

    items = catalogue(args.count, args.seed)
    text = ("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
            if args.ndjson else dump_array(items))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(items)} products to {args.out}")
    if not args.no_bad:
        from bad_products import write_corpus

        good = catalogue(8, args.seed + 99)
        n = write_corpus(HERE / "bad-products", good)
        print(f"wrote {n} bad cases to {HERE / 'bad-products'}")


if __name__ == "__main__":
    main()
