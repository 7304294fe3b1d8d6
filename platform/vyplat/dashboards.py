"""The dashboards, locally: monitoring/viewer draws the Grafana dashboard JSON that production
imports (monitoring/grafana/dashboards/) from Prometheus's HTTP API, in the browser. Grafana cannot
be installed here; this keeps one source for both.

`make up` assembles .vygoda/dashboards/ (links to the page, the dashboards and the charting library,
uPlot from the npm registry, cached per user by version) and serves it on Grafana's usual port.
"""
import json
import os
import sys
import urllib.request
from pathlib import Path

from . import paths, procs

UPLOT_VERSION = "1.6.32"
URL = "http://127.0.0.1:3000"
ROOT = paths.STATE / "dashboards"
SOURCE = paths.REPO / "monitoring" / "grafana" / "dashboards"


def uplot() -> Path:
    """uPlot's dist/ folder in the per-user cache (installed by `make up` with `npm pack`)."""
    return paths.CACHE / "npm" / f"uplot-{UPLOT_VERSION}" / "dist"


def index() -> list:
    """Every dashboard file with its title; the platform overview first."""
    boards = [{"file": p.stem, "title": json.loads(p.read_text())["title"]} for p in sorted(SOURCE.glob("*.json"))]
    return sorted(boards, key=lambda b: b["file"] != "platform-overview")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def assemble() -> None:
    for sub in ("vendor", "dashboards"):
        (ROOT / sub).mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "viewer.js", "viewer.css"):
        _link(paths.REPO / "monitoring" / "viewer" / name, ROOT / name)
    _link(uplot(), ROOT / "vendor" / "uplot")
    for stale in (ROOT / "dashboards").glob("*.json"):
        stale.unlink()
    for board in SOURCE.glob("*.json"):
        (ROOT / "dashboards" / board.name).symlink_to(board)
    (ROOT / "dashboards" / "index.json").write_text(json.dumps(index(), ensure_ascii=False, indent=1))


def healthy() -> bool:
    with urllib.request.urlopen(f"{URL}/dashboards/index.json", timeout=3) as r:
        return r.status == 200 and bool(json.load(r))


def start() -> None:
    assemble()
    procs.start("dashboards", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               "--directory", ROOT, "3000"])
    procs.wait_for("dashboards", healthy, 30, "dashboards")


def stop() -> None:
    procs.stop("dashboards")
