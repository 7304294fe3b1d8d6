"""Binaries of the Rust workspace for the Python tests."""
import functools
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def _target_dir(kind: str) -> Path:
    # Once per kind and test session: each sample run of a test used to run cargo twice.
    subprocess.run(["cargo", "build", "-q", "--workspace", f"--{kind}"], cwd=REPO, check=True)
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                          check=True, capture_output=True, text=True)
    return Path(json.loads(meta.stdout)["target_directory"]) / "debug"


def built(kind: str, name: str) -> Path:
    """Path of the workspace's binary (`kind="bins"`) or example (`kind="examples"`) `name`.

    Built with `--workspace`, as `make up` builds the binaries and `cargo test` the examples, so in
    `make test` this is a no-op. `cargo build -p <one package>` would resolve the dependencies'
    features differently and recompile them (minutes, and a second copy on disk)."""
    debug = _target_dir(kind)
    return debug / "examples" / name if kind == "examples" else debug / name
