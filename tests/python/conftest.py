"""Fixtures of the Python suites that run against the live platform (`make up`).

A suite never skips because the platform is down: a test that needs it fails, naming the parts
that do not answer. (spark/tests has a conftest of its own, for its local Spark session.)
"""
import platform_facts
import pytest


@pytest.fixture(scope="session")
def platform() -> dict:
    """The platform file's facts, once every part of the platform it names answers."""
    facts = platform_facts.facts()
    down = platform_facts.down(facts)
    if down:
        pytest.fail(f"the platform is not up: {', '.join(down)} do not answer; {platform_facts.UP}",
                    pytrace=False)
    return facts
