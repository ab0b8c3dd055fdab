"""Registration: the device's identity and the event that creates its app profile.

The device id is the configured one, or one derived from /etc/machine-id
and the app id, or a random one kept in the state database, so it stays
the same across restarts. Changing the device id or user id registers the
device again: the store gets a new registration and a full snapshot.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from agent.events import registration_event
from agent.outbox import Outbox

# Fixed namespace so the same machine and app always derive the same device id.
_DEVICE_NAMESPACE = uuid.UUID("5f7c1a52-8a47-4f0e-9d0c-3b1f5d6f2e11")


@dataclass(frozen=True)
class Device:
    device_id: str
    app_id: str
    user_id: str
    customer_id: str | None
    platform: str
    sdk_version: str | None
    os: str
    registered_at: str


def register(db, device_config, source, force=False, now=None):
    """Return (device, registered_now); queue a registration event when the identity is new or forced."""
    now = now or datetime.now(timezone.utc)
    device_id = device_config.device_id or _kept(db, "device_id", lambda: _derived_device_id(source, device_config.app_id))
    user_id = device_config.user_id or _kept(db, "user_id", lambda: uuid.uuid4().hex)
    row = _device_row(db, device_id)
    if row is not None and row["user_id"] == user_id and row["app_id"] == device_config.app_id and not force:
        return _device(device_config, device_id, user_id, source, row["registered_at"]), False

    device = _device(device_config, device_id, user_id, source, now.isoformat())
    with db.transaction() as connection:
        # Read the counter again inside the transaction: a capture may have used numbers since.
        current = connection.execute("SELECT next_sequence FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        sequence = current[0] if current else _initial_sequence()
        connection.execute(
            "INSERT OR REPLACE INTO devices (device_id, app_id, user_id, customer_id, platform, sdk_version, registered_at, next_sequence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (device_id, device.app_id, user_id, device.customer_id, device.platform, device.sdk_version, device.registered_at, sequence + 1),
        )
        # A new registration is a new app profile: every monitor is captured and sent again.
        connection.execute("DELETE FROM last_values WHERE device_id = ?", (device_id,))
        connection.execute("DELETE FROM one_time_done WHERE device_id = ?", (device_id,))
        Outbox.insert(connection, registration_event(device, sequence, now))
    return device, True


def current_device_id(db):
    return db.setting("device_id")


def _device(device_config, device_id, user_id, source, registered_at):
    return Device(
        device_id=device_id,
        app_id=device_config.app_id,
        user_id=user_id,
        customer_id=device_config.customer_id,
        platform=device_config.platform,
        sdk_version=device_config.sdk_version,
        os=source.os_name(),
        registered_at=registered_at,
    )


def _kept(db, name, make):
    value = db.setting(name)
    if value is None:
        value = make()
        db.set_setting(name, value)
    return value


def _device_row(db, device_id):
    rows = db.query("SELECT app_id, user_id, registered_at, next_sequence FROM devices WHERE device_id = ?", (device_id,))
    if not rows:
        return None
    return dict(zip(("app_id", "user_id", "registered_at", "next_sequence"), rows[0]))


def _derived_device_id(source, app_id):
    machine_id = source.machine_id()
    if machine_id:
        # Hashing keeps the machine id itself out of the profile store.
        return str(uuid.uuid5(_DEVICE_NAMESPACE, f"{app_id}:{machine_id}"))
    return str(uuid.uuid4())


def _initial_sequence():
    # The counter only increments after this, whatever the clock does. Seeding it
    # from the clock in microseconds means a device whose state was wiped still
    # outranks the events it sent before the wipe.
    # NOTE: a wipe while the clock reads earlier than before the wipe (a board at 1970) restarts below the old counter.
    return max(1, int(time.time() * 1_000_000))

