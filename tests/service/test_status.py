"""The status the agent records and `device-agent status` reads back."""

import re
import sqlite3
from datetime import datetime, timezone

import pytest

from agent.catalog import Kind
from agent.config import Monitor
from agent.errors import AgentError
from agent.samples import Sample, Status
from agent.statedb import StateDB
from agent.status import MonitorStatusBook, SenderStateTracker, read_status, render_text
from tests.service.conftest import run_cli

CAPTURED = datetime(2026, 12, 4, 12, 0, 0, tzinfo=timezone.utc)
BATTERY = Monitor("battery_level", Kind.INTERVAL, interval=300.0)
TIMEZONE = Monitor("timezone", Kind.EVENT, poll_interval=30.0)


class FakeSender:
    last_delivery = CAPTURED.timestamp()
    last_error = "cannot reach the profile store at http://127.0.0.1:9/: ConnectError"


@pytest.fixture
def db(tmp_path):
    database = StateDB(tmp_path / "agent.db")
    with database.transaction() as connection:
        connection.execute(
            "INSERT INTO devices (device_id, app_id, user_id, platform, registered_at, next_sequence) VALUES (?, ?, ?, ?, ?, ?)",
            ("device-1", "app-1", "user-1", "linux", "2026-12-04T11:00:00+00:00", 5),
        )
    yield database
    database.close()


def sample(status, reason=None, value=None):
    return Sample("battery_level", status, value, reason, CAPTURED)


def test_error_count_accumulates(db, tmp_path):
    book = MonitorStatusBook()
    book.record("device-1", BATTERY, sample(Status.UNAVAILABLE, "the battery is not readable yet"))
    book.flush(db)
    book.record("device-1", BATTERY, sample(Status.ERROR, "collector failed: OSError: EIO"))
    book.record("device-1", BATTERY, sample(Status.OK, value=80))
    book.flush(db)

    monitor = read_status(tmp_path / "agent.db")["monitors"][0]

    assert monitor["error_count"] == 2
    assert monitor["last_error"] == "error: collector failed: OSError: EIO"
    assert monitor["last_status"] == "ok"
    assert monitor["last_capture"] == "2026-12-04T12:00:00Z"
    assert monitor["next_due"] == "2026-12-04T12:05:00Z"


def test_unsupported_is_not_error(db, tmp_path):
    book = MonitorStatusBook()
    book.record("device-1", BATTERY, sample(Status.UNSUPPORTED, "this device has no battery"))
    book.flush(db)

    monitor = read_status(tmp_path / "agent.db")["monitors"][0]

    assert monitor["error_count"] == 0
    assert monitor["last_error"] is None
    assert monitor["last_status"] == "unsupported: this device has no battery"


def test_configured_monitor_never_captured(db, tmp_path):
    report = read_status(tmp_path / "agent.db", configured=[("timezone", "event")])

    assert report["monitors"] == [
        {"attribute": "timezone", "kind": "event", "last_capture": None, "last_status": None, "next_due": None,
         "error_count": 0, "last_error": None, "last_error_at": None}
    ]


def test_outbox_and_delivery(db, tmp_path):
    with db.transaction() as connection:
        connection.execute(
            "INSERT INTO outbox (device_id, event_id, body, created_at) VALUES ('device-1', 'event-1', '{}', ?)", (CAPTURED.timestamp(),)
        )
    tracker = SenderStateTracker(clock=lambda: CAPTURED.timestamp())
    tracker.observe(FakeSender())
    tracker.flush(db, "device-1", pid=4242)

    report = read_status(tmp_path / "agent.db", now=CAPTURED.timestamp() + 90)

    assert report["outbox"] == {"depth": 1, "oldest_event_age_seconds": 90.0, "dead_letters": 0, "coalesced": 0, "dropped": 0}
    assert report["delivery"]["last_delivery"] == "2026-12-04T12:00:00Z"
    assert report["delivery"]["last_error"] == FakeSender.last_error
    assert report["delivery"]["last_error_at"] == "2026-12-04T12:00:00Z"
    assert report["agent_pid"] == 4242
    assert report["registration"]["device_id"] == "device-1"
    assert report["registration"]["user_id"] == "user-1"


def test_render_text_sections(db, tmp_path):
    book = MonitorStatusBook()
    book.record("device-1", TIMEZONE, Sample("timezone", Status.OK, "Europe/Berlin", None, CAPTURED))
    book.flush(db)

    text = render_text(read_status(tmp_path / "agent.db"), now=CAPTURED.timestamp() + 10)

    for heading in ("Registration", "Monitors", "Outbox", "Delivery"):
        assert f"\n{heading}\n" in text
    assert re.search(r"\n  timezone +event +2026-12-04T12:00:00Z \(10 s ago\) +2026-12-04T12:00:30Z \(in 20 s\) +0 +-\n", text), text
    assert "device id      device-1" in text


def test_reads_read_only_file(db, tmp_path):
    path = tmp_path / "agent.db"
    path.chmod(0o444)
    try:
        report = read_status(path)
    finally:
        path.chmod(0o644)

    assert report["registration"]["device_id"] == "device-1"


def test_missing_database_explained(tmp_path):
    with pytest.raises(AgentError, match="no state database at .*pass --state-dir"):
        read_status(tmp_path / "agent.db")


def test_database_without_status_table(tmp_path):
    path = tmp_path / "agent.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE devices (device_id TEXT, app_id TEXT, user_id TEXT, customer_id TEXT, platform TEXT, sdk_version TEXT, registered_at TEXT);"
            "CREATE TABLE outbox (created_at REAL); CREATE TABLE dead_letter (id INTEGER); CREATE TABLE settings (name TEXT, value TEXT);"
        )

    report = read_status(path, configured=[("ram", "one_time")])

    assert report["monitors"][0]["attribute"] == "ram"


def test_status_command_with_state_dir_only(db, tmp_path):
    result = run_cli("status", "--config", str(tmp_path / "absent.yaml"), "--state-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "device id      device-1" in result.stdout


def test_status_command_without_state(tmp_path):
    result = run_cli("status", "--config", str(tmp_path / "absent.yaml"), "--state-dir", str(tmp_path / "empty"))

    assert result.returncode == 1
    assert "no state database at" in result.stderr


def test_agent_state_from_status_time(db, tmp_path):
    tracker = SenderStateTracker()
    tracker.flush(db, "device-1", pid=4242)
    written = read_status(tmp_path / "agent.db")["updated_at"]
    written_at = datetime.fromisoformat(written.replace("Z", "+00:00")).timestamp()

    running = read_status(tmp_path / "agent.db", now=written_at + 30)
    stale = read_status(tmp_path / "agent.db", now=written_at + 300)
    tracker.flush(db, "device-1", pid=4242, stopped=True)
    stopped = read_status(tmp_path / "agent.db", now=written_at + 300)

    assert running["agent_state"] == "running"
    assert stale["agent_state"] == "stale"
    assert "not responding: pid 4242" in render_text(stale, now=written_at + 300)
    assert stopped["agent_state"] == "stopped"
