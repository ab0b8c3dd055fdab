"""Delivery through store faults and agent crashes, against real processes on loopback.

After recovery each fault test checks the same three things: the store's profile
equals the device's final state, every sequence number the device allocated
reached the store, and no event was applied twice.
"""

import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from agent.outbox import Outbox
from agent.sender import Backoff, Sender
from agent.statedb import StateDB
from agent.tracker import ChangeTracker

from .conftest import (
    APP_ID,
    KEY,
    PYTHON,
    WORKTREE,
    applied_sequences,
    fast_store_config,
    final_state,
    registered_state,
    sample,
    store_state,
    wait_until,
)

ATTRIBUTES = ("battery_level", "signal_strength", "timezone", "language", "foreground_app")


class Device:
    """A device's state database and a sender thread delivering it, as the agent runs them."""

    def __init__(self, tmp_path, url):
        self.db = registered_state(tmp_path / "agent.db")
        self.outbox = Outbox(self.db)
        self.tracker = ChangeTracker(self.db)
        config = fast_store_config(read_timeout=1.0, connect_timeout=0.5)
        self.sender = Sender(self.outbox, url, APP_ID, KEY, config, backoff=Backoff(base=0.05, cap=0.5))
        self.stop = threading.Event()
        self.wakeup = threading.Event()
        self.thread = threading.Thread(target=self.sender.run, args=(self.stop, self.wakeup, 0.05), daemon=True)

    def start(self):
        self.thread.start()
        return self

    def capture(self, count, pause=0.0):
        for number in range(count):
            attribute = ATTRIBUTES[number % len(ATTRIBUTES)]
            self.tracker.record("device-1", "event", [sample(attribute, f"{attribute}-{number}")])
            if number % 20 == 0:
                self.wakeup.set()
            if pause:
                time.sleep(pause)

    def finish(self, timeout=30.0):
        delivered = wait_until(lambda: self.outbox.depth() == 0, timeout)
        self.stop.set()
        self.wakeup.set()
        self.thread.join(5)
        self.sender.close()
        return delivered


def assert_recovered(device_db, store_url, store_db, registration_sequence, proxy=None):
    """Check the store against the device after recovery; each condition has its own assert."""
    assert device_db.query("SELECT COUNT(*) FROM outbox") == [(0,)]
    assert device_db.query("SELECT COUNT(*) FROM dead_letter") == [(0,)]
    assert store_state(store_url) == final_state(device_db)

    next_sequence = device_db.query("SELECT next_sequence FROM devices WHERE device_id = 'device-1'")[0][0]
    received = applied_sequences(store_db)
    assert len(received) == len(set(received)), "one sequence number reached the store under two event ids"
    assert received == list(range(registration_sequence, next_sequence)), "an allocated sequence number never reached the store"
    if proxy is not None:
        assert proxy.applied_twice() == []


def registration_sequence(db):
    return json.loads(db.query("SELECT body FROM outbox ORDER BY id LIMIT 1")[0][0])["sequence"]


def test_store_down_at_start(tmp_path, store_process):
    device = Device(tmp_path, store_process.url)
    first = registration_sequence(device.db)
    device.start()
    device.capture(150)
    time.sleep(0.5)
    assert device.outbox.depth() == 151
    assert device.sender.backoff.failures >= 1

    store_process.start()
    assert device.finish()
    assert_recovered(device.db, store_process.url, store_process.db, first)


def test_store_killed_and_restarted(tmp_path, store_process):
    store_process.start()
    device = Device(tmp_path, store_process.url)
    first = registration_sequence(device.db)
    device.start()

    producer = threading.Thread(target=device.capture, args=(1500, 0.001))
    producer.start()
    for _ in range(3):
        time.sleep(0.4)
        store_process.kill()
        time.sleep(0.3)
        store_process.start()
    producer.join()

    assert device.finish()
    assert_recovered(device.db, store_process.url, store_process.db, first)


FAULTS = {
    # Responses of 500 and 503, one before and two after the store applied the batch.
    "500": {1: ("status", 500, {}, b'{"error":{"status":500,"reason":"boom"}}'), 2: ("forward_then", 500, b"internal error"), 3: ("forward_then", 503, b"")},
    "429": {1: ("status", 429, {"Retry-After": "1"}, b'{"error":{"status":429,"reason":"rate limited"}}'), 3: ("status", 429, {"Retry-After": "1"}, b"{}")},
    # Longer than the sender's 1 s read timeout, after the store applied the batch.
    "slow": {1: ("forward_slowly", 1.6), 3: ("forward_slowly", 1.6)},
    "malformed": {
        1: ("forward_then", 200, b"<html>proxy error</html>"),
        2: ("forward_then", 200, b'{"results": "all good"}'),
        3: ("forward_then", 200, b'{"results": [{"event_id": null, "status": "applied"}]}'),
        4: ("forward_then", 200, b'{"results": [{"status": "weird"}]'),
    },
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_store_fault(tmp_path, store, proxy_factory, fault):
    script = FAULTS[fault]
    proxy = proxy_factory(lambda number, body: script.get(number, ("forward",)))
    device = Device(tmp_path, proxy.url)
    first = registration_sequence(device.db)
    device.capture(230)
    device.start()
    device.capture(50, 0.002)

    assert device.finish()
    assert_recovered(device.db, store.url, store.db_path, first, proxy)
    assert len(proxy.arrivals) > len(script)
    if fault == "429":
        assert proxy.arrivals[1] - proxy.arrivals[0] >= 0.95
    if any(action[0] != "status" for action in script.values()):
        statuses = {status for _, status in proxy.statuses}
        assert "duplicate" in statuses


# The agent killed at random points

AGENT_CONFIG = """\
device:
  platform: linux
  app_id: {app_id}
  device_id: device-1
  user_id: user-1
monitors:
  event:
    - timezone: {{poll_interval: 1s}}
    - language: {{poll_interval: 1s}}
store:
  url: {url}
  key_file: {key_file}
  flush_interval: 100ms
  connect_timeout: 1s
  read_timeout: 2s
state_dir: {state_dir}
logging:
  level: warning
"""

ZONES = ("Europe/Berlin", "Asia/Tokyo", "America/Chicago", "Africa/Lagos", "Australia/Perth", "Europe/Lisbon")
LANGUAGES = ("de_DE.UTF-8", "ja_JP.UTF-8", "en_US.UTF-8", "fr_FR.UTF-8", "pt_BR.UTF-8")


class HostChanges:
    """Changes the fake host's time zone and locale files every few milliseconds, as a busy device would."""

    def __init__(self, root):
        self.root = root
        (root / "etc" / "default").mkdir(parents=True)
        self.rng = random.Random(11)
        self.running = threading.Event()
        self.write()

    def write(self):
        zone = self.rng.choice(ZONES)
        for name, text in (("etc/timezone", zone), ("etc/default/locale", f"LANG={self.rng.choice(LANGUAGES)}")):
            staging = self.root / f"{name}.new"
            staging.write_text(text + "\n")
            os.replace(staging, self.root / name)

        # A symlink into the zone database is how most distributions set the zone.
        staging = self.root / "etc" / "localtime.new"
        staging.unlink(missing_ok=True)
        os.symlink(f"/usr/share/zoneinfo/{zone}", staging)
        os.replace(staging, self.root / "etc" / "localtime")

    def loop(self):
        while self.running.is_set():
            self.write()
            time.sleep(0.05)

    def __enter__(self):
        self.running.set()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.running.clear()
        self.thread.join()


def agent_command(config_path, root, *extra):
    return [PYTHON, "-m", "agent", "run", "--config", str(config_path), "--root", str(root), *extra]


def agent_environment():
    environ = {name: value for name, value in os.environ.items() if name not in ("TZ", "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    environ["PYTHONPATH"] = str(WORKTREE)
    return environ


def test_agent_sigkill_at_random_points(tmp_path, store, proxy_factory, key_file):
    # A slow store widens the window in which a kill lands between the store applying a batch and the agent deleting it.
    delays = random.Random(7)
    proxy = proxy_factory(lambda number, body: ("forward_slowly", delays.uniform(0.05, 0.4)))
    root, state_dir = tmp_path / "root", tmp_path / "state"
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(AGENT_CONFIG.format(app_id=APP_ID, url=proxy.url, key_file=key_file, state_dir=state_dir))
    changes = HostChanges(root)
    rng = random.Random(20261204)

    kills = 0
    with changes:
        for _ in range(20):
            agent = subprocess.Popen(agent_command(config_path, root), env=agent_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.2, 1.5))
            if agent.poll() is None:
                agent.send_signal(signal.SIGKILL)
                kills += 1
            agent.wait()
            assert agent.returncode == -signal.SIGKILL, agent.stderr.read().decode()
            agent.stderr.close()
    assert kills == 20

    # A last clean run captures the final values and delivers everything left.
    changes.write()
    finished = subprocess.run(agent_command(config_path, root, "--once"), env=agent_environment(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert not list(state_dir.glob("*.corrupt-*"))

    state = StateDB(state_dir / "agent.db")
    received = applied_sequences(store.db_path)
    assert received, "the store received nothing"
    assert_recovered(state, store.url, store.db_path, received[0], proxy)
    assert final_state(state)["timezone"]["value"] == (root / "etc" / "timezone").read_text().strip()
    assert len(received) >= 3


def test_agent_key_from_environment_never_logged(tmp_path, store):
    root, state_dir = tmp_path / "root", tmp_path / "state"
    HostChanges(root)
    config_path = tmp_path / "agent.yaml"
    config = AGENT_CONFIG.format(app_id=APP_ID, url=store.url, key_file="unused", state_dir=state_dir)
    config = config.replace("  key_file: unused\n", "").replace("level: warning", "level: debug")
    config_path.write_text(config)
    environ = agent_environment()
    environ["DEVICE_AGENT_PROFILE_KEY"] = KEY
    command = agent_command(config_path, root, "--once")

    finished = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert KEY not in " ".join(command)
    assert KEY not in finished.stderr
    assert KEY not in finished.stdout
    assert "timezone" in store_state(store.url)


def test_agent_starts_clean_after_corrupt_state(tmp_path, store, key_file):
    root, state_dir = tmp_path / "root", tmp_path / "state"
    HostChanges(root)
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(AGENT_CONFIG.format(app_id=APP_ID, url=store.url, key_file=key_file, state_dir=state_dir))
    state_dir.mkdir()
    (state_dir / "agent.db").write_bytes(b"\x00garbage that is no SQLite file" * 200)

    finished = subprocess.run(agent_command(config_path, root, "--once"), env=agent_environment(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    moved = list(state_dir.glob("agent.db.corrupt-*"))
    assert len(moved) == 1
    assert str(moved[0]) in finished.stderr
    assert "register again" in finished.stderr
    assert store_state(store.url) == final_state(StateDB(state_dir / "agent.db"))
