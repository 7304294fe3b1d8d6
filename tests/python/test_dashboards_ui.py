"""The Grafana dashboards as a person sees them on the local platform: monitoring/viewer draws the
same dashboard JSON production Grafana imports, from Prometheus, in headless Chromium. Every panel
of every dashboard must draw a non-empty series; a service panel may be empty only while that
service is down (as in test_monitoring's query test). Screenshots of each dashboard are kept.

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_dashboards_ui.py` (after `make up`).
"""
import json
import re
from pathlib import Path

import pytest
import requests
from browser import render, screenshot

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "monitoring" / "grafana" / "dashboards").glob("*.json"))
SERVICES = ("ban-filter", "mirror", "lake-writer", "jobs-driver", "schema-registry", "store-sink",
            "client-api")
SECTION = re.compile(r"<section ([^>]*)>")
ATTR = re.compile(r'([\w-]+)="([^"]*)"')


def drawn_panels(dom: str) -> dict:
    panels = {}
    for match in SECTION.finditer(dom):
        attrs = dict(ATTR.findall(match.group(1)))
        if "panel" in attrs.get("class", "").split() and "row" not in attrs["class"].split():
            panels[attrs.get("data-panel-title", "")] = attrs
    return panels


def service_of(panel: dict) -> str | None:
    exprs = " ".join(t.get("expr", "") for t in panel.get("targets", []))
    return next((s for s in SERVICES if f'job="{s}"' in exprs), None)


def service_up(platform: dict, service: str) -> bool:
    r = requests.get(f"{platform['prometheus_url']}/api/v1/query", params={"query": f'up{{job="{service}"}}'},
                     timeout=10)
    return any(float(s["value"][1]) == 1 for s in r.json()["data"]["result"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_draws_a_series(platform, path):
    board = json.loads(path.read_text())
    url = f"{platform['dashboards_url']}/?dashboard={path.stem}"
    dom = render(url)
    assert 'data-ready="true"' in dom, f"{url} did not finish drawing"
    drawn = drawn_panels(dom)
    wanted = [p for p in board["panels"] if p["type"] != "row"]
    assert set(drawn) == {p["title"] for p in wanted}, "every panel of the JSON is on the page"
    problems = []
    for panel in wanted:
        state = drawn[panel["title"]].get("data-state")
        if state == "data":
            continue
        service = service_of(panel)
        if state == "empty" and service and not service_up(platform, service):
            continue  # nothing to show while the service is stopped
        problems.append(f"{panel['title']}: {state}")
    screenshot(url + "&range=3600", f"dashboard-{path.stem}")
    assert not problems, problems
