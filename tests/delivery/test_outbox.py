"""The outbox against a real SQLite file: durability, caps, coalescing and counters."""

import logging
import threading
from datetime import datetime, timedelta, timezone

from agent.outbox import Outbox
from agent.sender import Sender
from agent.tracker import ChangeTracker

from .conftest import KEY, APP_ID, applied_sequences, fast_store_config, final_state, registered_state, sample, store_state


def test_outbox_event_committed_with_last_value(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    Outbox(db)
    ChangeTracker(db).record("device-1", "event", [sample("timezone", "Europe/Berlin")])
    db.close()

    # A new connection reads both the value and its event, so both reached the file.
    reopened = registered_state(tmp_path / "agent.db")
    outbox = Outbox(reopened)
    bodies = [event.body for event in outbox.pending(10)]
    assert [body["type"] for body in bodies] == ["registration", "update"]
    assert bodies[1]["attributes"]["timezone"]["value"] == "Europe/Berlin"
    assert final_state(reopened)["timezone"]["value"] == "Europe/Berlin"


def test_outbox_totals_follow_inserts_and_deletes(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    tracker = ChangeTracker(db)
    for value in range(30):
        tracker.record("device-1", "interval", [sample("battery_level", value)])
    counted = db.query("SELECT COUNT(*), SUM(length(CAST(body AS BLOB))) FROM outbox")[0]
    usage = outbox.usage()
    assert (usage.events, usage.bytes) == counted

    outbox.acknowledge(outbox.pending(20))
    counted = db.query("SELECT COUNT(*), SUM(length(CAST(body AS BLOB))) FROM outbox")[0]
    usage = outbox.usage()
    assert (usage.events, usage.bytes) == counted
    assert outbox.depth() == 11


def test_outbox_cap_coalesces_same_attribute(tmp_path, caplog):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db, max_events=50)
    tracker = ChangeTracker(db)
    with caplog.at_level(logging.WARNING, logger="agent.outbox"):
        for value in range(500):
            tracker.record("device-1", "interval", [sample("battery_level", value), sample("signal_strength", 1000 - value)])

    usage = outbox.usage()
    assert usage.events <= 50
    assert usage.dropped == 0
    assert usage.coalesced + usage.events == 1001
    newest = {event.body["attributes"].get("battery_level", {}).get("value") for event in outbox.pending(100)}
    assert 499 in newest
    warnings = [record for record in caplog.records if "reached its cap" in record.getMessage()]
    assert len(warnings) == 1


def test_outbox_cap_keeps_registrations(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db, max_events=10)
    tracker = ChangeTracker(db)
    # Every attribute is new, so nothing coalesces and the oldest updates are dropped.
    for number in range(40):
        tracker.record("device-1", "event", [sample(f"attribute_{number}", number)])

    events = [event.body for event in outbox.pending(100)]
    assert len(events) == 10
    assert events[0]["type"] == "registration"
    assert [body["attributes"] for body in events[1:]][-1] == {"attribute_39": {"status": "ok", "value": 39, "reason": None}}
    assert outbox.usage().dropped == 31


def test_outbox_cap_in_bytes(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db, max_events=10_000, max_bytes=4096)
    tracker = ChangeTracker(db)
    for number in range(100):
        tracker.record("device-1", "event", [sample(f"attribute_{number}", "x" * 100)])
    usage = outbox.usage()
    assert usage.bytes <= 4096
    assert usage.dropped > 0


def test_outbox_counters_survive_reopen(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db, max_events=5)
    tracker = ChangeTracker(db)
    for value in range(20):
        tracker.record("device-1", "interval", [sample("battery_level", value)])
    before = outbox.usage()
    db.close()

    reopened = Outbox(registered_state(tmp_path / "agent.db"), max_events=5)
    after = reopened.usage()
    assert after.coalesced == before.coalesced
    assert after.coalesced > 0
    assert after.events == before.events


def test_outbox_burst_ends_when_drained(tmp_path, caplog):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db, max_events=10)
    tracker = ChangeTracker(db)
    for value in range(30):
        tracker.record("device-1", "interval", [sample("battery_level", value)])
    with caplog.at_level(logging.INFO, logger="agent.outbox"):
        outbox.acknowledge(outbox.pending(100))
    assert any("below half its cap" in record.getMessage() for record in caplog.records)
    assert db.setting("outbox_over_cap_since") is None


def test_outbox_month_offline_stays_small(tmp_path, store):
    # Nearly 9,000 commits: NORMAL spares the fsyncs, which this test is not about.
    db = registered_state(tmp_path / "agent.db", synchronous="NORMAL")
    outbox = Outbox(db, max_events=200, max_bytes=64 * 1024)
    tracker = ChangeTracker(db)

    # A month of captures every 5 minutes of four interval attributes, with the store out of reach.
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    captures = 30 * 24 * 12
    for number in range(captures):
        moment = start + timedelta(minutes=5 * number)
        tracker.record(
            "device-1",
            "interval",
            [
                sample("battery_level", number % 101, moment),
                sample("signal_strength", (number * 7) % 101, moment),
                sample("time_spent", number * 300, moment),
                sample("foreground_app", f"app-{number % 13}", moment),
            ],
        )
        if number % 97 == 0:
            tracker.record("device-1", "event", [sample("timezone", ["Europe/Berlin", "Asia/Tokyo"][number % 2], moment)])
    usage = outbox.usage()
    assert usage.events <= 200
    assert usage.bytes <= 64 * 1024
    assert usage.coalesced > captures

    # The store comes back: everything left is delivered and the newest values win.
    sender = Sender(outbox, store.url, APP_ID, KEY, fast_store_config())
    assert sender.drain(deadline=None, stop=threading.Event())
    sender.close()
    assert outbox.depth() == 0
    assert store_state(store.url) == final_state(db)
    assert len(applied_sequences(store.db_path)) == usage.events


def test_outbox_acknowledge_restores_full_sync(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    ChangeTracker(db).record("device-1", "event", [sample("timezone", "Europe/Berlin")])
    outbox.acknowledge(outbox.pending(1))

    # 2 is FULL: inserts that follow must still reach the disk before the capture counts as done.
    assert db.query("PRAGMA synchronous") == [(2,)]
    assert outbox.depth() == 1


def test_statedb_relaxed_commit_survives_reopen(tmp_path):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    outbox.acknowledge(outbox.pending(10))
    db.close()
    assert Outbox(registered_state(tmp_path / "agent.db")).depth() == 0
