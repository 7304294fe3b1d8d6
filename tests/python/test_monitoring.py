"""Monitoring: configuration checks, dashboards against the live Prometheus, and a dead broker.

    .vygoda/venv/bin/python -m pytest tests/python/test_monitoring.py

The static checks (promtool/amtool on the committed files) always run. The live checks need the
local platform (`make up`): they read `.vygoda/platform.json` (or $VYGODA_PLATFORM) through the
shared `platform` fixture (conftest.py) and fail when the platform is not up.
The dashboard tests start vygoda's services (`platform/ctl.py services start`) when they are not
running, so that every panel has a target; the jobs panels also need one finished run in the
history (`make test` runs the pipeline first). The dead-broker test kills one broker and runs
`make up` to bring it back; Alertmanager's Telegram integration must tell the stand-in of the Bot
API (monitoring/telegram_standin.py) about both.
"""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from platform_facts import FILE as PLATFORM_FILE
from polling import wait_for

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
# The platform file sits in the .vygoda directory, which sits in the repository that `make up`
# manages; both are derived from it so that a platform file elsewhere brings its own tree.
VYGODA_DIR = PLATFORM_FILE.resolve().parent
PLATFORM_REPO = VYGODA_DIR.parent

SERVICES = ("ban-filter", "mirror", "lake-writer", "jobs-driver", "schema-registry", "store-sink",
            "client-api")
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


@pytest.mark.parametrize("name", ["alertmanager.yml", "alertmanager.prod.yml"])
def test_alertmanager_configs_hold_telegram_markers_not_secrets(name):
    # The bot token and chat id are filled in when the file is installed (`make up` locally).
    text = (MONITORING / "alertmanager" / name).read_text()
    assert 'bot_token: "@@TELEGRAM_BOT_TOKEN@@"' in text
    assert re.search(r"chat_id: -1 +# @@TELEGRAM_CHAT_ID@@", text)
    assert not re.search(r"\b\d{6,}:[A-Za-z0-9_-]{30,}", text), f"{name} holds something like a bot token"


@pytest.mark.parametrize(
    "name, labels, receivers",
    [
        ("alertmanager.yml", ["alertname=KafkaBrokerDown", "severity=critical", "cluster=prod"],
         "local-telegram,local-critical"),
        ("alertmanager.yml", ["alertname=MirrorLagHigh", "severity=warning"], "local-telegram,local-warning"),
        ("alertmanager.yml", ["alertname=Watchdog", "severity=none"], "local-heartbeat"),
        ("alertmanager.prod.yml", ["alertname=KafkaBrokerDown", "severity=critical", "cluster=prod"],
         "team-telegram,oncall-pager,data-platform-email"),
        ("alertmanager.prod.yml", ["alertname=MirrorLagHigh", "severity=warning"],
         "team-telegram,data-platform-email"),
        ("alertmanager.prod.yml", ["alertname=Watchdog", "severity=none"], "deadmans-switch"),
    ],
)
def test_alertmanager_routes_by_severity(name, labels, receivers):
    config = MONITORING / "alertmanager" / name
    result = run([tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels])
    assert result.stdout.strip() == receivers


def render_telegram_message(tmp_path, status: str) -> str:
    """The shared Telegram template rendered by Alertmanager's own code (amtool, HTML escaping as
    with parse_mode HTML) for a KafkaBrokerDown group of one alert."""
    alert = {"status": status, "labels": {"alertname": "KafkaBrokerDown", "cluster": "prod", "severity": "critical",
                                          "broker": "127.0.0.1:19093", "env": "local"},
             "annotations": {"summary": "Kafka broker 127.0.0.1:19093 (prod) is down <now>"},
             "startsAt": "2024-01-01T00:00:00Z", "endsAt": "2024-01-01T00:01:00Z" if status == "resolved" else
             "0001-01-01T00:00:00Z", "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "0"}
    data = {"receiver": "local-telegram", "status": status, "alerts": [alert],
            "groupLabels": {"alertname": "KafkaBrokerDown", "cluster": "prod"},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://127.0.0.1:9093"}
    data_file = tmp_path / f"{status}.json"
    data_file.write_text(json.dumps(data))
    result = run([tool("amtool"), "template", "render",
                  f"--template.glob={MONITORING / 'alertmanager' / 'templates' / '*.tmpl'}",
                  '--template.text={{ template "vygoda.telegram.message" . }}', "--template.type=html",
                  f"--template.data={data_file}"])
    return result.stdout.strip()


def test_telegram_message_names_status_alert_cluster_and_broker(tmp_path):
    firing = render_telegram_message(tmp_path, "firing")
    assert firing.splitlines() == [
        "<b>FIRING</b> KafkaBrokerDown · cluster prod · critical · local",
        "firing: broker 127.0.0.1:19093 — Kafka broker 127.0.0.1:19093 (prod) is down &lt;now&gt;",
    ]
    resolved = render_telegram_message(tmp_path, "resolved")
    assert resolved.splitlines()[0] == "<b>RESOLVED</b> KafkaBrokerDown · cluster prod · critical · local"
    assert resolved.splitlines()[1].startswith("resolved: broker 127.0.0.1:19093 — ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_api(url: str, body: dict | None = None, form: bool = False) -> tuple:
    """(HTTP status, JSON answer) of one Bot API call."""
    data, headers = None, {}
    if body is not None:
        data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_telegram_standin_answers_like_the_bot_api(tmp_path):
    token, chat_id = "123456789:" + "A" * 35, -1001234567890
    (tmp_path / "token").write_text(token + "\n")
    (tmp_path / "chat").write_text(f"{chat_id}\n")
    out = tmp_path / "telegram.jsonl"
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(MONITORING / "telegram_standin.py"), "--listen", f"127.0.0.1:{port}",
                             "--token-file", str(tmp_path / "token"), "--chat-id-file", str(tmp_path / "chat"),
                             "--out", str(out)])
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for("the stand-in answering /healthz", healthy, 15, poll_s=0.2)
        status, me = bot_api(f"{base}/bot{token}/getMe")
        assert status == 200 and me["ok"] and me["result"]["id"] == 123456789 and me["result"]["is_bot"]
        # Telegram's answers to a wrong token, another chat, HTML it cannot parse, an empty text.
        assert bot_api(f"{base}/bot123456789:wrong/sendMessage", {"chat_id": chat_id, "text": "x"})[0] == 401
        status, answer = bot_api(f"{base}/bot{token}/sendMessage", {"chat_id": 42, "text": "x"})
        assert (status, answer["description"]) == (400, "Bad Request: chat not found")
        status, answer = bot_api(f"{base}/bot{token}/sendMessage",
                                 {"chat_id": chat_id, "text": "<b>open", "parse_mode": "HTML"})
        assert status == 400 and "can't parse entities" in answer["description"]
        assert bot_api(f"{base}/bot{token}/sendMessage", {"chat_id": chat_id, "text": " "})[0] == 400
        assert not out.exists(), "a refused message was recorded"
        # Accepted: JSON (as Alertmanager sends it, chat_id as a string) and form-encoded.
        status, answer = bot_api(f"{base}/bot{token}/sendMessage",
                                 {"chat_id": str(chat_id), "text": "<b>FIRING</b> a &amp; b", "parse_mode": "HTML"})
        assert status == 200 and answer["ok"], answer
        assert answer["result"]["chat"]["id"] == chat_id and answer["result"]["text"] == "FIRING a & b"
        status, answer = bot_api(f"{base}/bot{token}/sendMessage", {"chat_id": chat_id, "text": "plain"}, form=True)
        assert status == 200 and answer["result"]["message_id"] == 2
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert [(m["chat_id"], m["text"], m["visible_text"]) for m in lines] == [
            (chat_id, "<b>FIRING</b> a &amp; b", "FIRING a & b"), (chat_id, "plain", "plain")]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_blackbox_configs_are_valid(tmp_path):
    exporter = tool("prometheus-blackbox-exporter")
    local = tmp_path / "blackbox.yml"
    local.write_text(render(MONITORING / "blackbox" / "blackbox.local.yml", tmp_path, REPO))
    run([exporter, "--config.check", f"--config.file={local}"])
    run([exporter, "--config.check", f"--config.file={MONITORING / 'blackbox' / 'blackbox.prod.yml'}"])


# --------------------------------------------------------------------------- live platform
# Every test below takes conftest.py's `platform` fixture (the file's facts, every part answering).


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


def test_rendered_alertmanager_config_is_valid_and_private(platform):
    rendered = VYGODA_DIR / "monitoring" / "alertmanager.yml"
    assert rendered.exists(), f"{rendered} missing: `make up` renders monitoring/alertmanager/alertmanager.yml there"
    run([tool("amtool"), "check-config", str(rendered)])
    text = rendered.read_text()
    token = (VYGODA_DIR / "secrets" / "telegram-bot-token").read_text().strip()
    chat_id = (VYGODA_DIR / "secrets" / "telegram-chat-id").read_text().strip()
    assert "@@" not in text
    assert f'bot_token: "{token}"' in text and re.search(rf"chat_id: {re.escape(chat_id)}\n", text)
    assert f"api_url: {platform['telegram_standin_url']}" in text
    # It holds the bot token.
    assert stat.S_IMODE(rendered.stat().st_mode) & 0o077 == 0, oct(rendered.stat().st_mode)


def test_prometheus_loaded_every_alert_rule(platform):
    body = http_json(platform["prometheus_url"].rstrip("/") + "/api/v1/rules?type=alert")
    loaded = {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}
    missing = alert_names(MONITORING / "prometheus" / "rules") - loaded
    assert not missing, f"alert rules not loaded by the running Prometheus: {sorted(missing)}"


def test_platform_targets_are_scraped_and_healthy(platform):
    def platform_ok():
        broken = []
        for job in ("prometheus", "alertmanager", "blackbox", "node", "pushgateway"):
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


def test_pushed_metric_reaches_prometheus(platform):
    """A pushed group keeps its own job and instance labels through the scrape (honor_labels)
    and is gone once the group is deleted."""
    job = f"test-push-{uuid.uuid4().hex[:12]}"
    group = f"{platform['pushgateway_url'].rstrip('/')}/metrics/job/{job}/instance/run-1"
    body = (b"# TYPE vygoda_test_push_records_total counter\n"
            b'vygoda_test_push_records_total{outcome="ok"} 42\n'
            b"# TYPE vygoda_test_push_exit_code gauge\n"
            b"vygoda_test_push_exit_code 0\n")
    try:
        with urllib.request.urlopen(urllib.request.Request(group, data=body, method="PUT"), timeout=10) as r:
            assert r.status in (200, 202), r.status
    except urllib.error.URLError as error:
        pytest.fail(f"push to {group} failed ({error}): is the Pushgateway up? (`make up`)")
    query = f'vygoda_test_push_records_total{{job="{job}"}}'
    try:
        [series] = wait_for(f"{query} in Prometheus", lambda: prom_query(platform, query), 30)
        assert series["metric"]["instance"] == "run-1" and series["metric"]["outcome"] == "ok", series
        assert series["value"][1] == "42"
    finally:
        with urllib.request.urlopen(urllib.request.Request(group, method="DELETE"), timeout=10) as r:
            assert r.status in (200, 202), r.status
    # The next scrape no longer has it: Prometheus marks the series stale.
    wait_for(f"{query} gone after deleting the group", lambda: not prom_query(platform, query), 30)


def test_a_command_run_is_pushed_with_its_outcome(platform):
    """vygoda-admin, a short-lived command, pushes its run (records by outcome, exit code, end
    time) to the Pushgateway as it exits; Prometheus then holds this run's figures."""
    admin = PLATFORM_REPO / "target" / "debug" / "vygoda-admin"
    before = time.time()
    run = subprocess.run([admin, "ban", "list", "--json"], cwd=PLATFORM_REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    listed = len(json.loads(run.stdout)["bans"])

    def this_run():
        ended = prom_query(platform, 'vygoda_command_last_run_timestamp_seconds{job="vygoda-admin"}')
        return ended if ended and float(ended[0]["value"][1]) >= before else None

    wait_for("this vygoda-admin run in Prometheus (through the Pushgateway)", this_run, 30)
    [records] = prom_query(platform, 'vygoda_command_records_total{job="vygoda-admin",outcome="listed"}')
    assert float(records["value"][1]) == listed, records
    [code] = prom_query(platform, 'vygoda_command_exit_code{job="vygoda-admin"}')
    assert float(code["value"][1]) == 0, code


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

    try:
        wait_for("every vygoda service scraped by Prometheus", scraped, 60)
        yield
    finally:  # also when they never got scraped: the setup failed, the services still run
        if not before:
            subprocess.run([*ctl, "services", "stop"], check=True, cwd=PLATFORM_REPO)


@pytest.mark.parametrize("title, expr", list(dashboard_targets()))
def test_dashboard_query_returns_data(platform, services, title, expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    # A rate needs two scrapes of a fresh target; a panel with no series after that is broken.
    result = wait_for(f"data for panel {title!r}: {expr}", lambda: prom_query(platform, expr), 30)
    assert result, f"panel {title!r}: {expr} returned no data"


def telegram_messages(since: float, status: str, broker: str) -> list:
    """Messages the Telegram stand-in accepted since `since` that report KafkaBrokerDown for
    `broker` as `status` (firing | resolved): the header and the alert's own line."""
    path = VYGODA_DIR / "monitoring" / "telegram.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        lines = message["visible_text"].splitlines()
        if (message["received_at"] >= since and lines[0].startswith(f"{status.upper()} KafkaBrokerDown · cluster prod")
                and any(x.startswith(f"{status}: broker {broker} — ") for x in lines[1:])):
            found.append(message)
    return found


# Last in the file: it takes a broker away for ~30 s.
def test_dead_broker_fires_kafka_broker_down(platform):
    pid_file = VYGODA_DIR / "run" / "kafka-prod-2.pid"
    broker = platform["clusters"]["prod"]["brokers"][1]
    assert pid_file.exists(), f"{pid_file} missing: the platform writes one pid file per broker"
    wait_for(f"probe of {broker} succeeding before the test", lambda: probe_value(platform, broker) == 1.0, 60)
    assert not [a for a in active_alerts(platform, "KafkaBrokerDown") if a["labels"].get("broker") == broker]
    # The Telegram route's far end must be up: Alertmanager posts to it like to the real Bot API.
    standin = platform["telegram_standin_url"].rstrip("/")
    try:
        with urllib.request.urlopen(f"{standin}/healthz", timeout=5) as response:
            assert response.status == 200
    except urllib.error.URLError as error:
        pytest.fail(f"the Telegram stand-in at {standin} is down ({error}): `make up` starts it")
    chat_id = int((VYGODA_DIR / "secrets" / "telegram-chat-id").read_text())

    killed_at = time.time()
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
        # Alertmanager's Telegram integration told the chat, naming the broker.
        [firing, *_] = wait_for(f"a Telegram message: KafkaBrokerDown firing for {broker}",
                                lambda: telegram_messages(killed_at, "firing", broker), 30)
        assert firing["chat_id"] == chat_id and firing["parse_mode"] == "HTML", firing
    finally:
        subprocess.run(["make", "-C", str(PLATFORM_REPO), "up"], check=True, timeout=600)
        wait_for(f"probe of {broker} succeeding after `make up`", lambda: probe_value(platform, broker) == 1.0, 120)
    wait_for(
        f"KafkaBrokerDown for {broker} resolved",
        lambda: not [a for a in active_alerts(platform, "KafkaBrokerDown") if a["labels"].get("broker") == broker],
        60,
    )
    # ... and its resolution, in a second message.
    [resolved, *_] = wait_for(f"a Telegram message: KafkaBrokerDown resolved for {broker}",
                              lambda: telegram_messages(killed_at, "resolved", broker), 60)
    assert resolved["message_id"] > firing["message_id"] and resolved["chat_id"] == chat_id
