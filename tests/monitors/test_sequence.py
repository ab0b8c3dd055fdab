"""Sequence numbers and the heartbeat setting, with the wall clock frozen and stepped by freezegun."""

from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from agent.config import DEFAULT_HEARTBEAT_SECONDS, load_config
from agent.errors import ConfigError
from agent.registration import register
from agent.samples import Sample, Status
from agent.sources.host import HostSource
from agent.statedb import StateDB
from agent.tracker import ChangeTracker
from tests.monitors.conftest import make_config


def sample(value):
    return Sample("battery_level", Status.OK, value, None, datetime.now(timezone.utc))


def test_sequence_survives_clock_steps_and_reregistration(tmp_path, fake_root):
    db = StateDB.in_state_dir(tmp_path)
    tracker = ChangeTracker(db)
    device_config = make_config(tmp_path, []).device
    source = HostSource(fake_root, environ={})
    sequences = []
    try:
        # A board that boots at 1970, is corrected by NTP, then set back by an operator.
        for moment, force in [("1970-01-01 00:00:05", False), ("2026-03-29 01:30:00", False), ("2026-03-28 12:00:00", True), ("1970-01-01 00:01:00", True)]:
            with freeze_time(moment):
                device, registered = register(db, device_config, source, force=force)
                if registered:
                    sequences.append(db.query("SELECT MAX(json_extract(body, '$.sequence')) FROM outbox")[0][0])
                for value in (1, 2):
                    [event] = tracker.record(device.device_id, "interval", [sample(f"{moment}-{value}")])
                    sequences.append(event["sequence"])
    finally:
        db.close()

    assert len(sequences) == 3 + 4 * 2
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


@pytest.mark.parametrize(("text", "seconds"), [("1d", 86400.0), ("90m", 5400.0), (None, DEFAULT_HEARTBEAT_SECONDS)])
def test_heartbeat_setting_parsed(tmp_path, text, seconds):
    path = tmp_path / "agent.yaml"
    heartbeat = "" if text is None else f"heartbeat: {text}\n"
    path.write_text("device: {platform: linux, app_id: app-1}\nmonitors: {one_time: [ram]}\n" + heartbeat)
    assert load_config(path).heartbeat == seconds


def test_heartbeat_setting_too_short(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("device: {platform: linux, app_id: app-1}\nmonitors: {one_time: [ram]}\nheartbeat: 5s\n")
    with pytest.raises(ConfigError, match="heartbeat is '5s'; it must be at least 1m"):
        load_config(path)
