"""Install what a fresh machine lacks: Debian packages, the brokers' and HDFS daemons' jars,
the Python venv, and the workspace's binaries. Each step checks first, so a warm run is a
few stat calls."""
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from . import dashboards, paths, spark
from .procs import PlatformError, run

APT_PACKAGES = {
    # package: a file it installs, to check without dpkg queries
    "prometheus": "/usr/bin/prometheus",
    "prometheus-alertmanager": "/usr/bin/prometheus-alertmanager",
    "prometheus-blackbox-exporter": "/usr/bin/prometheus-blackbox-exporter",
    "prometheus-node-exporter": "/usr/bin/prometheus-node-exporter",
    # Short-lived commands push their outcome there (monitoring.py starts it on loopback).
    "prometheus-pushgateway": "/usr/bin/prometheus-pushgateway",
    "postgresql": "/usr/lib/postgresql",
    "openjdk-17-jre-headless": "/usr/bin/java",
    "maven": "/usr/bin/mvn",
    "openssl": "/usr/bin/openssl",
    "libssl-dev": "/usr/include/openssl/ssl.h",
    "pkg-config": "/usr/bin/pkg-config",
    "curl": "/usr/bin/curl",
    # The local dashboards' charting library comes from the npm registry (`npm pack`).
    "npm": "/usr/bin/npm",
    # The browser tests (NameNode file browser, dashboards) drive it headless.
    "chromium": "/usr/bin/chromium",
}


def say(msg: str) -> None:
    print(f"[install] {msg}", flush=True)


def apt() -> None:
    missing = [pkg for pkg, probe in APT_PACKAGES.items() if not os.path.exists(probe)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise PlatformError(f"missing Debian packages: sudo apt-get install {' '.join(missing)}")
    say(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    # Debian starts nothing without systemd, but stop a packaged server if some init did.
    for svc in ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-pushgateway"):
        subprocess.run(["service", svc, "stop"], capture_output=True)


def maven_classpath(pom: Path, target: Path, what: str) -> None:
    """Resolve `pom`'s dependencies from Maven Central into `target` (one folder of jars to use
    as a classpath), once: the folder name carries the pom's hash."""
    if (target / ".complete").exists():
        return
    say(f"resolving {what} from Maven Central into {target}")
    tmp = Path(tempfile.mkdtemp(dir=paths.CACHE))
    run(["mvn", "-q", "-B", "-f", pom, "dependency:copy-dependencies", f"-DoutputDirectory={tmp}",
         "-DincludeScope=runtime"])
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    say(f"{len(list(target.glob('*.jar')))} jars for {what}")


def npm_package(name: str, version: str, target: Path) -> None:
    """One package from the npm registry, unpacked into `target` (keyed by version), once."""
    if (target / "package.json").exists():
        return
    say(f"fetching {name}@{version} from the npm registry")
    tmp = Path(tempfile.mkdtemp(dir=paths.CACHE))
    run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", tmp])
    with tarfile.open(next(tmp.glob("*.tgz"))) as tar:
        tar.extractall(tmp, filter="data")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "package").rename(target)
    shutil.rmtree(tmp, ignore_errors=True)


def maven_artifact(coordinates: str, target: Path) -> None:
    """One artifact (a Java agent) from Maven Central to `target`, once."""
    if target.exists():
        return
    say(f"fetching {coordinates} from Maven Central")
    tmp = Path(tempfile.mkdtemp(dir=paths.CACHE))
    run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={tmp}"])
    target.parent.mkdir(parents=True, exist_ok=True)
    (tmp / target.name).rename(target)
    shutil.rmtree(tmp, ignore_errors=True)


def hadoop() -> None:
    """Hadoop 3's jars from Maven Central, and the NameNode/DataNode web pages, which no main jar
    carries: they ship in hadoop-hdfs's `tests` classifier jar, so take webapps/ out of it."""
    libs = paths.hadoop_libs()
    maven_classpath(paths.HADOOP_POM, libs, "Apache Hadoop")
    ui = libs / "ui"
    if (ui / ".complete").exists():
        return
    version = paths.pom_version(paths.HADOOP_POM, "hadoop")
    tests_jar = paths.CACHE / "maven" / f"hadoop-hdfs-{version}-tests.jar"
    maven_artifact(f"org.apache.hadoop:hadoop-hdfs:{version}:jar:tests", tests_jar)
    tmp = Path(tempfile.mkdtemp(dir=libs))
    with zipfile.ZipFile(tests_jar) as jar:
        pages = [n for n in jar.namelist() if n.startswith("webapps/")]
        jar.extractall(tmp, members=pages)
    if not (tmp / "webapps" / "hdfs" / "explorer.html").exists():
        raise PlatformError(f"{tests_jar.name} has no webapps/hdfs/explorer.html")
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(ui, ignore_errors=True)
    tmp.rename(ui)
    say(f"NameNode and DataNode web pages ready ({len(pages)} files)")


def venv() -> Path:
    target = paths.venv_dir()
    if not (target / ".complete").exists():
        say("creating the project venv (pyspark, pyarrow, confluent-kafka; about a minute)")
        shutil.rmtree(target, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(target)])
        run([target / "bin" / "pip", "install", "-q", "-r", paths.REPO / "platform" / "requirements.txt"])
        (target / ".complete").write_text("ok\n")
    link = paths.VENV_LINK
    if not link.is_symlink() or link.resolve() != target:
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    _spark_wrapper(target)
    return target


def _spark_wrapper(venv: Path) -> None:
    """`.vygoda/bin/spark-submit`: pyspark's own script looks for SPARK_HOME with whatever
    `python3` is first on PATH, so callers outside the venv (the jobs driver, tests) would fail."""
    python = venv / "bin" / "python"
    home = spark.home()
    paths.SPARK_SUBMIT.parent.mkdir(parents=True, exist_ok=True)
    # SPARK_CONF_DIR: the platform's spark-defaults.conf (event logs to HDFS for the history server).
    paths.SPARK_SUBMIT.write_text(
        "#!/bin/sh\n"
        f"export SPARK_HOME='{home}' SPARK_CONF_DIR='{spark.CONF}'\n"
        f"export PYSPARK_PYTHON='{python}' PYSPARK_DRIVER_PYTHON='{python}'\n"
        f"exec '{home}/bin/spark-submit' \"$@\"\n"
    )
    paths.SPARK_SUBMIT.chmod(0o755)


def binaries() -> None:
    """Build the workspace's binaries; cargo makes this a no-op when nothing changed. The dev
    profile (dependencies at opt-level 2) is shared with `cargo test`, so CI compiles once."""
    say("cargo build (workspace binaries)")
    code = subprocess.call(["cargo", "build", "--workspace", "--bins", "--quiet"], cwd=paths.REPO)
    if code != 0:
        raise PlatformError("cargo build failed; fix the build before `make up`")


def all_(build: bool = True) -> None:
    paths.CACHE.mkdir(parents=True, exist_ok=True)
    apt()
    hadoop()
    venv()
    maven_classpath(paths.KAFKA_POM, paths.kafka_libs(), "Apache Kafka")
    maven_artifact(f"io.prometheus.jmx:jmx_prometheus_javaagent:{paths.JMX_EXPORTER_VERSION}", paths.JMX_EXPORTER)
    # The charting library of the local dashboards (monitoring/viewer).
    npm_package("uplot", dashboards.UPLOT_VERSION, dashboards.uplot().parent)
    if build:
        binaries()
