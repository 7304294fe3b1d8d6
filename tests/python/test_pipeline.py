"""The whole pipeline, end to end, as `make demo` runs it: bans → SHOP API → ban filter → client
activity → mirror → lake writer → `recommendations` (Spark, then the publisher) under the jobs
driver → the recommendations topic on prod, read back by an independent client (confluent-kafka's
AvroDeserializer against the schema registry).

    .vygoda/venv/bin/python -m pytest tests/python/test_pipeline.py

It runs `platform/demo.py` and checks what it reports and what it left behind. `make test` runs it
before the other Python suites, so the dashboard tests find data from every service and a
finished jobs run. A platform that is not up fails it (conftest.py's `platform` fixture).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / ".vygoda" / "demo-report.json"


@pytest.fixture(scope="module")
def report(platform):
    REPORT.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, str(REPO / "platform" / "demo.py")], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"demo failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    return json.loads(REPORT.read_text())


def test_every_stage_carried_records(report):
    assert report["publish exit code"] == 0, "the bundled catalogue has no invalid record"
    products = report["products records (prod)"]
    filtered = report["products-filtered records (prod = analytics)"]
    assert products >= 2000
    # Banned products of the catalogue never reach the filtered topic (tombstones aside, which
    # only retroactive bans write), so the filtered topic holds fewer records than `products`.
    assert 0 < filtered < products
    assert report["client-events records (prod = analytics)"] >= 60000
    assert report["product-bans records (prod = analytics)"] >= 6


def test_the_run_succeeded_and_its_recommendations_were_published(report):
    run = report["run"]
    assert run["state"] == "succeeded", run
    assert run["exit_code"] == 0, run
    assert run["output_path"].endswith(f"run_id={run['run_id']}")
    # Every user of the simulation with events in the training window gets a list.
    assert report["recommendations records of this run (prod)"] >= 1000


def test_sample_is_ranked_top_n_without_banned_products(report):
    sample = report["sample"]
    items = sample["items"]
    assert len(items) == 10
    assert [rank for rank, _, _ in items] == list(range(1, 11))
    assert len({pid for _, pid, _ in items}) == 10, "no product twice"
    assert "234" not in {pid for _, pid, _ in items}, "the banned product id of the scenario"
    assert sample["model"] in {"als", "popularity", "als+popularity"}


def test_quality_metrics_of_model_and_baseline_are_carried(report):
    quality = report["quality (hold-out)"]
    for model in ("als", "popularity"):
        for metric in ("precision@10", "recall@10", "ndcg@10"):
            value = quality[f"{model}.{metric}"]
            assert 0.0 <= value <= 1.0, (model, metric, value)
