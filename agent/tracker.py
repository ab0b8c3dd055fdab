"""The change tracker: last values per attribute, persisted, and the events for changes."""

import json

from agent.events import update_event
from agent.outbox import Outbox


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

    def last_payload(self, device_id, attribute):
        rows = self.db.query("SELECT payload FROM last_values WHERE device_id = ? AND attribute = ?", (device_id, attribute))
        return json.loads(rows[0][0]) if rows else None


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
