"""Registration: a stable device id, a kept user id, and a new profile when the identity changes."""

import pytest

from agent.config import DeviceConfig
from agent.outbox import Outbox
from agent.registration import register
from agent.sources.host import HostSource
from agent.statedb import StateDB


@pytest.fixture
def host(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (tmp_path / "etc" / "os-release").write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    return HostSource(tmp_path)


def test_first_registration_queues_profile(tmp_path, host):
    db = StateDB(tmp_path / "agent.db")

    device, registered = register(db, DeviceConfig("linux", None, "app", customer_id="acme"), host)

    [event] = Outbox(db).pending(10)
    assert registered
    assert event.body["type"] == "registration"
    assert event.body["profile"]["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert event.body["profile"]["customerId"] == "acme"
    assert event.body["profile"]["userId"] == device.user_id


def test_device_id_derived_from_machine_id(tmp_path, host):
    first, _ = register(StateDB(tmp_path / "a.db"), DeviceConfig("linux", None, "app"), host)
    second, _ = register(StateDB(tmp_path / "b.db"), DeviceConfig("linux", None, "app"), host)
    other_app, _ = register(StateDB(tmp_path / "c.db"), DeviceConfig("linux", None, "other"), host)

    assert first.device_id == second.device_id
    assert other_app.device_id != first.device_id
    assert "0123456789abcdef" not in first.device_id


def test_restart_keeps_identity_without_new_registration(tmp_path, host):
    db = StateDB(tmp_path / "agent.db")
    first, _ = register(db, DeviceConfig("linux", None, "app"), host)

    again, registered = register(db, DeviceConfig("linux", None, "app"), host)

    assert not registered
    assert again.device_id == first.device_id
    assert again.user_id == first.user_id
    assert Outbox(db).depth() == 1


def test_user_change_registers_again(tmp_path, host):
    db = StateDB(tmp_path / "agent.db")
    first, _ = register(db, DeviceConfig("linux", None, "app", user_id="alice"), host)

    second, registered = register(db, DeviceConfig("linux", None, "app", user_id="bob"), host)

    bodies = [event.body for event in Outbox(db).pending(10)]
    assert registered
    assert second.device_id == first.device_id
    assert bodies[1]["profile"]["userId"] == "bob"
    assert bodies[1]["sequence"] > bodies[0]["sequence"]


def test_force_registers_again(tmp_path, host):
    db = StateDB(tmp_path / "agent.db")
    register(db, DeviceConfig("linux", None, "app"), host)

    _, registered = register(db, DeviceConfig("linux", None, "app"), host, force=True)

    assert registered
    assert Outbox(db).depth() == 2
