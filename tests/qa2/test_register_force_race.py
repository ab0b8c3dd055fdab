"""`device-agent register --force` while the agent captures: sequence numbers must stay unique and rising."""

import json

from agent import registration
from agent.config import DeviceConfig
from agent.outbox import Outbox
from agent.tracker import ChangeTracker
from tests.delivery.conftest import APP_ID, DEVICE_ID, registered_state, sample


class Source:
    def machine_id(self):
        return None

    def os_name(self):
        return "Debian GNU/Linux 12"


def test_register_force_during_capture(tmp_path, monkeypatch):
    db = registered_state(tmp_path / "agent.db")
    Outbox(db)
    tracker = ChangeTracker(db)
    tracker.record(DEVICE_ID, "event", [sample("timezone", "UTC")])
    read_device_row = registration._device_row

    def row_then_capture(db, device_id):
        row = read_device_row(db, device_id)
        # The running agent captures between the command's read of the devices row and its write.
        tracker.record(DEVICE_ID, "event", [sample("timezone", "Asia/Tokyo")])
        return row

    monkeypatch.setattr(registration, "_device_row", row_then_capture)
    device_config = DeviceConfig(platform="linux", sdk_version=None, app_id=APP_ID, user_id="user-1", device_id=DEVICE_ID)
    registration.register(db, device_config, Source(), force=True)
    monkeypatch.undo()
    tracker.record(DEVICE_ID, "event", [sample("timezone", "Europe/Paris")])

    sequences = [json.loads(body)["sequence"] for (body,) in db.query("SELECT body FROM outbox ORDER BY id")]
    assert len(sequences) == len(set(sequences)), f"sequence numbers reused: {sequences}"
    assert sequences == sorted(sequences), f"sequence numbers went backwards: {sequences}"
