"""Prometheus, Alertmanager (its receivers: the local webhook receiver and a loopback stand-in of
the Telegram Bot API), the Pushgateway (short-lived commands' outcomes), the blackbox exporter
(broker/HDFS/PostgreSQL probes), the node exporter and the consumer-group lag exporter, with
configs from monitoring/."""
import re
import sys
import urllib.request

from . import paths, procs, secrets

PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"
BLACKBOX = "127.0.0.1:9115"
NODE = "127.0.0.1:9100"
LAG = "127.0.0.1:9308"
PUSHGATEWAY = "http://127.0.0.1:9091"
# Alertmanager's Telegram integration calls this instead of the real Bot API (alertmanager.yml).
TELEGRAM_API = "http://127.0.0.1:9096"
WEBHOOK_RECEIVER = "http://127.0.0.1:9095"
OUT = paths.STATE / "monitoring"
TELEGRAM_MESSAGES = OUT / "telegram.jsonl"


def render() -> bool:
    """Write the local configs; True when any of them (or Alertmanager's) changed."""
    OUT.mkdir(parents=True, exist_ok=True)
    src = paths.REPO / "monitoring"
    (OUT / "targets" / "spark").mkdir(parents=True, exist_ok=True)
    changed = False
    for rel, dest in (("prometheus/prometheus.local.yml", "prometheus.yml"),
                      ("blackbox/blackbox.local.yml", "blackbox.yml"),
                      ("alertmanager/alertmanager.yml", "alertmanager.yml")):
        text = (src / rel).read_text()
        text = text.replace("@@VYGODA_DIR@@", str(paths.STATE)).replace("@@REPO@@", str(paths.REPO))
        target = OUT / dest
        if dest == "alertmanager.yml":
            # The bot token and chat id: Alertmanager 0.25 reads neither from a file, so the
            # rendered config holds them and is owner-readable only.
            token, chat_id = secrets.telegram()
            text = text.replace("@@TELEGRAM_BOT_TOKEN@@", token)
            text = re.sub(r"-?\d+ *# @@TELEGRAM_CHAT_ID@@", str(chat_id), text)
            if "@@TELEGRAM_BOT_TOKEN@@" in text or "@@TELEGRAM_CHAT_ID@@" in text:
                raise procs.PlatformError(f"{src / rel}: a Telegram marker was left unrendered")
            if not target.exists() or target.read_text() != text:
                secrets.write_private(target, text)
                changed = True
            continue
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed = True
    # Rule files and Alertmanager's message templates are read from the repository; a stamp of
    # their contents tells when they changed.
    rules = "".join(p.read_text() for p in [*sorted((src / "prometheus" / "rules").glob("*.yml")),
                                            *sorted((src / "alertmanager" / "templates").glob("*.tmpl"))])
    stamp = OUT / "rules.stamp"
    if not stamp.exists() or stamp.read_text() != rules:
        stamp.write_text(rules)
        changed = True
    return changed


def _hostport(url: str) -> str:
    return url.split("://", 1)[1]


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.status == 200


def start() -> None:
    changed = render()
    procs.start("blackbox-exporter", ["prometheus-blackbox-exporter",
                                      f"--config.file={OUT / 'blackbox.yml'}",
                                      f"--web.listen-address={BLACKBOX}"])
    procs.start("node-exporter", ["prometheus-node-exporter", f"--web.listen-address={NODE}",
                                  "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
                                  "--collector.loadavg", "--collector.filesystem", "--collector.diskstats",
                                  "--collector.netdev"])
    # Alertmanager's webhook receiver: keeps notifications in a file a person or test can read.
    procs.start("alert-receiver", [sys.executable, paths.REPO / "monitoring" / "webhook_receiver.py",
                                   "--listen", _hostport(WEBHOOK_RECEIVER), "--out", OUT / "notifications.jsonl"])
    # The Telegram Bot API's stand-in: Alertmanager's real Telegram integration posts here; it
    # accepts the generated token and chat id only (read from their files, never argv).
    procs.start("telegram-standin", [sys.executable, paths.REPO / "monitoring" / "telegram_standin.py",
                                     "--listen", _hostport(TELEGRAM_API),
                                     "--token-file", paths.SECRETS / "telegram-bot-token",
                                     "--chat-id-file", paths.SECRETS / "telegram-chat-id",
                                     "--out", TELEGRAM_MESSAGES])
    # Short-lived commands (SHOP API, ADMIN CLI, publisher, client simulator) push their outcome
    # here; Prometheus scrapes it (job `pushgateway`, honor_labels). Groups survive a restart.
    procs.start("pushgateway", ["prometheus-pushgateway", f"--web.listen-address={_hostport(PUSHGATEWAY)}",
                                f"--persistence.file={OUT / 'pushgateway.data'}",
                                "--persistence.interval=1m"])
    procs.start("alertmanager", ["prometheus-alertmanager",
                                 f"--config.file={OUT / 'alertmanager.yml'}",
                                 f"--storage.path={OUT / 'alertmanager-data'}",
                                 "--web.listen-address=127.0.0.1:9093", "--cluster.listen-address="])
    # Consumer-group lag as the brokers see it (our exporter, as `monitoring`). Tests' and
    # benchmarks' throw-away groups are left out: each watched group costs a client.
    procs.start("lag-exporter", [paths.BIN_DIR / "lag-exporter", "--metrics-addr", LAG,
                                 "--exclude-groups", "test-,bench-"], cwd=paths.REPO)
    procs.start("prometheus", ["prometheus", f"--config.file={OUT / 'prometheus.yml'}",
                               f"--storage.tsdb.path={OUT / 'prometheus-data'}",
                               "--storage.tsdb.retention.time=7d",
                               "--web.listen-address=127.0.0.1:9090", "--web.enable-lifecycle"])
    procs.wait_for("Prometheus", lambda: _ready(f"{PROMETHEUS}/-/ready"), 60, "prometheus")
    procs.wait_for("Alertmanager", lambda: _ready(f"{ALERTMANAGER}/-/ready"), 60, "alertmanager")
    procs.wait_for("lag exporter", lambda: _ready(f"http://{LAG}/metrics"), 30, "lag-exporter")
    procs.wait_for("blackbox exporter", lambda: _ready(f"http://{BLACKBOX}/-/healthy"), 30, "blackbox-exporter")
    procs.wait_for("Telegram stand-in", lambda: _ready(f"{TELEGRAM_API}/healthz"), 30, "telegram-standin")
    procs.wait_for("Pushgateway", lambda: _ready(f"{PUSHGATEWAY}/-/ready"), 30, "pushgateway")
    # Running processes keep their old config otherwise: `up` after a change in monitoring/
    # applies it without a restart; an `up` with nothing changed touches nothing.
    if changed:
        for url in (f"{PROMETHEUS}/-/reload", f"{ALERTMANAGER}/-/reload", f"http://{BLACKBOX}/-/reload"):
            urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()


def stop() -> None:
    for name in ("prometheus", "alertmanager", "alert-receiver", "telegram-standin", "pushgateway",
                 "lag-exporter", "node-exporter", "blackbox-exporter"):
        procs.stop(name)
