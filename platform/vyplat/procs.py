"""Background processes by pid file: start once, find again, stop by pid.

Every process `up` starts gets `.vygoda/run/<name>.pid` and `.vygoda/logs/<name>.log`. A second
`up` finds the pid alive and leaves it alone; `down` stops exactly what `up` started.
"""
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .paths import LOGS, RUN


class PlatformError(Exception):
    """A part did not come up; the message says which and where its log is."""


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie answers kill(0) but is gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def running(name: str) -> int | None:
    try:
        pid = int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def start(name: str, argv: list, cwd: Path | None = None, env: dict | None = None,
          restart_on_change: bool = True) -> int:
    """Start `argv` detached (own session, so Ctrl-C in a terminal does not take it down).

    A running process is kept when it was started with the same command line; otherwise (a
    flag changed in an upgrade, or no record of how it was started) it is restarted, so `up`
    after a change applies it. Kafka nodes decide for themselves (`restart_on_change=False`):
    a cluster's nodes must not all go at once."""
    command = "\n".join(map(str, argv))
    record = RUN / f"{name}.cmd"
    pid = running(name)
    if pid:
        if not restart_on_change or (record.exists() and record.read_text() == command):
            return pid
        print(f"[up] restarting {name}: its command line changed", flush=True)
        stop(name)
    # The child inherits the log's descriptor; ours is closed once it is started.
    with open(LOGS / f"{name}.log", "ab") as log:
        log.write(f"\n=== start {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(map(str, argv))}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [str(a) for a in argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    pid_file(name).write_text(str(proc.pid))
    record.write_text(command)
    return proc.pid


def stop(name: str, grace: float = 20.0) -> bool:
    """SIGTERM, wait up to `grace`, then SIGKILL. True if something was stopped."""
    pid = running(name)
    if not pid:
        pid_file(name).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)
    return True


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: str | None = None) -> None:
    """Poll `check` until it is true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last_error = error
        time.sleep(0.3)
    hint = f"; see {LOGS / (log + '.log')}" if log else ""
    raise PlatformError(f"{what} not ready after {timeout:.0f}s (last error: {last_error}){hint}")


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    """Run a command to completion, raising with its output on failure."""
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise PlatformError(
            f"`{' '.join(map(str, argv))}` failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result
