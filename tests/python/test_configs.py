"""Static checks of the committed Hadoop, Grafana and Prometheus configuration files.

    .vygoda/venv/bin/python -m pytest tests/python/test_configs.py

Standard library only; needs neither the platform nor the monitoring binaries, only the Hadoop jars
`make up` resolves (Hadoop's own config checker runs on every XML file). Where the local platform
file exists its addresses are cross-checked too.
"""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
HADOOP = REPO / "hadoop"
MONITORING = REPO / "monitoring"
PLATFORM_FILE = Path(os.environ.get("VYGODA_PLATFORM", REPO / ".vygoda" / "platform.json"))
SERVICES = {"ban-filter": 9101, "mirror": 9102, "lake-writer": 9103, "jobs-driver": 9104, "schema-registry": 9105,
            "store-sink": 9106, "client-api": 9107}
# The local addresses `make up` uses (platform/vyplat/kafka.py, services.py, registry.py); platform.json, when present,
# must agree too.
BROKERS = {
    "prod": ["127.0.0.1:19092", "127.0.0.1:19093", "127.0.0.1:19094"],
    "analytics": ["127.0.0.1:29092", "127.0.0.1:29093", "127.0.0.1:29094"],
}


def properties(path: Path) -> dict:
    root = ET.parse(path).getroot()
    assert root.tag == "configuration", f"{path}: root element is {root.tag}, not configuration"
    props = {}
    for prop in root.findall("property"):
        name = prop.findtext("name")
        value = prop.findtext("value")
        assert name and value is not None, f"{path}: property without name or value"
        assert name not in props, f"{path}: {name} set twice"
        props[name] = " ".join(value.split())
    return props


def platform():
    return json.loads(PLATFORM_FILE.read_text()) if PLATFORM_FILE.exists() else None


# --------------------------------------------------------------------------- Hadoop, local


@pytest.fixture(scope="module")
def local():
    core = properties(HADOOP / "local" / "core-site.xml")
    hdfs = properties(HADOOP / "local" / "hdfs-site.xml")
    return core, hdfs


def test_local_required_settings(local):
    core, hdfs = local
    expected = {
        "dfs.replication": "1",
        "dfs.datanode.hostname": "127.0.0.1",
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.client.use.datanode.hostname": "false",
        "dfs.namenode.safemode.extension": "0",
        "dfs.webhdfs.enabled": "true",
        "dfs.permissions.enabled": "false",
        "dfs.namenode.rpc-address": "127.0.0.1:9000",
        "dfs.namenode.http-address": "127.0.0.1:9870",
        "dfs.datanode.address": "127.0.0.1:9866",
        "dfs.datanode.http.address": "127.0.0.1:9864",
        "dfs.datanode.ipc.address": "127.0.0.1:9867",
        "dfs.namenode.name.dir": "file://@@VYGODA_DIR@@/hdfs/name",
        "dfs.datanode.data.dir": "file://@@VYGODA_DIR@@/hdfs/data",
    }
    wrong = {k: hdfs.get(k) for k, v in expected.items() if hdfs.get(k) != v}
    assert not wrong, f"hdfs-site.xml differs from the platform facts: {wrong}"
    assert core["fs.defaultFS"] == "hdfs://127.0.0.1:9000"
    assert core["hadoop.security.authentication"] == "simple"


def test_local_addresses_stay_on_loopback(local):
    _, hdfs = local
    for name, value in hdfs.items():
        if name.endswith(("address", "-address")):
            assert value.startswith("127.0.0.1:"), f"{name}={value} would listen beyond loopback"


def test_local_default_fs_matches_namenode_and_platform(local):
    core, hdfs = local
    default_fs = urlparse(core["fs.defaultFS"])
    assert default_fs.netloc == hdfs["dfs.namenode.rpc-address"]
    plat = platform()
    if plat is not None:
        assert urlparse(plat["hdfs"]["url"]).netloc == default_fs.netloc
        assert urlparse(plat["hdfs"]["namenode_http"]).netloc == hdfs["dfs.namenode.http-address"]
        assert urlparse(plat["hdfs"]["webhdfs"]).netloc == hdfs["dfs.namenode.http-address"]


def test_local_templates_only_use_known_placeholders():
    for path in (HADOOP / "local").glob("*.xml"):
        placeholders = set(re.findall(r"@@[A-Z_]+@@", path.read_text()))
        assert placeholders <= {"@@VYGODA_DIR@@"}, f"{path}: {placeholders}"


def test_local_log4j_writes_into_hadoop_log_dir():
    text = (HADOOP / "local" / "log4j.properties").read_text()
    assert re.search(r"^log4j\.appender\.RFA\.File=\$\{hadoop\.log\.dir\}/", text, re.MULTILINE)
    assert "log4j.appender.console=org.apache.log4j.ConsoleAppender" in text


def vyplat_paths():
    # The install step's view of versions and caches (platform/vyplat/paths.py).
    sys.path.insert(0, str(REPO / "platform"))
    from vyplat import paths
    return paths


def test_local_hadoop_is_3_and_prod_describes_the_same_version():
    paths = vyplat_paths()
    version = paths.pom_version(paths.HADOOP_POM, "hadoop")
    assert version.startswith("3."), f"hadoop/local/pom.xml pins Hadoop {version}"
    for path in (HADOOP / "prod").glob("*-site.xml"):
        assert f"Apache Hadoop {version}" in path.read_text(), f"{path} does not name Hadoop {version}"


def hadoop_jars() -> Path:
    libs = vyplat_paths().hadoop_libs()
    assert (libs / ".complete").exists(), f"no Hadoop jars in {libs}: run `make up` (it resolves them)"
    return libs


@pytest.mark.parametrize("path", sorted(str(p.relative_to(HADOOP)) for p in HADOOP.glob("*/*.xml*")
                                        if p.name != "pom.xml"))
def test_hadoop_itself_accepts_the_config(path):
    """Hadoop's own checker (`hadoop conftest`): well-formed, every property named and valued once."""
    proc = subprocess.run(["java", "-cp", f"{hadoop_jars()}/*", "org.apache.hadoop.util.ConfTest",
                           "-conffile", str(HADOOP / path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadoop_conftest_can_fail(tmp_path):
    bad = tmp_path / "bad-site.xml"
    bad.write_text("<configuration><property><name>a</name><value>1</value></property>"
                   "<property><name>a</name><value>2</value></property></configuration>")
    proc = subprocess.run(["java", "-cp", f"{hadoop_jars()}/*", "org.apache.hadoop.util.ConfTest",
                           "-conffile", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "duplicated" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- Hadoop, production


@pytest.fixture(scope="module")
def prod():
    return properties(HADOOP / "prod" / "core-site.xml"), properties(HADOOP / "prod" / "hdfs-site.xml")


def test_prod_ha_nameservice(prod):
    core, hdfs = prod
    service = hdfs["dfs.nameservices"]
    assert core["fs.defaultFS"] == f"hdfs://{service}"
    namenodes = hdfs[f"dfs.ha.namenodes.{service}"].split(",")
    assert len(namenodes) == 2
    for nn in namenodes:
        assert hdfs[f"dfs.namenode.rpc-address.{service}.{nn}"]
        assert hdfs[f"dfs.namenode.https-address.{service}.{nn}"]
    journal = urlparse(hdfs["dfs.namenode.shared.edits.dir"])
    assert journal.scheme == "qjournal" and len(journal.netloc.split(";")) == 3
    assert hdfs[f"dfs.client.failover.proxy.provider.{service}"].endswith("FailoverProxyProvider")
    assert hdfs["dfs.ha.automatic-failover.enabled"] == "true"
    assert len(core["ha.zookeeper.quorum"].split(",")) >= 3


def test_prod_durability_and_security(prod):
    core, hdfs = prod
    assert hdfs["dfs.replication"] == "3"
    assert core["hadoop.security.authentication"] == "kerberos"
    assert core["hadoop.security.authorization"] == "true"
    assert core["hadoop.rpc.protection"] == "privacy"
    assert hdfs["dfs.http.policy"] == "HTTPS_ONLY"
    assert hdfs["dfs.data.transfer.protection"] == "privacy"
    assert hdfs["dfs.block.access.token.enable"] == "true"
    assert hdfs["dfs.permissions.enabled"] == "true"
    for daemon in ("namenode", "datanode", "journalnode"):
        assert hdfs[f"dfs.{daemon}.kerberos.principal"].endswith("@VYGODA.INTERNAL")
        assert hdfs[f"dfs.{daemon}.keytab.file"].startswith("/etc/security/keytabs/")


def test_prod_prometheus_endpoint_reachable_without_spnego(prod):
    core, _ = prod
    assert core["hadoop.prometheus.endpoint.enabled"] == "true"
    assert core["hadoop.http.authentication.type"] == "kerberos"
    assert "/prom" in core["hadoop.http.authentication.kerberos.endpoint.whitelist"].split(",")


def test_prod_configs_carry_no_secrets():
    for path in (HADOOP / "prod").iterdir():
        text = path.read_text()
        for match in re.finditer(r"<name>([^<]*password[^<]*)</name>\s*<value>([^<]*)</value>", text):
            assert match.group(2) == "FILLED_AT_DEPLOY_TIME", f"{path}: {match.group(1)} has a value"


# --------------------------------------------------------------------------- Grafana

DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))


def test_there_are_the_six_dashboards():
    assert {p.stem for p in DASHBOARDS} >= {"platform-overview", "ingest", "lake", "jobs", "kafka-brokers", "serving"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path):
    dashboard = json.loads(path.read_text())
    for key in ("uid", "title", "panels", "schemaVersion", "time"):
        assert key in dashboard, f"{path.name}: no {key}"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
    queries = 0
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        where = f"{path.name} / {panel.get('title')}"
        assert panel.get("title"), f"{where}: untitled panel"
        assert panel.get("description"), f"{where}: no description"
        assert panel.get("datasource") == {"type": "prometheus", "uid": "prometheus"}, where
        assert panel.get("targets"), f"{where}: no targets"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{where}: wider than the grid"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refIds"
        for target in panel["targets"]:
            assert target.get("datasource", {}).get("uid") == "prometheus", where
            assert target.get("expr", "").strip(), f"{where}: empty expr"
            queries += 1
    assert queries


def test_dashboard_uids_are_unique():
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_grafana_provisioning_points_at_uid_prometheus():
    text = (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert re.search(r"^\s*uid:\s*prometheus\s*$", text, re.MULTILINE)
    assert (MONITORING / "grafana" / "provisioning" / "dashboards" / "vygoda.yml").exists()


# --------------------------------------------------------------------------- Prometheus targets


def test_local_scrape_targets_match_platform_addresses():
    text = (MONITORING / "prometheus" / "prometheus.local.yml").read_text()
    plat = platform()
    brokers = {c: s["brokers"] for c, s in plat["clusters"].items()} if plat else BROKERS
    for cluster, addresses in brokers.items():
        block = re.search(r"targets: \[([^\]]*)\]\n\s*labels:\n\s*cluster: " + cluster, text)
        assert block, f"no broker targets for cluster {cluster}"
        assert sorted(re.findall(r'"([^"]+)"', block.group(1))) == sorted(addresses)
    for job, port in SERVICES.items():
        assert re.search(rf'job_name: {job}\n\s*static_configs:\n\s*- targets: \["127\.0\.0\.1:{port}"\]', text), job
    hdfs = properties(HADOOP / "local" / "hdfs-site.xml")
    assert f'http://{hdfs["dfs.namenode.http-address"]}/jmx' in text
    assert f'http://{hdfs["dfs.datanode.http.address"]}/jmx' in text


def test_prod_target_files_are_valid_file_sd():
    files = sorted((MONITORING / "prometheus" / "prod-targets").glob("*.json"))
    prod = (MONITORING / "prometheus" / "prometheus.prod.yml").read_text()
    referenced = set(re.findall(r"/etc/prometheus/targets/([\w-]+\.json)", prod))
    assert referenced <= {p.name for p in files}, f"examples missing for {referenced - {p.name for p in files}}"
    for path in files:
        groups = json.loads(path.read_text())
        assert isinstance(groups, list) and groups, path.name
        for group in groups:
            assert group["targets"] and all(isinstance(t, str) for t in group["targets"]), path.name
