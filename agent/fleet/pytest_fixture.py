"""Pytest fixtures that run a fleet against a real profile store on loopback.

Load them with `pytest_plugins = ["agent.fleet.pytest_fixture"]` in a
conftest.py, then:

    def test_profiles(run_fleet):
        summary = run_fleet(devices=50, duration="6h", seed=1)
        assert summary["verification"]["mismatches"] == 0

`fleet_store` is the store the fleet talks to; stop() and start() it from
a hook to simulate an outage on the same database and port.
"""

import itertools
import secrets
import time
from urllib.parse import urlsplit

import pytest

from agent.fleet.runner import run_fleet as _run_fleet
from agent.store.server import ProfileStoreServer


class FleetStore:
    """A profile store on loopback that can be stopped and started again on the same database and port."""

    def __init__(self, db_path, key):
        self.db_path = db_path
        self.key = key
        self.port = 0
        self.server = None
        self.url = None

    def start(self):
        self.server = ProfileStoreServer(self.db_path, port=self.port, key=self.key).start()
        self.url = self.server.url
        self.port = urlsplit(self.url).port
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    @property
    def running(self):
        return self.server is not None


def wait_for(condition, timeout=10.0, interval=0.01):
    """Return True once condition() is true, False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def fleet_store(tmp_path):
    store = FleetStore(tmp_path / "profile-store.db", secrets.token_urlsafe(16)).start()
    yield store
    store.stop()


@pytest.fixture
def run_fleet(fleet_store, tmp_path):
    """Return a function that runs a fleet against fleet_store and returns its summary."""

    runs = itertools.count(1)

    def run(**options):
        options.setdefault("state_dir", str(tmp_path / f"fleet-{next(runs)}"))
        return _run_fleet(fleet_store.url, fleet_store.key, **options)

    return run
