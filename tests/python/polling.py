"""Waiting for a condition in the Python tests: poll until true or fail naming what never came."""
import time

import pytest


def wait_for(what: str, check, deadline_s: float, poll_s: float = 1.0):
    """Poll `check` until it returns something truthy; fail naming `what` after the deadline."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(poll_s)
    pytest.fail(f"{what} not seen within {deadline_s:.0f} s (last: {last!r})")
