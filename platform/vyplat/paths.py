"""Where things live: the repository, its state folder (.vygoda) and the download cache.

The cache sits outside the clone and is keyed by version, so a fresh clone on a machine that has
already resolved the brokers' jars or downloaded Spark does not do it again, and `make reset` never throws
away 20 minutes of downloads.
"""
import hashlib
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("VYGODA_STATE_DIR", REPO / ".vygoda"))
CACHE = Path(os.environ.get("VYGODA_CACHE_DIR", Path.home() / ".cache" / "vygoda"))

RUN = STATE / "run"          # pid files
LOGS = STATE / "logs"        # one log per process
TLS = STATE / "tls"          # CA and server certificates
SECRETS = STATE / "secrets"  # generated passwords (0600)
PLATFORM_JSON = STATE / "platform.json"

KAFKA_POM = REPO / "kafka" / "local" / "pom.xml"
JMX_EXPORTER_VERSION = "1.0.1"
JMX_EXPORTER = CACHE / f"jmx-exporter-{JMX_EXPORTER_VERSION}" / f"jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"
HADOOP_POM = REPO / "hadoop" / "local" / "pom.xml"
VENV_LINK = STATE / "venv"
SPARK_SUBMIT = STATE / "bin" / "spark-submit"
# Dev profile: dependencies are built with opt-level 2 (Cargo.toml), and tests share the build.
BIN_DIR = REPO / "target" / "debug"


def kafka_libs() -> Path:
    """The brokers' jars, keyed by kafka/local/pom.xml (which pins the version)."""
    return _pom_keyed(KAFKA_POM, "kafka")


def pom_version(pom_file: Path, name: str) -> str:
    """The version a pom pins in its `<name.version>` property."""
    return re.search(rf"<{name}.version>([^<]+)</{name}.version>", pom_file.read_text()).group(1)


def _pom_keyed(pom_file: Path, name: str) -> Path:
    digest = hashlib.sha256(pom_file.read_bytes()).hexdigest()[:12]
    return CACHE / f"{name}-{pom_version(pom_file, name)}-{digest}"


def hadoop_libs() -> Path:
    """The HDFS daemons' jars (and, in `ui/`, their web pages), keyed by hadoop/local/pom.xml."""
    return _pom_keyed(HADOOP_POM, "hadoop")


def venv_dir() -> Path:
    """The project venv, keyed by the hash of platform/requirements.txt so a change rebuilds it."""
    digest = hashlib.sha256((REPO / "platform" / "requirements.txt").read_bytes()).hexdigest()[:12]
    return CACHE / f"venv-{digest}"


def ensure_dirs() -> None:
    for d in (STATE, RUN, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    SECRETS.mkdir(parents=True, exist_ok=True)
    os.chmod(SECRETS, 0o700)
