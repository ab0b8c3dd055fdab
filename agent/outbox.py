"""The outbox: events on disk until the profile store acknowledges them.

The outbox is capped in events and in bytes. An insert that takes it over
either cap first coalesces updates of the same device and attribute,
keeping the newest. That is safe because the store applies each attribute
by sequence number, so the older update would lose to the newer one
anyway. If coalescing is not enough, the oldest updates are dropped.
Registrations are never coalesced or dropped. Both counts are kept in the
settings table, so they survive restarts.
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

log = logging.getLogger("agent.outbox")

DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

# Names of the rows in the settings table that the outbox owns.
MAX_EVENTS_SETTING = "outbox_max_events"
MAX_BYTES_SETTING = "outbox_max_bytes"
COALESCED_SETTING = "outbox_coalesced"
DROPPED_SETTING = "outbox_dropped"
# Set while the outbox is over its cap, so the warning is logged once per burst.
OVER_CAP_SETTING = "outbox_over_cap_since"
# The newest outbox row id when updates were last coalesced.
COALESCED_THROUGH_SETTING = "outbox_coalesced_through"
# Coalescing scans the whole outbox, so it runs again only after this share of the event cap was inserted.
COALESCE_EVERY = 0.01

# One encoder for every insert: json.dumps() with separators builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))

_TOTALS_AND_LIMITS = f"""
SELECT events, bytes,
    (SELECT CAST(value AS INTEGER) FROM settings WHERE name = '{MAX_EVENTS_SETTING}'),
    (SELECT CAST(value AS INTEGER) FROM settings WHERE name = '{MAX_BYTES_SETTING}')
FROM outbox_totals WHERE id = 1
"""

# Every update that a newer update of the same device and attribute makes obsolete. The GROUP BY
# sorts in a temporary b-tree, which is cheaper than an index that every insert would maintain.
_COALESCE = """
DELETE FROM outbox WHERE attribute IS NOT NULL AND id NOT IN (
    SELECT MAX(id) FROM outbox WHERE attribute IS NOT NULL GROUP BY device_id, attribute
)
"""

_OLDEST_UPDATES = """
SELECT id, length(CAST(body AS BLOB)) FROM outbox
WHERE id > ? AND json_extract(body, '$.type') IS NOT 'registration'
ORDER BY id LIMIT ?
"""


@dataclass(frozen=True)
class PendingEvent:
    """An event read from the outbox; text is its JSON body as stored and sent."""

    row_id: int
    event_id: str
    device_id: str
    text: str

    @property
    def body(self):
        return json.loads(self.text)


@dataclass(frozen=True)
class Usage:
    """The outbox's size against its caps, and the events lost to the caps so far."""

    events: int
    bytes: int
    max_events: int
    max_bytes: int
    coalesced: int
    dropped: int


class Outbox:
    def __init__(self, db, max_events=DEFAULT_MAX_EVENTS, max_bytes=DEFAULT_MAX_BYTES):
        if max_events < 1 or max_bytes < 1:
            raise ValueError(f"outbox caps must be positive, got max_events={max_events!r} and max_bytes={max_bytes!r}")
        self.db = db
        # Inserts run in other components' transactions and read the caps from here.
        with db.transaction() as connection:
            _write_setting(connection, MAX_EVENTS_SETTING, max_events)
            _write_setting(connection, MAX_BYTES_SETTING, max_bytes)

    @staticmethod
    def insert(connection, event):
        """Add an event inside the caller's transaction, so it commits with the state it reflects."""
        attributes = event.get("attributes") or {}
        coalescable = event.get("type") == "update" and len(attributes) == 1
        attribute = next(iter(attributes)) if coalescable else None
        body = _ENCODER.encode(event)
        connection.execute(
            "INSERT INTO outbox (device_id, event_id, attribute, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (event["device_id"], event["event_id"], attribute, body, time.time()),
        )
        if event.get("type") == "registration":
            connection.execute("INSERT OR REPLACE INTO registrations (device_id, body) VALUES (?, ?)", (event["device_id"], body))
        events, size, max_events, max_bytes = connection.execute(_TOTALS_AND_LIMITS).fetchone()
        max_events = max_events or DEFAULT_MAX_EVENTS
        max_bytes = max_bytes or DEFAULT_MAX_BYTES
        if events > max_events or size > max_bytes:
            _shrink(connection, max_events, max_bytes)

    def pending(self, limit):
        """Return up to limit of the oldest events, in the order they were captured."""
        rows = self.db.query("SELECT id, event_id, device_id, body FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [PendingEvent(*row) for row in rows]

    def acknowledge(self, events):
        """Delete events the store acknowledged; end the over-cap burst once the outbox is half empty."""
        # Losing this commit to power loss only resends the events, and the store returns "duplicate" for them.
        with self.db.transaction(durable=False) as connection:
            connection.executemany("DELETE FROM outbox WHERE id = ?", [(event.row_id,) for event in events])
            if _read_setting(connection, OVER_CAP_SETTING) is not None:
                _end_burst_if_drained(connection)

    def dead_letter(self, rejected):
        """Move (event, reason) pairs the store rejected for good out of the outbox."""
        now = time.time()
        with self.db.transaction() as connection:
            for event, reason in rejected:
                connection.execute(
                    "INSERT OR REPLACE INTO dead_letter (id, device_id, event_id, body, reason, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (event.row_id, event.device_id, event.event_id, event.text, reason, now),
                )
                connection.execute("DELETE FROM outbox WHERE id = ?", (event.row_id,))

    def registration_again(self, device_id):
        """Return a new registration event for a device whose profile the store lost, or None.

        It repeats the device's last registration with a new event id and
        the next sequence number, and carries the device's last values, so
        one record restores the whole profile. None means no registration
        of the device was kept, as in a state database from an older agent.
        """
        with self.db.transaction() as connection:
            row = connection.execute("SELECT body FROM registrations WHERE device_id = ?", (device_id,)).fetchone()
            sequence = connection.execute("SELECT next_sequence FROM devices WHERE device_id = ?", (device_id,)).fetchone()
            if row is None or sequence is None:
                return None
            connection.execute("UPDATE devices SET next_sequence = next_sequence + 1 WHERE device_id = ?", (device_id,))
            last_values = connection.execute("SELECT attribute, payload FROM last_values WHERE device_id = ?", (device_id,)).fetchall()
        event = json.loads(row[0])
        event.update(
            event_id=uuid.uuid4().hex,
            sequence=sequence[0],
            captured_at=datetime.now(timezone.utc).isoformat(),
            attributes={attribute: json.loads(payload) for attribute, payload in last_values},
        )
        return event

    def record_attempt(self, events):
        with self.db.transaction(durable=False) as connection:
            connection.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [(event.row_id,) for event in events])

    def depth(self):
        return self.db.query("SELECT events FROM outbox_totals WHERE id = 1")[0][0]

    def usage(self):
        with self.db.transaction() as connection:
            events, size, max_events, max_bytes = connection.execute(_TOTALS_AND_LIMITS).fetchone()
            return Usage(
                events=events,
                bytes=size,
                max_events=max_events or DEFAULT_MAX_EVENTS,
                max_bytes=max_bytes or DEFAULT_MAX_BYTES,
                coalesced=int(_read_setting(connection, COALESCED_SETTING) or 0),
                dropped=int(_read_setting(connection, DROPPED_SETTING) or 0),
            )

    def oldest_created_at(self):
        return self.db.query("SELECT MIN(created_at) FROM outbox")[0][0]

    def dead_letter_count(self):
        return self.db.query("SELECT COUNT(*) FROM dead_letter")[0][0]


def _shrink(connection, max_events, max_bytes):
    """Bring the outbox back within its caps: coalesce first, then drop the oldest updates."""
    # NOTE: between coalescing runs a full outbox drops its oldest update even if a newer one of
    # the same attribute would have been coalesced at the next run.
    coalesced = 0
    newest_id = connection.execute("SELECT MAX(id) FROM outbox").fetchone()[0] or 0
    coalesced_through = int(_read_setting(connection, COALESCED_THROUGH_SETTING) or 0)
    if newest_id - coalesced_through >= max(1, int(max_events * COALESCE_EVERY)):
        coalesced = connection.execute(_COALESCE).rowcount
        _write_setting(connection, COALESCED_THROUGH_SETTING, newest_id)
    events, size = connection.execute("SELECT events, bytes FROM outbox_totals WHERE id = 1").fetchone()

    dropped = 0
    if events > max_events or size > max_bytes:
        dropped = _drop_oldest(connection, events - max_events, size - max_bytes)

    coalesced_total = _add_to_setting(connection, COALESCED_SETTING, coalesced)
    dropped_total = _add_to_setting(connection, DROPPED_SETTING, dropped)
    if _read_setting(connection, OVER_CAP_SETTING) is None:
        _write_setting(connection, OVER_CAP_SETTING, time.time())
        log.warning(
            "Outbox reached its cap of %d events or %d bytes while events wait for the profile store, "
            "so it coalesced %d and dropped %d events (totals for this state database: %d coalesced, %d dropped). "
            "Raise store.max_outbox_events or store.max_outbox_bytes to keep more.",
            max_events, max_bytes, coalesced, dropped, coalesced_total, dropped_total,
        )


def _drop_oldest(connection, excess_events, excess_bytes):
    """Delete the oldest updates until both excesses are gone; return how many were deleted."""
    doomed = []
    last_id = 0
    while excess_events > 0 or excess_bytes > 0:
        rows = connection.execute(_OLDEST_UPDATES, (last_id, max(16, excess_events))).fetchall()
        if not rows:
            break  # only registrations are left, and they are kept
        for row_id, size in rows:
            if excess_events <= 0 and excess_bytes <= 0:
                break
            doomed.append((row_id,))
            excess_events -= 1
            excess_bytes -= size
            last_id = row_id
    connection.executemany("DELETE FROM outbox WHERE id = ?", doomed)
    return len(doomed)


def _end_burst_if_drained(connection):
    events, size, max_events, max_bytes = connection.execute(_TOTALS_AND_LIMITS).fetchone()
    if events * 2 > (max_events or DEFAULT_MAX_EVENTS) or size * 2 > (max_bytes or DEFAULT_MAX_BYTES):
        return
    connection.execute("DELETE FROM settings WHERE name = ?", (OVER_CAP_SETTING,))
    log.info(
        "Outbox is below half its cap again; %s events were coalesced and %s dropped in total",
        _read_setting(connection, COALESCED_SETTING) or 0, _read_setting(connection, DROPPED_SETTING) or 0,
    )


def _read_setting(connection, name):
    row = connection.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def _write_setting(connection, name, value):
    connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, str(value)))


def _add_to_setting(connection, name, count):
    total = int(_read_setting(connection, name) or 0) + count
    if count:
        _write_setting(connection, name, total)
    return total
