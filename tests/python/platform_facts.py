"""The live platform's facts (`.vygoda/platform.json`, or $VYGODA_PLATFORM) for the Python suites.

`conftest.py`'s session fixture `platform` is the one gate: it reads the file and checks that
every service it names answers, and fails (never skips) naming what is down. Helpers of the test
modules that need a fact deep in their calls read it with `facts()`; their tests use the fixture.
"""
import functools
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
FILE = Path(os.environ.get("VYGODA_PLATFORM", REPO / ".vygoda" / "platform.json"))
UP = "run `make up` (and `python3 platform/ctl.py status` to see each part)"


@functools.cache
def _read() -> dict | None:
    return json.loads(FILE.read_text()) if FILE.exists() else None


def facts() -> dict:
    """The platform file's contents; fails the calling test when there is no platform file."""
    found = _read()
    if found is None:
        pytest.fail(f"{FILE} does not exist: the platform is not up; {UP}", pytrace=False)
    return found


def endpoints(platform: dict) -> dict[str, str]:
    """name -> host:port of every part of the platform `make up` starts (not vygoda's own
    services, which the suites start themselves)."""
    def address(url: str) -> str:
        parts = urlsplit(url)  # only host and port: the URL may hold a password
        return f"{parts.hostname}:{parts.port}"

    found = {}
    for cluster, spec in platform["clusters"].items():
        for n, broker in enumerate(spec["brokers"], 1):
            found[f"kafka {cluster} broker {n}"] = broker
    found["schema registry"] = address(platform["schema_registry"]["url"])
    found["hdfs namenode"] = address(platform["hdfs"]["url"])
    found["hdfs namenode web"] = address(platform["hdfs"]["namenode_http"])
    found["postgresql"] = address(platform["postgres_url"])
    for name in ("prometheus", "alertmanager", "pushgateway", "telegram_standin", "dashboards"):
        found[name.replace("_", " ")] = address(platform[f"{name}_url"])
    found["spark master"] = address(platform["spark"]["master"])
    found["spark master web"] = address(platform["spark"]["master_ui"])
    found["spark history server"] = address(platform["spark"]["history_url"])
    return found


def _answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return True
    except OSError:
        return False


def down(platform: dict) -> list[str]:
    """The parts that do not accept a TCP connection, as `name (host:port)`."""
    named = endpoints(platform)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(named, pool.map(_answers, named.values()), strict=True))
    return [f"{name} ({named[name]})" for name, ok in answers.items() if not ok]
