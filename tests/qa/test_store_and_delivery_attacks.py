"""The profile store, the sender and the agent process under hostile conditions."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from agent.config import DeviceConfig, StoreConfig
from agent.outbox import Outbox
from agent.registration import register
from agent.samples import Sample, Status
from agent.sender import Sender
from agent.sources.host import HostSource
from agent.statedb import StateDB
from agent.tracker import ChangeTracker
from tests.support import PROJECT_DIR, agent_command

EVENTS = "/resources/v2/customerappprofile/app/events"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def update(captured_at):
    return {
        "event_id": "e-extreme", "device_id": "dev-x", "sequence": 2, "type": "update", "kind": "event",
        "captured_at": captured_at, "attributes": {"timezone": {"status": "ok", "value": "UTC"}},
    }


@pytest.mark.parametrize("captured_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_store_rejects_extreme_captured_at(profile_store, captured_at):
    response = httpx.post(profile_store.url + EVENTS, json={"records": [update(captured_at)]}, headers={"key": profile_store.key})

    assert response.status_code == 400, response.text
    assert "captured_at" in response.text


@pytest.fixture
def device_state(tmp_path):
    db = StateDB(tmp_path / "agent.db")
    device, _ = register(db, DeviceConfig("linux", None, "app", user_id="u", device_id="dev-1"), HostSource(tmp_path))
    yield db, device
    db.close()


def test_sender_survives_unparsable_retry_after(device_state):
    db, device = device_state

    def answer_429(request):
        return httpx.Response(429, headers={"Retry-After": "soon"}, json={"error": {"status": 429, "reason": "slow down"}})

    sender = Sender(Outbox(db), "http://store.test", "app", "k", StoreConfig(), transport=httpx.MockTransport(answer_429))

    result = sender.send_batch()

    assert result.retry
    assert Outbox(db).depth() == 1


def test_sender_registers_again_when_store_lost_profile(device_state, profile_store):
    db, device = device_state
    tracker = ChangeTracker(db)
    outbox = Outbox(db)
    # The registration queued by the fixture is dropped, as if the store had acknowledged
    # it and then lost the profile (store database restored, or the profile expired).
    db.query("DELETE FROM outbox")
    tracker.record(device.device_id, "event", [Sample("timezone", Status.OK, "Europe/Berlin", None, NOW)])
    sender = Sender(outbox, profile_store.url, "app", profile_store.key, StoreConfig())

    sender.drain(deadline=time.monotonic() + 10)

    response = httpx.get(f"{profile_store.url}/resources/v2/customerappprofile/app/profiles/dev-1", headers={"key": profile_store.key})
    assert response.status_code == 200, "the change was dead-lettered instead of registering the device again"
    assert outbox.dead_letter_count() == 0


def write_config(path, state_dir, store_url, key_file):
    path.write_text(textwrap.dedent(f"""\
        device:
          platform: linux
          app_id: app
          device_id: dev-run
        monitors:
          event:
            - timezone: {{poll_interval: 1s}}
        store:
          url: {store_url}
          key_file: {key_file}
          read_timeout: 10s
        state_dir: {state_dir}
        """))


def test_run_once_fails_when_store_rejected_events(tmp_path, profile_store):
    key_file = tmp_path / "key"
    key_file.write_text(profile_store.key + "\n")
    key_file.chmod(0o600)
    config = tmp_path / "agent.yaml"
    write_config(config, tmp_path / "state", profile_store.url, key_file)
    (tmp_path / "root" / "etc").mkdir(parents=True)
    (tmp_path / "root" / "etc" / "localtime").symlink_to("/usr/share/zoneinfo/Asia/Tokyo")
    assert agent_command("run", "--once", "--config", config, "--root", tmp_path / "root").returncode == 0
    # The store loses the device, so the next change is rejected as unregistered.
    profile_store.shutdown()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{profile_store.db_path}{suffix}"):
            os.unlink(f"{profile_store.db_path}{suffix}")
    from agent.store.server import ProfileStoreServer

    fresh = ProfileStoreServer(profile_store.db_path, host="127.0.0.1", port=0, key=profile_store.key).start()
    try:
        write_config(config, tmp_path / "state", fresh.url, key_file)
        (tmp_path / "root" / "etc" / "localtime").unlink()
        (tmp_path / "root" / "etc" / "localtime").symlink_to("/usr/share/zoneinfo/Europe/Berlin")

        result = agent_command("run", "--once", "--config", config, "--root", tmp_path / "root")
    finally:
        fresh.shutdown()

    assert result.returncode != 0, "run --once exited 0 although the store acknowledged nothing: " + result.stderr[-500:]


def test_sigterm_with_hung_store_exits_within_stop_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts into the backlog and never answers
    key_file = tmp_path / "key"
    key_file.write_text("key\n")
    key_file.chmod(0o600)
    config = tmp_path / "agent.yaml"
    write_config(config, tmp_path / "state", f"http://127.0.0.1:{listener.getsockname()[1]}", key_file)
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_DIR))
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(config), "--stop-timeout", "2"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        time.sleep(3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            returncode = None
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()

    assert returncode == 0
    assert elapsed < 5, f"stopping took {elapsed:.1f} s with --stop-timeout 2"


@pytest.mark.parametrize("kind", ["unwritable", "not_a_directory"])
def test_run_reports_unusable_state_dir_without_traceback(tmp_path, kind):
    config = tmp_path / "agent.yaml"
    config.write_text("device:\n  platform: linux\n  app_id: app\nmonitors:\n  one_time: [ram]\n")
    if kind == "not_a_directory":
        state_dir = tmp_path / "state"
        state_dir.write_text("a file\n")
    else:
        # Nothing can be created under /proc, not even by root, unlike a chmod'ed directory.
        state_dir = "/proc/device-agent-state"

    result = agent_command("run", "--once", "--config", config, "--state-dir", state_dir)

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode != 0
    assert str(state_dir) in result.stderr


def test_run_reports_corrupt_state_db_without_traceback(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text("device:\n  platform: linux\n  app_id: app\nmonitors:\n  one_time: [ram]\n")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "agent.db").write_bytes(b"this is not a database" * 100)

    result = agent_command("run", "--once", "--config", config, "--state-dir", state_dir)

    assert "Traceback" not in result.stderr, result.stderr
    assert "agent.db" in result.stderr


def test_collect_rejects_missing_root(tmp_path):
    result = agent_command("collect", "timezone", "--json", "--root", tmp_path / "no-such-root")

    assert "Traceback" not in result.stderr
    assert result.returncode != 0, "a mistyped --root reported the zone as Etc/UTC"
