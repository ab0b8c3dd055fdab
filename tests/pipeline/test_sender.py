"""The sender against a real profile store on loopback."""

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

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def device_state(tmp_path):
    db = StateDB(tmp_path / "agent.db")
    device, _ = register(db, DeviceConfig("linux", None, "app", user_id="u", device_id="dev-1"), HostSource(tmp_path))
    yield db, device
    db.close()


def fetch(store, device_id):
    response = httpx.get(f"{store.url}/resources/v2/customerappprofile/app/profiles/{device_id}", headers={"key": store.key})
    assert response.status_code == 200, response.text
    return response.json()


def test_drain_delivers_and_empties_outbox(device_state, profile_store):
    db, device = device_state
    ChangeTracker(db).record(device.device_id, "event", [Sample("timezone", Status.OK, "Europe/Berlin", None, NOW)])
    sender = Sender(Outbox(db), profile_store.url, "app", profile_store.key, StoreConfig())

    assert sender.drain()

    assert Outbox(db).depth() == 0
    assert fetch(profile_store, "dev-1")["attributes"]["timezone"]["value"] == "Europe/Berlin"


def test_batches_hold_at_most_batch_size(device_state, profile_store):
    db, device = device_state
    tracker = ChangeTracker(db)
    for level in range(250):
        tracker.record(device.device_id, "interval", [Sample("battery_level", Status.OK, float(level), None, NOW)])
    sender = Sender(Outbox(db), profile_store.url, "app", profile_store.key, StoreConfig(batch_size=100))

    sizes = []
    while (result := sender.send_batch()).sent:
        sizes.append(result.sent)

    assert sizes == [100, 100, 51]
    assert fetch(profile_store, "dev-1")["attributes"]["battery_level"]["value"] == 249.0


def test_wrong_key_keeps_events(device_state, profile_store):
    db, device = device_state
    sender = Sender(Outbox(db), profile_store.url, "app", "wrong-key", StoreConfig())

    result = sender.send_batch()

    assert result.retry
    assert "profile key" in result.error
    assert Outbox(db).depth() == 1
    assert Outbox(db).dead_letter_count() == 0


def test_rejected_event_goes_to_dead_letter(device_state, profile_store):
    db, device = device_state
    ChangeTracker(db).record(device.device_id, "event", [Sample("timezone", Status.OK, "x" * 70000, None, NOW)])
    sender = Sender(Outbox(db), profile_store.url, "app", profile_store.key, StoreConfig())

    sender.drain()

    assert Outbox(db).depth() == 0
    assert Outbox(db).dead_letter_count() == 1
    reason = db.query("SELECT reason FROM dead_letter")[0][0]
    assert "timezone" in reason or "value" in reason


def test_connection_refused_is_retried(device_state):
    db, _ = device_state
    sender = Sender(Outbox(db), "http://127.0.0.1:9", "app", "k", StoreConfig(connect_timeout=1.0))

    result = sender.send_batch()

    assert result.retry
    assert "cannot reach" in result.error
    assert Outbox(db).depth() == 1
