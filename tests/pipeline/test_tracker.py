"""The change tracker: only changed values become events, and state survives a reopen."""

import json
from datetime import datetime, timezone

import pytest

from agent.config import DeviceConfig
from agent.outbox import Outbox
from agent.registration import register
from agent.samples import Sample, Status
from agent.sources.host import HostSource
from agent.statedb import StateDB
from agent.tracker import ChangeTracker

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def state(tmp_path):
    db = StateDB(tmp_path / "agent.db")
    device, _ = register(db, DeviceConfig("linux", None, "app", user_id="u1", device_id="dev-1"), HostSource(tmp_path))
    yield db, device
    db.close()


def sample(attribute, value, status=Status.OK, reason=None):
    return Sample(attribute, status, value, reason, NOW)


def test_unchanged_value_emits_nothing(state):
    db, device = state
    tracker = ChangeTracker(db)

    first = tracker.record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])
    second = tracker.record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])

    assert len(first) == 1
    assert second == []


def test_changed_status_emits_event(state):
    db, device = state
    tracker = ChangeTracker(db)
    tracker.record(device.device_id, "interval", [sample("battery_level", 80.0)])

    events = tracker.record(device.device_id, "interval", [sample("battery_level", None, Status.UNAVAILABLE, "battery removed")])

    assert events[0]["attributes"]["battery_level"] == {"status": "unavailable", "value": None, "reason": "battery removed"}


def test_sequences_increase_across_reopen(tmp_path, state):
    db, device = state
    ChangeTracker(db).record(device.device_id, "event", [sample("timezone", "Europe/Berlin"), sample("language", "de-DE")])
    db.close()

    reopened = StateDB(tmp_path / "agent.db")
    events = ChangeTracker(reopened).record(device.device_id, "event", [sample("timezone", "Asia/Tokyo")])
    bodies = [event.body for event in Outbox(reopened).pending(100)]
    reopened.close()

    sequences = [body["sequence"] for body in bodies]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
    assert events[0]["sequence"] == sequences[-1]


def test_last_value_persists_across_reopen(tmp_path, state):
    db, device = state
    ChangeTracker(db).record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])
    db.close()

    reopened = StateDB(tmp_path / "agent.db")
    events = ChangeTracker(reopened).record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])
    reopened.close()

    assert events == []


def test_event_and_last_value_commit_together(state, monkeypatch):
    db, device = state
    tracker = ChangeTracker(db)

    def fail_insert(connection, event):
        raise OSError("disk full")

    monkeypatch.setattr(Outbox, "insert", staticmethod(fail_insert))
    with pytest.raises(OSError):
        tracker.record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])

    assert tracker.last_payload(device.device_id, "timezone") is None


def test_event_carries_wire_fields(state):
    db, device = state

    [event] = ChangeTracker(db).record(device.device_id, "event", [sample("timezone", "Europe/Berlin")])

    assert event["type"] == "update"
    assert event["kind"] == "event"
    assert event["device_id"] == "dev-1"
    assert event["captured_at"] == NOW.isoformat()
    assert json.loads(json.dumps(event)) == event
