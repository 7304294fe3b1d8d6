"""Resident memory of the running platform: PSS (shared pages split between the processes that
map them, so the parts add up) and RSS per process started by `up`, and PostgreSQL's processes
summed (its workers share one large buffer pool, which RSS would count once per worker)."""
import os
import re
from pathlib import Path

from . import paths


def _rollup(pid: str) -> tuple:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    pss = re.search(r"^Pss:\s+(\d+)", text, re.M)
    rss = re.search(r"^Rss:\s+(\d+)", text, re.M)
    return int(pss.group(1)) if pss else 0, int(rss.group(1)) if rss else 0


def show() -> None:
    total_pss = total_rss = 0
    for pid_file in sorted(paths.RUN.glob("*.pid")):
        pid = pid_file.read_text().strip()
        pss, rss = _rollup(pid)
        total_pss, total_rss = total_pss + pss, total_rss + rss
        print(f"{pid_file.stem:<22} PSS {pss / 1024:7.1f} MB   RSS {rss / 1024:7.1f} MB")
    pg_pss = pg_n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("postgres"):
            pg_pss += _rollup(pid)[0]
            pg_n += 1
    print(f"{'postgresql':<22} PSS {pg_pss / 1024:7.1f} MB   ({pg_n} processes)")
    print(f"{'total':<22} PSS {(total_pss + pg_pss) / 1024:7.1f} MB")
