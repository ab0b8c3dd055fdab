"""The change tracker: last values per attribute, persisted, and the events for changes."""

import json
from datetime import datetime

from agent.events import heartbeat_event, update_event
from agent.outbox import Outbox

# Attributes per heartbeat event; the store accepts up to 256 per record.
HEARTBEAT_BATCH = 100


class ChangeTracker:
    def __init__(self, db):
        self.db = db

    def record(self, device_id, kind, samples):
        """Store changed samples and queue one event for each; return the events queued.

        The last value, the sequence counter and the event commit in one
        transaction, so a crash can neither lose a change nor send it twice.
        """
        with self.db.transaction() as connection:
            return _record(connection, device_id, kind, samples)

    def record_many(self, entries):
        """Record (device_id, kind, samples) entries in one transaction; return the events queued.

        One commit for many devices is what lets a fleet of thousands keep up;
        each entry is recorded exactly as record() would.
        """
        events = []
        with self.db.transaction() as connection:
            for device_id, kind, samples in entries:
                events.extend(_record(connection, device_id, kind, samples))
        return events

    def heartbeat(self, device_id, now, attributes=None):
        """Queue the last values again as heartbeat events and record the time; return the events.

        The store refreshes a profile's update time on any event, and
        deletes profiles that stay silent too long, so a device whose
        values never change still sends them at the heartbeat period.
        attributes limits the heartbeat to those attributes (None: all).
        """
        events = []
        with self.db.transaction() as connection:
            sequence = _next_sequence(connection, device_id)
            rows = connection.execute("SELECT attribute, payload FROM last_values WHERE device_id = ? ORDER BY attribute", (device_id,)).fetchall()
            if attributes is not None:
                rows = [row for row in rows if row[0] in attributes]
            for start in range(0, len(rows), HEARTBEAT_BATCH):
                payloads = {attribute: json.loads(payload) for attribute, payload in rows[start:start + HEARTBEAT_BATCH]}
                event = heartbeat_event(device_id, sequence, payloads, now)
                Outbox.insert(connection, event)
                events.append(event)
                sequence += 1
            connection.execute("UPDATE devices SET next_sequence = ? WHERE device_id = ?", (sequence, device_id))
            connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (_heartbeat_setting(device_id), now.isoformat()))
        return events

    def last_heartbeat(self, device_id):
        """Return the wall-clock time of the device's last heartbeat, or None."""
        value = self.db.setting(_heartbeat_setting(device_id))
        return datetime.fromisoformat(value) if value else None

    def last_payload(self, device_id, attribute):
        rows = self.db.query("SELECT payload FROM last_values WHERE device_id = ? AND attribute = ?", (device_id, attribute))
        return json.loads(rows[0][0]) if rows else None


def _heartbeat_setting(device_id):
    return f"heartbeat_sent_at:{device_id}"


def _record(connection, device_id, kind, samples):
    events = []
    sequence = _next_sequence(connection, device_id)
    for sample in samples:
        payload = json.dumps(sample.payload(), sort_keys=True, separators=(",", ":"))
        if payload == _last_payload(connection, device_id, sample.attribute):
            continue
        connection.execute(
            "INSERT OR REPLACE INTO last_values (device_id, attribute, payload, captured_at) VALUES (?, ?, ?, ?)",
            (device_id, sample.attribute, payload, sample.captured_at.isoformat()),
        )
        event = update_event(device_id, sequence, kind, sample)
        Outbox.insert(connection, event)
        events.append(event)
        sequence += 1
    connection.execute("UPDATE devices SET next_sequence = ? WHERE device_id = ?", (sequence, device_id))
    return events


def _next_sequence(connection, device_id):
    row = connection.execute("SELECT next_sequence FROM devices WHERE device_id = ?", (device_id,)).fetchone()
    if row is None:
        raise LookupError(f"device {device_id} is not registered")
    return row[0]


def _last_payload(connection, device_id, attribute):
    row = connection.execute("SELECT payload FROM last_values WHERE device_id = ? AND attribute = ?", (device_id, attribute)).fetchone()
    return row[0] if row else None
