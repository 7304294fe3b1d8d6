"""A real browser for the web UI tests: headless Chromium (Debian `chromium`), one process per page.

`render` returns the DOM after the page's scripts have run. Chromium's virtual time budget
advances only while no network fetch is pending, so a page that lists a folder through WebHDFS
(or queries Prometheus) is rendered with its answers, without a wall-clock wait.
`screenshot` saves a PNG under `.vygoda/artifacts/screenshots/` (override: VYGODA_ARTIFACTS), kept
after the run so a person can see what the test saw.
"""
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VYGODA_ARTIFACTS", REPO / ".vygoda" / "artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--virtual-time-budget=15000", "--window-size=1600,900"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: `make up` installs it (Debian package chromium)"
    return found


def _run(args: list, url: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([_chromium(), *FLAGS, *args, url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium failed on {url}: {proc.stderr[-2000:]}"
    return proc


def render(url: str) -> str:
    """The page's DOM once its scripts have run."""
    return _run(["--dump-dom"], url).stdout


def screenshot(url: str, name: str) -> Path:
    """A PNG of the page, saved as an artifact of the run; returns its path."""
    out = ARTIFACTS / "screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    _run([f"--screenshot={out}"], url)
    assert out.exists() and out.stat().st_size > 10_000, f"no screenshot of {url} at {out}"
    return out
