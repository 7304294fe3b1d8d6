"""Spark standalone: a master, one worker and a history server, from the pyspark package's
`spark-class` (no Spark distribution is downloaded). Event logs go to HDFS (/spark-events), where
the history server reads them, so every run of the jobs driver can be looked at after it ended.

Configuration: spark/conf/spark-defaults.conf, rendered into .vygoda/spark-conf (SPARK_CONF_DIR).
"""
import functools
import json
import subprocess
import urllib.request

from . import paths, procs

MASTER = "spark://127.0.0.1:7077"
MASTER_UI = "http://127.0.0.1:8080"
WORKER_UI = "http://127.0.0.1:8081"
HISTORY_UI = "http://127.0.0.1:18080"
CONF = paths.STATE / "spark-conf"
WORKER_CORES = 2
WORKER_MEMORY = "3g"


@functools.cache
def home() -> str:
    """SPARK_HOME: the pyspark package folder of the project venv (its bin/ and jars/ are complete).
    The venv's real path, not the .vygoda/venv link: a new pyspark pin makes a new venv, so the
    daemons' command line changes and `make up` restarts them on the version the jobs submit with."""
    python = paths.VENV_LINK.resolve() / "bin" / "python"
    return subprocess.run([python, "-c", "import pyspark, os; print(os.path.dirname(pyspark.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def render_conf() -> None:
    CONF.mkdir(parents=True, exist_ok=True)
    (paths.STATE / "spark" / "tmp").mkdir(parents=True, exist_ok=True)
    text = (paths.REPO / "spark" / "conf" / "spark-defaults.conf").read_text()
    (CONF / "spark-defaults.conf").write_text(text.replace("@@VYGODA_DIR@@", str(paths.STATE)))


def env() -> dict:
    return {
        "SPARK_HOME": home(),
        "SPARK_CONF_DIR": str(CONF),
        # The daemons only schedule and serve pages; executors get their own memory.
        "SPARK_DAEMON_MEMORY": "384m",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(paths.LOGS),
    }


def _class(main: str, *args) -> list:
    return [f"{home()}/bin/spark-class", main, *args]


def _json(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=3) as r:
        return json.load(r)


def master_alive() -> bool:
    state = _json(f"{MASTER_UI}/json/")
    return state.get("status") == "ALIVE" and any(w.get("state") == "ALIVE" for w in state.get("workers", []))


def history_alive() -> bool:
    return isinstance(_json(f"{HISTORY_UI}/api/v1/applications?limit=1"), list)


def start() -> None:
    render_conf()
    work = paths.STATE / "spark" / "work"
    work.mkdir(parents=True, exist_ok=True)
    procs.start("spark-master", _class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                       "--port", "7077", "--webui-port", "8080"), env=env())
    procs.start("spark-worker", _class("org.apache.spark.deploy.worker.Worker", MASTER, "--host", "127.0.0.1",
                                       "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                                       "--webui-port", "8081", "--work-dir", str(work)), env=env())
    procs.start("spark-history", _class("org.apache.spark.deploy.history.HistoryServer"), env=env())
    procs.wait_for("Spark master with a live worker", master_alive, 90, "spark-worker")
    procs.wait_for("Spark history server", history_alive, 90, "spark-history")


def stop() -> None:
    for name in ("spark-history", "spark-worker", "spark-master"):
        procs.stop(name)
