"""The SHOP API's bad-input corpus: every way a shop's file can be wrong, mixed with good records.

Writes into data/bad-products/:
  mixed.ndjson   good and bad records, one per line (one line holds raw invalid UTF-8 bytes); the
                 file starts with a byte order mark and one good line ends in CRLF, both accepted
  array.json     a JSON array whose middle element is malformed; its neighbours must still go
  expected.json  for each file: the index, field and error kind of every bad record, and the ids
                 of the good ones (the integration test asserts on these, not on logs), and the
                 edge cases that must be accepted ("accepted": index, label, id)
"""
import copy
import json
from pathlib import Path

PLACEHOLDER = "@@RAW@@"


def _bad_cases(base: dict) -> list:
    """(label, record or raw bytes, field, kind); kind None marks an edge case that must be
    accepted (its record carries its own product_id)."""

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

    def raw(text, *path):
        """The base record with the value at `path` replaced by raw JSON text `text` (for what
        json.dumps cannot write: 1e400, duplicate keys, 10,000 nested arrays)."""
        line = json.dumps(setting(PLACEHOLDER, *path), ensure_ascii=False)
        return line.replace(json.dumps(PLACEHOLDER), text).encode()

    def good(pid, fn):
        item = mutate(fn)
        item["product_id"] = pid
        return item

    good_line = json.dumps(base, ensure_ascii=False)
    price = json.dumps(base["price"], ensure_ascii=False)
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
        # Invisible and control characters in text buyers see and bans match on.
        ("zero-width space in name", setting("Смарт\u200bфон Orion", "name"), "name",
         "forbidden_character"),
        ("zero-width non-joiner in brand", setting("Ori\u200con", "brand"), "brand",
         "forbidden_character"),
        ("zero-width joiner in sku", setting("PHN-\u200d000000", "sku"), "sku",
         "forbidden_character"),
        ("BOM (U+FEFF) inside name", setting("\ufeffСмартфон Orion", "name"), "name",
         "forbidden_character"),
        ("zero-width space in product_id", setting("bad\u200b-1", "product_id"), "product_id",
         "forbidden_character"),
        ("escape sequence in name", setting("Orion \x1b[31mSALE", "name"), "name",
         "forbidden_character"),
        ("NUL in brand", setting("Ori\x00on", "brand"), "brand", "forbidden_character"),
        # Bidi controls: the text would display differently from its bytes (Trojan Source).
        ("right-to-left override in name", setting("Чехол \u202egpj.exe", "name"), "name",
         "forbidden_character"),
        ("left-to-right mark in store_id", setting("store-048\u200e", "store_id"), "store_id",
         "forbidden_character"),
        ("right-to-left mark in category", setting("\u200fСмартфоны", "category"), "category",
         "forbidden_character"),
        ("bidi isolate in description", setting("Цена \u2066указана\u2069 без НДС", "description"),
         "description", "forbidden_character"),
        ("bidi embedding in a tag", setting(["5g", "\u202aNFC\u202c"], "tags"), "tags[1]",
         "forbidden_character"),
        # Size and shape.
        ("record over 1 MiB (huge description)",
         setting("Очень длинное описание. " * 30000, "description"), "", "too_large"),
        ("10,000 nested arrays in tags", raw("[" * 10000 + "]" * 10000, "tags"), "tags",
         "too_deep"),
        ("price key twice", good_line.replace("{", '{"price": ' + price + ", ", 1).encode(),
         "price", "duplicate_key"),
        ("amount key twice", raw('{"amount": 10, "amount": 99999, "currency": "RUB"}', "price"),
         "price.amount", "duplicate_key"),
        # Numbers beyond i64 and beyond f64.
        ("stock 1e30", setting(1e30, "stock", "available"), "stock.available", "out_of_range"),
        ("stock 2^64", setting(18446744073709551616, "stock", "available"), "stock.available",
         "out_of_range"),
        ("price 1e400 (beyond f64)", raw("1e400", "price", "amount"), "price.amount",
         "out_of_range"),
        ("reserved -1e400 (beyond f64)", raw("-1e400", "stock", "reserved"), "stock.reserved",
         "out_of_range"),
        ("price 1e30", setting(1e30, "price", "amount"), "price.amount", "out_of_range"),
        ("NaN price", setting(float("nan"), "price", "amount"), "", "malformed_json"),
        ("Infinity stock", setting(float("inf"), "stock", "available"), "", "malformed_json"),
        # Money beyond the schema's decimal(12, 2).
        ("price with binary float noise", setting(0.1 + 0.2, "price", "amount"), "price.amount",
         "invalid_format"),
        ("price string with 3 decimals", setting("10.001", "price", "amount"), "price.amount",
         "invalid_format"),
        # Timestamps the schema's timestamp-millis could hold but a product cannot have.
        ("year 10000", setting("10000-01-01T00:00:00Z", "created_at"), "created_at",
         "invalid_format"),
        ("before the epoch", setting("1969-12-31T23:59:59Z", "created_at"), "created_at",
         "out_of_range"),
        # Empty-looking text and ids.
        ("empty name", setting("", "name"), "name", "empty"),
        ("whitespace-only name", setting("    ", "name"), "name", "empty"),
        ("no-break-space-only name", setting("\u00a0\u00a0", "name"), "name", "empty"),
        ("id with a slash", setting("shop/123", "product_id"), "product_id", "invalid_format"),
        ("BOM at the start of a line (concatenated files)", b"\xef\xbb\xbf" + good_line.encode(),
         "", "malformed_json"),
        # Edge cases that must be accepted.
        ("homoglyph: Latin a inside a Cyrillic word (confusables are accepted)",
         good("edge-homoglyph", lambda i: i.update(name="Смaртфон Orion F28")), None, None),
        ("CRLF line ending",
         json.dumps(good("edge-crlf", lambda i: None), ensure_ascii=False).encode() + b"\r",
         None, None),
        ("description with line breaks, a tab and a soft hyphen",
         good("edge-text", lambda i: i.update(description="Строка 1\r\nСтрока\t2, пере\u00adнос")),
         None, None),
        ("price as a decimal string", good("edge-price-string", lambda i: i["price"].update(
            amount="1299.90")), None, None),
    ]


def write_corpus(out: Path, good: list) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for n, item in enumerate(good):
        item["product_id"] = f"good-{n + 1}"
    cases = _bad_cases(good[0])

    lines, expected = [], {"good_ids": [], "bad": [], "accepted": []}
    goods = iter(good[:-2])  # the last two are array.json's
    for n, (label, record, field, kind) in enumerate(cases):
        # A good record every fifth line: the test checks that they all still go through.
        if n % 5 == 0:
            item = next(goods, None)
            if item is not None:
                lines.append(json.dumps(item, ensure_ascii=False).encode())
                expected["good_ids"].append(item["product_id"])
        raw = record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode()
        if kind is None:
            pid = json.loads(raw)["product_id"]
            expected["good_ids"].append(pid)
            expected["accepted"].append({"index": len(lines), "label": label, "id": pid})
        else:
            expected["bad"].append({"index": len(lines), "label": label, "field": field,
                                    "kind": kind})
        lines.append(raw)
    # A byte order mark at the start of the file is accepted (editors on Windows write one).
    expected["accepted"].insert(0, {"index": 0, "label": "BOM at the start of the file",
                                    "id": expected["good_ids"][0]})
    (out / "mixed.ndjson").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")

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
    return len(expected["bad"]) + 1
