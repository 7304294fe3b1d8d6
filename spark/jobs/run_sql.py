"""Run a Spark SQL file over Parquet inputs and write the last statement's result as Parquet.

Inputs become temporary views: ``--input name=path`` reads every Parquet file under a path,
``--lake-input name=topic`` reads only the complete hours of a lake topic (watermarks recorded in
``_inputs.json`` next to the output). ``${param}`` placeholders in the SQL are filled from
``--param name=value``. Statements are separated by ``;`` at the end of a line.
"""

from __future__ import annotations

import argparse
import json
import string
import sys

import common


def split_statements(sql: str) -> list[str]:
    """Split on `;` outside single-quoted literals and `--` comments; drop empty statements."""
    statements, current, quoted, comment = [], [], False, False
    i = 0
    while i < len(sql):
        ch = sql[i]
        if comment:
            if ch == "\n":
                comment = False
                current.append(ch)
        elif quoted:
            current.append(ch)
            if ch == "'":
                quoted = False
        elif ch == "'":
            quoted = True
            current.append(ch)
        elif sql.startswith("--", i):
            comment = True
            i += 1
        elif ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def render(sql: str, params: dict[str, str]) -> str:
    try:
        return string.Template(sql).substitute(params)
    except KeyError as e:
        raise SystemExit(f"error: the SQL uses ${{{e.args[0]}}} but no --param {e.args[0]}=… was given") from None


def pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"error: {flag} `{item}` must be name=value")
        out[name.strip()] = value.strip()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sql", required=True, help="SQL file to run")
    parser.add_argument("--input", action="append", default=[], help="view=path (Parquet, any layout)")
    parser.add_argument("--lake-input", action="append", default=[], help="view=topic (complete hours only)")
    parser.add_argument("--lake-root", default=None, help="lake root URL, needed by --lake-input")
    parser.add_argument("--until", "--complete-before", dest="until", default=None,
                        help="with --lake-input: read hours ending at or before this UTC time")
    parser.add_argument("--param", action="append", default=[], help="name=value for ${name} in the SQL")
    parser.add_argument("--output", required=True, help="output directory (URL); replaced")
    parser.add_argument("--output-files", type=int, default=1, help="Parquet files to write")
    args = parser.parse_args(argv)
    if args.lake_input and not args.lake_root:
        parser.error("--lake-input needs --lake-root")
    return args


def run(spark, args: argparse.Namespace) -> dict:
    inputs, lake_inputs, params = (
        pairs(args.input, "--input"), pairs(args.lake_input, "--lake-input"), pairs(args.param, "--param"),
    )
    with open(args.sql, encoding="utf-8") as f:
        statements = split_statements(render(f.read(), params))
    if not statements:
        raise SystemExit(f"error: {args.sql} holds no SQL statement")
    watermarks = {}
    for view, path in inputs.items():
        spark.read.option("mergeSchema", "true").parquet(path).createOrReplaceTempView(view)
    until = common.parse_utc(args.until)
    for view, topic in lake_inputs.items():
        df, chosen = common.read_topic(spark, args.lake_root, topic, until, {})
        if df is None:
            common.fail(f"no complete hour partitions of `{topic}` under {args.lake_root}")
        df.createOrReplaceTempView(view)
        watermarks[topic] = chosen.watermark()
    result = None
    for statement in statements:
        result = spark.sql(statement)
    result.coalesce(args.output_files).write.mode("overwrite").parquet(args.output)
    if watermarks:
        common.write_json(spark, f"{args.output.rstrip('/')}/_inputs.json", {
            "lake_root": args.lake_root, "until": args.until, "topics": watermarks,
        })
    return {"output": args.output, "statements": len(statements)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.spark_session(f"vygoda-sql-{args.sql.rsplit('/', 1)[-1]}")
    try:
        print(json.dumps(run(spark, args)), flush=True)
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
