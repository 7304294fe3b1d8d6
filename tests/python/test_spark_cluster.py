"""The Spark standalone cluster as its users see it: a `vygoda-jobs run` on the platform's default
master runs on the standalone worker, the run history names the Spark application and its
history-server page, and after the run the history server's REST API shows the application —
named after the run — with its jobs succeeded.

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_spark_cluster.py` (after `make up`).
"""
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from browser import render, screenshot
from platform_facts import FILE as PLATFORM_FILE
from polling import wait_for

from workspace import built

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(platform) -> dict:
    """The platform's Spark: submit, python, master, master_ui, history_url."""
    return platform["spark"]


def run_job(tmp: Path, job: str, definition: str, *run_args: str):
    """`vygoda-jobs run <job>` with a jobs file of its own; returns the CLI prefix and the process."""
    (tmp / "jobs.toml").write_text(f"""
[driver]
log_dir = "{tmp}/logs"
env = {{ SPARK_LOCAL_IP = "127.0.0.1" }}

[jobs.{job}]
{definition}
timeout = "10m"
""")
    cli = [str(built("bins", "vygoda-jobs")), "--jobs", str(tmp / "jobs.toml"), "--platform", str(PLATFORM_FILE)]
    proc = subprocess.run([*cli, "run", job, *run_args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return cli, proc


@pytest.fixture(scope="module")
def finished_run(platform, tmp_path_factory):
    """One run of a small PySpark job through the jobs driver, on the default master."""
    tmp = tmp_path_factory.mktemp("spark-cluster")
    job = f"cluster-{uuid.uuid4().hex[:8]}"
    cli, _ = run_job(tmp, job, f"""
script = "{REPO / 'jobs' / 'tests' / 'fixtures' / 'spark_ok.py'}"
py_files = ["{REPO / 'spark' / 'jobs' / 'common.py'}"]
args = ["--output", "{{output}}", "--run-id", "{{run_id}}"]
output = "file://{tmp}/out/{{run_id}}"
""", "--quiet")
    history = subprocess.run([*cli, "history", job, "--json"], capture_output=True, text=True, check=True)
    run = json.loads(history.stdout.splitlines()[0])
    return cli, run


def test_runs_go_to_the_standalone_master_by_default(cluster, finished_run):
    _, run = finished_run
    assert cluster["master"].startswith("spark://"), cluster["master"]
    app = run["spark_app_id"]
    # The standalone master names applications app-<time>-<seq>; local mode would say local-….
    assert app and app.startswith("app-"), run
    master = requests.get(f"{cluster['master_ui']}/json/", timeout=10).json()
    done = {a["id"]: a for a in master["completedapps"]}
    assert app in done, f"{app} not among the master's completed applications"
    assert done[app]["name"] == f"vygoda-{run['job']}-{run['run_id']}"
    assert done[app]["state"] == "FINISHED"


def test_history_server_shows_the_run_with_its_jobs_succeeded(cluster, finished_run):
    _, run = finished_run
    app = run["spark_app_id"]
    assert run["spark_ui"] == f"{cluster['history_url']}/history/{app}/jobs/"
    api = f"{cluster['history_url']}/api/v1/applications"

    def listed():
        apps = requests.get(api, params={"status": "completed"}, timeout=10).json()
        return next((a for a in apps if a["id"] == app), None)

    # The history server picks a finished event log up on its own schedule.
    entry = wait_for(f"application {app} on the history server", listed, 60, 0.5)
    assert run["run_id"] in entry["name"]
    assert entry["attempts"][-1]["completed"] is True
    jobs = requests.get(f"{api}/{app}/jobs", timeout=10).json()
    assert jobs, "the application ran no Spark job"
    assert {j["status"] for j in jobs} == {"SUCCEEDED"}, jobs

    dom = render(run["spark_ui"])
    assert "Completed Jobs" in dom, "the history server's page of the run shows no completed jobs"
    screenshot(run["spark_ui"], "spark-history-run")


def test_logs_point_at_the_application(finished_run):
    cli, run = finished_run
    logs = subprocess.run([*cli, "logs", run["run_id"]], capture_output=True, text=True, check=True).stdout
    assert f"spark application {run['spark_app_id']}, history {run['spark_ui']}" in logs.splitlines()[0]


def test_packages_resolve_from_maven_central_at_the_runtime_version(cluster, tmp_path):
    """A job that wants a Spark package (spark-avro) names it in its `conf`; the driver's run on the
    cluster resolves it from Maven Central at the version of the pyspark the platform runs."""
    version = subprocess.run([cluster["python"], "-c", "import pyspark; print(pyspark.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    _, proc = run_job(tmp_path, f"packages-{uuid.uuid4().hex[:8]}", f"""
script = "{REPO / 'tests' / 'fixtures' / 'spark_avro_roundtrip.py'}"
args = ["--output", "file://{tmp_path}/avro"]
conf = {{ "spark.jars.packages" = "org.apache.spark:spark-avro_2.13:{version}" }}
""")
    assert "avro rows=500" in proc.stdout
    assert f"spark-avro_2.13;{version}" in proc.stdout + proc.stderr, "not resolved through Ivy"
