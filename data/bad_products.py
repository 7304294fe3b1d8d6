"""The SHOP API's bad-input corpus: every way a shop's file can be wrong, mixed with good records.

Writes into data/bad-products/:
  mixed.ndjson   good and bad records, one per line (one line holds raw invalid UTF-8 bytes)
  array.json     a JSON array whose middle element is malformed; its neighbours must still go
  expected.json  for each file: the index, field and error kind of every bad record, and the ids
                 of the good ones (the integration test asserts on these, not on logs)
"""
import copy
import json
from pathlib import Path


def _bad_cases(base: dict) -> list:
    """(label, record or raw bytes, field, kind)."""

    def mutate(fn):
        item = copy.deepcopy(base)
        fn(item)
        return item

    def without(*path):
        def fn(item):
            node = item
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
        return mutate(fn)

    def setting(value, *path):
        def fn(item):
            node = item
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        return mutate(fn)

    good_line = json.dumps(base, ensure_ascii=False)
    invalid_utf8 = good_line.replace(base["name"], "BADNAME").encode("utf-8").replace(
        b"BADNAME", b"\xd0\x9f\xff\xfe \xc3\x28")
    return [
        ("malformed JSON", good_line[: len(good_line) // 2].encode(), "", "malformed_json"),
        ("invalid UTF-8", invalid_utf8, "", "invalid_utf8"),
        ("not an object", b"[1, 2, 3]", "", "not_an_object"),
        ("missing name", without("name"), "name", "missing"),
        ("missing price", without("price"), "price", "missing"),
        ("missing store_id", without("store_id"), "store_id", "missing"),
        ("null name", setting(None, "name"), "name", "missing"),
        ("missing currency", without("price", "currency"), "price.currency", "missing"),
        ("name is a number", setting(42, "name"), "name", "wrong_type"),
        ("stock is text", setting("десять", "stock", "available"), "stock.available", "wrong_type"),
        ("fractional stock", setting(3.5, "stock", "available"), "stock.available", "wrong_type"),
        ("specification value is a number", setting({"Вес": 5}, "specifications"),
         "specifications.Вес", "wrong_type"),
        ("negative price", setting(-10.5, "price", "amount"), "price.amount", "out_of_range"),
        ("price too large", setting(1e12, "price", "amount"), "price.amount", "out_of_range"),
        ("price with 3 decimals", setting(10.999, "price", "amount"), "price.amount", "invalid_format"),
        ("price is not a number", setting("abc", "price", "amount"), "price.amount", "invalid_format"),
        ("empty id", setting("", "product_id"), "product_id", "empty"),
        ("id with spaces", setting("a b", "product_id"), "product_id", "invalid_format"),
        ("huge description", setting("Очень длинное описание. " * 3000, "description"),
         "description", "too_long"),
        ("unknown currency (old rouble code)", setting("RUR", "price", "currency"),
         "price.currency", "unknown_currency"),
        ("lowercase currency", setting("rub", "price", "currency"), "price.currency", "unknown_currency"),
        ("impossible timestamp", setting("2024-13-45T25:61:00Z", "created_at"), "created_at",
         "invalid_format"),
        ("timestamp without offset", setting("2024-01-15 10:30:00", "updated_at"), "updated_at",
         "invalid_format"),
        ("updated before created", mutate(lambda i: i.update(created_at="2024-05-01T00:00:00Z",
                                                              updated_at="2024-04-01T00:00:00Z")),
         "updated_at", "inconsistent"),
        ("negative stock", setting(-5, "stock", "available"), "stock.available", "out_of_range"),
        ("reserved above available", mutate(lambda i: i.update(stock={"available": 3, "reserved": 7})),
         "stock.reserved", "inconsistent"),
        ("ftp image url", setting([{"url": "ftp://cdn.pokupay.example/a.jpg"}], "images"),
         "images[0].url", "invalid_format"),
        ("javascript image url", setting([{"url": "https://cdn.pokupay.example/ok.jpg"},
                                          {"url": "javascript:alert(1)"}], "images"),
         "images[1].url", "invalid_format"),
        ("too many tags", setting([f"тег{n}" for n in range(60)], "tags"), "tags", "too_many"),
        ("empty tag", setting(["хит", ""], "tags"), "tags[1]", "empty"),
        ("unknown field", setting("красный", "colour"), "colour", "unknown_field"),
    ]


def write_corpus(out: Path, good: list) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for n, item in enumerate(good):
        item["product_id"] = f"good-{n + 1}"
    cases = _bad_cases(good[0])

    lines, expected = [], {"good_ids": [], "bad": []}
    goods = iter(good)
    for n, (label, record, field, kind) in enumerate(cases):
        # A good record every fifth line: the test checks that they all still go through.
        if n % 5 == 0:
            item = next(goods, None)
            if item is not None:
                lines.append(json.dumps(item, ensure_ascii=False).encode())
                expected["good_ids"].append(item["product_id"])
        raw = record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode()
        expected["bad"].append({"index": len(lines), "label": label, "field": field, "kind": kind})
        lines.append(raw)
    (out / "mixed.ndjson").write_bytes(b"\n".join(lines) + b"\n")

    # A JSON array cannot be parsed as a whole when one element is broken; the SHOP API splits
    # it into elements first, so only the broken one is rejected.
    left, right = good[-2], good[-1]
    # Invalid JSON (trailing comma) with balanced brackets: the splitter still finds its end.
    # (Unbalanced brackets cannot be resynchronised: the rest of the array would be one record.)
    broken = '{"product_id": "broken-1", "name": "Сломанный товар", "price": {"amount": 10,}}'
    array = ("[\n" + json.dumps(left, ensure_ascii=False) + ",\n" + broken + ",\n"
             + json.dumps(right, ensure_ascii=False) + "\n]\n")
    (out / "array.json").write_text(array, encoding="utf-8")

    files = {
        "mixed.ndjson": expected,
        "array.json": {"good_ids": [left["product_id"], right["product_id"]],
                       "bad": [{"index": 1, "label": "malformed element", "field": "",
                                "kind": "malformed_json"}]},
    }
    (out / "expected.json").write_text(json.dumps(files, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    return len(cases) + 1
