"""Fixtures for the monitor tests: a fake /etc, a manual clock and an agent driven by hand."""

import os
import time
from datetime import datetime, timezone

import pytest

from agent.catalog import Kind
from agent.clock import ManualClock
from agent.config import AgentConfig, DeviceConfig, Monitor, StoreConfig
from agent.daemon import Agent
from agent.scheduler import InlineExecutor
from agent.sources.host import HostSource

KEY_ENV = "MONITOR_TESTS_PROFILE_KEY"


@pytest.fixture
def berlin():
    """Run the test with the process's local zone set to Europe/Berlin, which has DST."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield "Europe/Berlin"
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


def set_zone(root, zone):
    """Point <root>/etc/localtime at a zone the way timedatectl does: a new link renamed over the old."""
    etc = root / "etc"
    staging = etc / ".localtime.new"
    staging.unlink(missing_ok=True)
    staging.symlink_to(f"../usr/share/zoneinfo/{zone}")
    os.rename(staging, etc / "localtime")


@pytest.fixture
def fake_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc" / "default").mkdir(parents=True)
    (root / "proc" / "net").mkdir(parents=True)
    (root / "proc" / "net" / "route").write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
    (root / "proc" / "net" / "ipv6_route").write_text("")
    set_zone(root, "Europe/Berlin")
    (root / "etc" / "default" / "locale").write_text("LANG=de_DE.UTF-8\n")
    (root / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    return root


def make_config(state_dir, monitors, heartbeat=15 * 86400.0, user_id="user-1", device_id="device-1"):
    return AgentConfig(
        path="agent.yaml",
        device=DeviceConfig(platform="linux", sdk_version=None, app_id="app-1", user_id=user_id, device_id=device_id),
        monitors=tuple(monitors),
        # Nothing listens there: these tests read the outbox and never start the sender.
        store=StoreConfig(url="http://127.0.0.1:9", key_env=KEY_ENV),
        state_dir=str(state_dir),
        heartbeat=heartbeat,
    )


def event_monitor(attribute, poll_interval=30.0):
    return Monitor(attribute, Kind.EVENT, poll_interval=poll_interval)


def interval_monitor(attribute, interval, jitter=0.0):
    return Monitor(attribute, Kind.INTERVAL, interval=interval, jitter=jitter)


def one_time_monitor(attribute):
    return Monitor(attribute, Kind.ONE_TIME)


class FakeSource(HostSource):
    """A host source whose collectors are replaced by scripted values per attribute."""

    def __init__(self, root, values=None):
        super().__init__(root, environ={})
        self.values = dict(values or {})
        self.calls = []

    def collect(self, attribute):
        self.calls.append(attribute)
        value = self.values.get(attribute)
        if isinstance(value, Exception):
            raise value
        if callable(value):
            return value()
        if value is None:
            return super().collect(attribute)
        return value


@pytest.fixture
def clock():
    return ManualClock(wall=datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc), steady=5000.0)


@pytest.fixture
def open_agent(tmp_path, fake_root, clock, monkeypatch):
    """Return a function that opens and starts an agent driven by hand: no threads, captures run inline.

    The returned agent has run its captures at start; the test moves the
    clock and calls agent.scheduler.run_pending() for what comes after.
    """
    monkeypatch.setenv(KEY_ENV, "test-key")
    agents = []

    def make(monitors, source=None, state_dir=None, start=True, **config_options):
        config = make_config(state_dir or tmp_path / "state", monitors, **config_options)
        agent = Agent(config, source=source or HostSource(fake_root, environ={}), clock=clock, threads=False)
        agent.open()
        if start:
            agent.start(executor=InlineExecutor())
            # The captures at start.
            agent.scheduler.run_pending()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.close()


def outbox_events(agent):
    """Return the event bodies in the outbox, oldest first."""
    return [event.body for event in agent.outbox.pending(1000)]


def updates(agent, attribute=None):
    return [event for event in outbox_events(agent) if event["type"] == "update" and (attribute is None or attribute in event["attributes"])]
