"""The outbox: events on disk until the profile store acknowledges them."""

import json
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PendingEvent:
    row_id: int
    event_id: str
    body: dict


class Outbox:
    def __init__(self, db):
        self.db = db

    @staticmethod
    def insert(connection, event):
        """Add an event inside the caller's transaction, so it commits with the state it reflects."""
        attribute = next(iter(event["attributes"]), None)
        connection.execute(
            "INSERT INTO outbox (device_id, event_id, attribute, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (event["device_id"], event["event_id"], attribute, json.dumps(event, separators=(",", ":")), time.time()),
        )

    def pending(self, limit):
        """Return up to limit of the oldest events, in the order they were captured."""
        rows = self.db.query("SELECT id, event_id, body FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [PendingEvent(row_id, event_id, json.loads(body)) for row_id, event_id, body in rows]

    def acknowledge(self, events):
        with self.db.transaction() as connection:
            connection.executemany("DELETE FROM outbox WHERE id = ?", [(event.row_id,) for event in events])

    def dead_letter(self, rejected):
        """Move (event, reason) pairs the store rejected for good out of the outbox."""
        now = time.time()
        with self.db.transaction() as connection:
            for event, reason in rejected:
                connection.execute(
                    "INSERT INTO dead_letter (id, device_id, event_id, body, reason, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (event.row_id, event.body["device_id"], event.event_id, json.dumps(event.body), reason, now),
                )
                connection.execute("DELETE FROM outbox WHERE id = ?", (event.row_id,))

    def record_attempt(self, events):
        with self.db.transaction() as connection:
            connection.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [(event.row_id,) for event in events])

    def depth(self):
        return self.db.query("SELECT COUNT(*) FROM outbox")[0][0]

    def oldest_created_at(self):
        return self.db.query("SELECT MIN(created_at) FROM outbox")[0][0]

    def dead_letter_count(self):
        return self.db.query("SELECT COUNT(*) FROM dead_letter")[0][0]
