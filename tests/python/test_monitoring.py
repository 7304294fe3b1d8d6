"""Monitoring: configuration checks, dashboards against the live Prometheus, and a dead broker.

    .vygoda/venv/bin/python -m pytest tests/python/test_monitoring.py

The static checks (promtool/amtool on the committed files) always run. The live checks need the
local platform (`make up`): they read `.vygoda/platform.json` (or $VYGODA_PLATFORM) and are skipped
only when that file does not exist; a platform file with Prometheus down fails them.
The dashboard tests start vygoda's services (`platform/ctl.py services start`) when they are not
running, so that every panel has a target; the jobs panels also need one finished run in the
history (`make test` runs the pipeline first). The dead-broker test kills one broker and runs
`make up` to bring it back.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from polling import wait_for

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
PLATFORM_FILE = Path(os.environ.get("VYGODA_PLATFORM", REPO / ".vygoda" / "platform.json"))
# The platform file sits in the .vygoda directory, which sits in the repository that `make up`
# manages; both are derived from it so that a platform file elsewhere brings its own tree.
VYGODA_DIR = PLATFORM_FILE.resolve().parent
PLATFORM_REPO = VYGODA_DIR.parent

SERVICES = ("ban-filter", "mirror", "lake-writer", "jobs-driver", "schema-registry")
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
# Grafana substitutes these before a query reaches Prometheus; 1m spans 12 local scrapes.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make up` installs the Debian monitoring packages")
    return path


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def render(template: Path, vygoda_dir: Path, repo: Path) -> str:
    return (
        template.read_text()
        .replace("@@VYGODA_DIR@@", str(vygoda_dir))
        .replace("@@REPO@@", str(repo))
    )


def alert_names(rule_dir: Path) -> set:
    names = set()
    for path in rule_dir.glob("*.yml"):
        names.update(re.findall(r"^\s*- alert:\s*(\S+)", path.read_text(), re.MULTILINE))
    return names


# --------------------------------------------------------------------------- static checks


def test_rule_unit_tests_pass():
    tests = sorted(str(p) for p in (MONITORING / "prometheus" / "tests").glob("*.yml"))
    assert tests, "no promtool rule tests found"
    run([tool("promtool"), "test", "rules", *tests])


def test_rule_files_are_valid():
    rules = sorted((MONITORING / "prometheus").glob("*rules/*.yml"))
    assert len(rules) >= 5
    run([tool("promtool"), "check", "rules", *map(str, rules)])


def test_local_prometheus_template_renders_to_a_valid_config(tmp_path):
    rendered = tmp_path / "prometheus.yml"
    rendered.write_text(render(MONITORING / "prometheus" / "prometheus.local.yml", tmp_path, REPO))
    assert "@@" not in rendered.read_text()
    result = run([tool("promtool"), "check", "config", str(rendered)])
    # The rule glob must resolve to the committed rule files, or no alert is ever loaded.
    assert "rule files found" in result.stdout, result.stdout


def test_prod_prometheus_config_is_valid(tmp_path):
    # Production paths (/etc/prometheus/...) are redirected into a scratch copy of the layout.
    for sub in ("rules", "prod-rules", "targets/spark", "tls"):
        (tmp_path / sub).mkdir(parents=True)
    for rule in (MONITORING / "prometheus" / "rules").glob("*.yml"):
        shutil.copy(rule, tmp_path / "rules")
    for rule in (MONITORING / "prometheus" / "prod-rules").glob("*.yml"):
        shutil.copy(rule, tmp_path / "prod-rules")
    for target in (MONITORING / "prometheus" / "prod-targets").glob("*.json"):
        shutil.copy(target, tmp_path / "targets")
    (tmp_path / "tls" / "ca.pem").write_text("")
    config = tmp_path / "prometheus.yml"
    prod = (MONITORING / "prometheus" / "prometheus.prod.yml").read_text()
    config.write_text(prod.replace("/etc/prometheus", str(tmp_path)))
    run([tool("promtool"), "check", "config", str(config)])


@pytest.mark.parametrize("name", ["alertmanager.yml", "alertmanager.prod.yml"])
def test_alertmanager_config_is_valid(name):
    run([tool("amtool"), "check-config", str(MONITORING / "alertmanager" / name)])


@pytest.mark.parametrize(
    "labels, receiver",
    [
        (["alertname=KafkaBrokerDown", "severity=critical", "cluster=prod"], "local-critical"),
        (["alertname=MirrorLagHigh", "severity=warning"], "local-warning"),
        (["alertname=Watchdog", "severity=none"], "local-heartbeat"),
    ],
)
def test_alertmanager_routes_by_severity(labels, receiver):
    config = MONITORING / "alertmanager" / "alertmanager.yml"
    result = run([tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels])
    assert result.stdout.strip() == receiver


def test_blackbox_configs_are_valid(tmp_path):
    exporter = tool("prometheus-blackbox-exporter")
    local = tmp_path / "blackbox.yml"
    local.write_text(render(MONITORING / "blackbox" / "blackbox.local.yml", tmp_path, REPO))
    run([exporter, "--config.check", f"--config.file={local}"])
    run([exporter, "--config.check", f"--config.file={MONITORING / 'blackbox' / 'blackbox.prod.yml'}"])


# --------------------------------------------------------------------------- live platform


@pytest.fixture(scope="module")
def platform():
    if not PLATFORM_FILE.exists():
        pytest.skip(f"{PLATFORM_FILE} does not exist: the platform is not up (`make up`)")
    return json.loads(PLATFORM_FILE.read_text())


def http_json(url: str, timeout: float = 10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.URLError as error:
        if isinstance(error, urllib.error.HTTPError):
            raise
        pytest.fail(f"{url} unreachable ({error.reason}): is the platform up? (`make up`)")


def prom_query(platform, expr: str) -> list:
    url = platform["prometheus_url"].rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        body = http_json(url)
    except urllib.error.HTTPError as error:
        pytest.fail(f"Prometheus rejected {expr!r}: {error.read().decode(errors='replace')}")
    assert body["status"] == "success", body
    return body["data"]["result"]


def active_alerts(platform, name: str) -> list:
    url = platform["alertmanager_url"].rstrip("/") + "/api/v2/alerts?" + urllib.parse.urlencode(
        {"filter": f'alertname="{name}"', "active": "true", "silenced": "false", "inhibited": "true"}
    )
    return http_json(url)


def probe_value(platform, broker: str):
    result = prom_query(platform, f'probe_success{{job="kafka-brokers",broker="{broker}"}}')
    return float(result[0]["value"][1]) if result else None


def test_rendered_prometheus_config_is_valid(platform):
    rendered = VYGODA_DIR / "monitoring" / "prometheus.yml"
    assert rendered.exists(), f"{rendered} missing: `make up` renders monitoring/prometheus/prometheus.local.yml there"
    run([tool("promtool"), "check", "config", str(rendered)])


def test_prometheus_loaded_every_alert_rule(platform):
    body = http_json(platform["prometheus_url"].rstrip("/") + "/api/v1/rules?type=alert")
    loaded = {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}
    missing = alert_names(MONITORING / "prometheus" / "rules") - loaded
    assert not missing, f"alert rules not loaded by the running Prometheus: {sorted(missing)}"


def test_platform_targets_are_scraped_and_healthy(platform):
    def platform_ok():
        broken = []
        for job in ("prometheus", "alertmanager", "blackbox", "node"):
            result = prom_query(platform, f'up{{job="{job}"}}')
            if not result or result[0]["value"][1] != "1":
                broken.append(f"up{{job={job}}}={result and result[0]['value'][1]}")
        for cluster, spec in platform["clusters"].items():
            for broker in spec["brokers"]:
                if probe_value(platform, broker) != 1.0:
                    broken.append(f"broker {cluster} {broker}")
        # Every Kafka node's JMX exporter agent, and through it the broker's own view of itself.
        jmx = prom_query(platform, 'up{job="kafka-jmx"} == 1')
        if len(jmx) != 6:
            broken.append(f"kafka-jmx: {len(jmx)}/6 exporters scraped")
        controllers = prom_query(platform, "sum by (cluster) (kafka_controller_kafkacontroller_activecontrollercount)")
        if sorted(r["value"][1] for r in controllers) != ["1", "1"]:
            broken.append(f"active controllers per cluster: {controllers}")
        # Consumer-group lag: the exporter is scraped and sees both clusters.
        for cluster in platform["clusters"]:
            if not prom_query(platform, f'vygoda_lag_exporter_cluster_up{{job="kafka-lag",cluster="{cluster}"}} == 1'):
                broken.append(f"lag exporter cannot see {cluster}")
        for job, count in (("hdfs", 2), ("postgres", 1)):
            result = prom_query(platform, f'probe_success{{job="{job}"}} == 1')
            if len(result) != count:
                broken.append(f"{job}: {len(result)}/{count} probes succeed")
        return broken or None

    # A freshly started Prometheus needs a scrape or two; a broken platform stays broken.
    end = time.monotonic() + 30
    while (broken := platform_ok()) and time.monotonic() < end:
        time.sleep(1)
    assert not broken, f"platform targets down: {broken}"


def test_watchdog_reaches_alertmanager(platform):
    # Proves rule evaluation and Prometheus -> Alertmanager delivery on their own.
    wait_for("Watchdog in Alertmanager", lambda: active_alerts(platform, "Watchdog"), 30)


def dashboard_targets():
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield pytest.param(
                    panel["title"], target["expr"], id=f"{path.stem}/{panel['title']}/{target['refId']}"
                )


@pytest.fixture(scope="module")
def services(platform):
    """vygoda's services running and scraped; the ones started here are stopped afterwards."""
    ctl = [sys.executable, str(PLATFORM_REPO / "platform" / "ctl.py")]
    pid_files = [VYGODA_DIR / "run" / f"svc-{s}.pid" for s in ("ban-filter", "mirror", "lake-writer", "jobs")]
    before = [f for f in pid_files if f.exists()]
    subprocess.run([*ctl, "services", "start"], check=True, cwd=PLATFORM_REPO)

    def scraped():
        return all((r := prom_query(platform, f'up{{job="{job}"}}')) and r[0]["value"][1] == "1"
                   for job in SERVICES)

    wait_for("every vygoda service scraped by Prometheus", scraped, 60)
    yield
    if not before:
        subprocess.run([*ctl, "services", "stop"], check=True, cwd=PLATFORM_REPO)


@pytest.mark.parametrize("title, expr", list(dashboard_targets()))
def test_dashboard_query_returns_data(platform, services, title, expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    # A rate needs two scrapes of a fresh target; a panel with no series after that is broken.
    result = wait_for(f"data for panel {title!r}: {expr}", lambda: prom_query(platform, expr), 30)
    assert result, f"panel {title!r}: {expr} returned no data"


# Last in the file: it takes a broker away for ~30 s.
def test_dead_broker_fires_kafka_broker_down(platform):
    pid_file = VYGODA_DIR / "run" / "kafka-prod-2.pid"
    broker = platform["clusters"]["prod"]["brokers"][1]
    assert pid_file.exists(), f"{pid_file} missing: the platform writes one pid file per broker"
    wait_for(f"probe of {broker} succeeding before the test", lambda: probe_value(platform, broker) == 1.0, 60)
    assert not [a for a in active_alerts(platform, "KafkaBrokerDown") if a["labels"].get("broker") == broker]

    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    try:

        def alert_for_broker():
            return [a for a in active_alerts(platform, "KafkaBrokerDown") if a["labels"].get("broker") == broker]

        [alert] = wait_for(f"KafkaBrokerDown for {broker} in Alertmanager", alert_for_broker, 60)
        assert alert["labels"]["cluster"] == "prod"
        assert alert["labels"]["severity"] == "critical"
        assert alert["status"]["state"] == "active", alert["status"]
        # Only the killed broker is reported; the cluster is not declared down.
        others = [a["labels"]["broker"] for a in active_alerts(platform, "KafkaBrokerDown")
                  if a["labels"].get("cluster") == "prod"]
        assert others == [broker]
        assert not [a for a in active_alerts(platform, "KafkaClusterDown") if a["labels"].get("cluster") == "prod"]
    finally:
        subprocess.run(["make", "-C", str(PLATFORM_REPO), "up"], check=True, timeout=600)
        wait_for(f"probe of {broker} succeeding after `make up`", lambda: probe_value(platform, broker) == 1.0, 120)
    wait_for(
        f"KafkaBrokerDown for {broker} resolved",
        lambda: not [a for a in active_alerts(platform, "KafkaBrokerDown") if a["labels"].get("broker") == broker],
        60,
    )
