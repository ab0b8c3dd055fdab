from datetime import datetime, timezone

import pytest

from agent.config import DeviceConfig
from agent.outbox import Outbox
from agent.registration import register
from agent.samples import Sample, Status
from agent.sources.simulated import SimulatedSource
from agent.scenarios import load_scenario
from agent.statedb import StateDB
from agent.tracker import ChangeTracker

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def sample(attribute, value):
    return Sample(attribute, Status.OK, value, None, NOW)


@pytest.fixture
def db(tmp_path):
    database = StateDB(tmp_path / "state.db", synchronous="NORMAL")
    source = SimulatedSource("android", "2.12", load_scenario("default"), 1)
    for device_id in ("device-a", "device-b"):
        register(database, DeviceConfig("android", "2.12", "app", user_id="user", device_id=device_id), source, now=NOW)
    yield database
    database.close()


def test_record_many_queues_changed_samples_per_device(db):
    tracker = ChangeTracker(db)
    events = tracker.record_many([
        ("device-a", "event", [sample("timezone", "Europe/Berlin"), sample("language", "de-DE")]),
        ("device-b", "event", [sample("timezone", "Asia/Tokyo")]),
        ("device-a", "event", [sample("timezone", "Europe/Berlin")]),
    ])
    assert [(event["device_id"], next(iter(event["attributes"]))) for event in events] == [
        ("device-a", "timezone"), ("device-a", "language"), ("device-b", "timezone"),
    ]
    sequences = [event["sequence"] for event in events if event["device_id"] == "device-a"]
    assert sequences[1] == sequences[0] + 1
    assert Outbox(db).depth() == 2 + len(events)  # two registrations


def test_record_many_matches_record(db):
    tracker = ChangeTracker(db)
    many = tracker.record_many([("device-a", "interval", [sample("battery_level", 50.0)])])
    single = tracker.record("device-b", "interval", [sample("battery_level", 50.0)])
    assert {key: value for key, value in many[0].items() if key not in ("event_id", "device_id", "sequence")} == \
        {key: value for key, value in single[0].items() if key not in ("event_id", "device_id", "sequence")}


def test_record_many_commits_nothing_on_unknown_device(db):
    tracker = ChangeTracker(db)
    with pytest.raises(LookupError):
        tracker.record_many([
            ("device-a", "event", [sample("timezone", "Europe/Paris")]),
            ("device-unknown", "event", [sample("timezone", "Europe/Paris")]),
        ])
    assert tracker.last_payload("device-a", "timezone") is None
    assert Outbox(db).depth() == 2


def test_statedb_rejects_unknown_synchronous(tmp_path):
    with pytest.raises(ValueError, match="synchronous must be FULL or NORMAL"):
        StateDB(tmp_path / "state.db", synchronous="OFF")
