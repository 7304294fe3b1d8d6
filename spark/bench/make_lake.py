"""Write a synthetic lake (lake-writer layout, complete manifests) for benchmarking the jobs.

Users prefer two categories and a brand; product popularity is skewed (Zipf); each user's last
events continue their preferences, so a hold-out evaluation can tell a model from popularity.
Local `file://` output only (pyarrow); copy to HDFS with `hdfs dfs -put` if needed.

    python spark/bench/make_lake.py --lake-root file:///tmp/bench-lake --users 5000 --events 200000
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

META = [
    ("_topic", pa.string()), ("_partition", pa.int32()), ("_offset", pa.int64()),
    ("_timestamp", pa.timestamp("ms", tz="UTC")), ("_key", pa.string()), ("_tombstone", pa.bool_()),
]


def write_hour(root: str, topic: str, hour: datetime, table: pa.Table) -> None:
    d = os.path.join(root, topic, f"date={hour:%Y-%m-%d}", f"hour={hour:%H}")
    os.makedirs(d, exist_ok=True)
    first, last = table["_offset"][0].as_py(), table["_offset"][-1].as_py()
    pq.write_table(table, os.path.join(d, f"{topic}+0+{first}+{last}.parquet"))
    with open(os.path.join(d, "_manifest.json"), "w") as f:
        json.dump({"complete": True, "topic": topic, "rows": table.num_rows}, f)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake-root", required=True, help="file:// URL")
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--products", type=int, default=2000)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--categories", type=int, default=20)
    p.add_argument("--brands", type=int, default=50)
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    root = a.lake_root.removeprefix("file://")
    rng = np.random.default_rng(a.seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    pid = [f"p{i:05d}" for i in range(a.products)]
    cat = rng.integers(0, a.categories, a.products)
    brand = rng.integers(0, a.brands, a.products)
    available = np.where(rng.random(a.products) < 0.05, 0, rng.integers(1, 100, a.products))
    pop = 1.0 / np.arange(1, a.products + 1) ** 0.8
    rng.shuffle(pop)
    n = a.products
    products = pa.table({
        "_topic": ["products-filtered"] * n, "_partition": pa.array([0] * n, pa.int32()),
        "_offset": pa.array(range(n), pa.int64()), "_timestamp": pa.array([t0] * n, pa.timestamp("ms", tz="UTC")),
        "_key": pid, "_tombstone": [False] * n,
        "product_id": pid, "name": [f"Product {i}" for i in range(n)],
        "description": [""] * n,
        "price": pa.array([{"amount": Decimal("99.90"), "currency": "RUB"}] * n,
                          pa.struct([("amount", pa.decimal128(12, 2)), ("currency", pa.string())])),
        "category": [f"cat{c}" for c in cat], "brand": [f"brand{b}" for b in brand],
        "stock": pa.array([{"available": int(x), "reserved": 0} for x in available],
                          pa.struct([("available", pa.int32()), ("reserved", pa.int32())])),
        "sku": [f"sku-{i}" for i in range(n)], "store_id": ["s1"] * n,
    })
    write_hour(root, "products-filtered", t0, products)
    bans = pa.table({
        "_topic": ["product-bans"], "_partition": pa.array([0], pa.int32()), "_offset": pa.array([0], pa.int64()),
        "_timestamp": pa.array([t0], pa.timestamp("ms", tz="UTC")), "_key": ["brand:brand7"], "_tombstone": [False],
        "kind": ["brand"], "value": ["brand7"], "reason": ["bench"], "added_by": ["bench"],
        "added_at": pa.array([t0], pa.timestamp("ms", tz="UTC")),
    })
    write_hour(root, "product-bans", t0, bans)

    by_cat = [np.flatnonzero(cat == c) for c in range(a.categories)]
    prefs = rng.integers(0, a.categories, (a.users, 2))
    users = rng.integers(0, a.users, a.events)
    from_pref = rng.random(a.events) < 0.8
    chosen_cat = np.where(from_pref, prefs[users, rng.integers(0, 2, a.events)],
                          rng.integers(0, a.categories, a.events))
    prod = np.empty(a.events, dtype=np.int64)
    for c in range(a.categories):
        idx = np.flatnonzero(chosen_cat == c)
        members = by_cat[c]
        w = pop[members] / pop[members].sum()
        prod[idx] = rng.choice(members, size=idx.size, p=w)
    etype = rng.choice(["view", "add_to_cart", "purchase"], size=a.events, p=[0.7, 0.2, 0.1])
    ts = np.sort(rng.integers(0, a.hours * 3600 * 1000, a.events))
    hour_of = ts // 3_600_000
    for h in range(a.hours):
        idx = np.flatnonzero(hour_of == h)
        if idx.size == 0:
            continue
        k = idx.size
        hour = t0 + timedelta(hours=h)
        table = pa.table({
            "_topic": ["client-events"] * k, "_partition": pa.array([0] * k, pa.int32()),
            "_offset": pa.array(idx, pa.int64()),
            "_timestamp": pa.array([t0 + timedelta(milliseconds=int(x)) for x in ts[idx]],
                                   pa.timestamp("ms", tz="UTC")),
            "_key": [f"u{u}" for u in users[idx]], "_tombstone": [False] * k,
            "user_id": [f"u{u}" for u in users[idx]], "session_id": [f"s{u}" for u in users[idx]],
            "event_type": etype[idx].tolist(), "product_id": [pid[i] for i in prod[idx]],
            "query": pa.array([None] * k, pa.string()), "rating": pa.array([None] * k, pa.int32()),
            "ts": pa.array([t0 + timedelta(milliseconds=int(x)) for x in ts[idx]], pa.timestamp("ms", tz="UTC")),
        })
        write_hour(root, "client-events", hour, table)
    print(json.dumps({"lake_root": a.lake_root, "users": a.users, "products": a.products, "events": a.events}))


if __name__ == "__main__":
    main()
