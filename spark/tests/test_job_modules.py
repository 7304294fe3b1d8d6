"""How the job modules import each other, and that the driver ships what a job imports.

A job runs as `spark-submit <script> --py-files <modules>` (jobs/jobs.toml): a sibling module the
script imports, directly or through another, must be in its `py_files`, or the job fails on the
cluster only. And the imports go one way (no module imports one that imports it back).
"""

from __future__ import annotations

import ast
import tomllib

from tinylake import JOBS_DIR

JOBS_TOML = JOBS_DIR.parents[1] / "jobs" / "jobs.toml"
MODULES = {p.stem: p for p in JOBS_DIR.glob("*.py")}


def sibling_imports(name: str) -> set[str]:
    """The job modules `name` imports anywhere in its file (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & MODULES.keys() - {name}


def reachable(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for dep in sibling_imports(todo.pop()) - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def test_job_modules_import_each_other_one_way_only():
    cycles = sorted(name for name in MODULES if name in reachable(name))
    assert not cycles, f"import cycle through {cycles}"
    assert sibling_imports("common") == set()
    assert sibling_imports("evaluate") == set(), "evaluate takes the model as a function"
    assert sibling_imports("recommendations") == {"common", "evaluate"}


def test_every_job_ships_the_modules_it_imports():
    jobs = tomllib.loads(JOBS_TOML.read_text(encoding="utf-8"))["jobs"]
    checked = 0
    for name, job in jobs.items():
        script = (JOBS_TOML.parent / job["script"]).resolve()
        if script.parent != JOBS_DIR.resolve():
            continue
        shipped = {(JOBS_TOML.parent / p).resolve().stem for p in job.get("py_files", [])}
        missing = reachable(script.stem) - shipped
        assert not missing, f"job `{name}` imports {sorted(missing)} but its py_files do not ship them"
        checked += 1
    assert checked >= 2
