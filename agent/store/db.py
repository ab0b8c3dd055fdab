"""SQLite storage of app profiles and the event ids the store has applied.

One writer connection, guarded by a lock, applies each batch in one
transaction. Reads take a connection from a pool, so they run beside the
writer under WAL without waiting for it.
"""

import json
import logging
import queue
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from agent.errors import StoreError

log = logging.getLogger("agent.store")

SCHEMA_VERSION = 1

# The primary keys are the lookup indexes: a profile by device, profiles of an
# app in device order, a device's attributes, an event id within an app.
SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    app_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    customer_id TEXT,
    os TEXT NOT NULL,
    platform TEXT NOT NULL,
    sdk_version TEXT,
    push_id TEXT,
    language TEXT,
    timezone TEXT,
    created_on TEXT NOT NULL,
    registration_sequence INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    updated_on TEXT NOT NULL,
    PRIMARY KEY (app_id, device_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attributes (
    app_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    captured_at TEXT NOT NULL,
    captured_at_clamped INTEGER NOT NULL,
    updated_on TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    kind TEXT,
    PRIMARY KEY (app_id, device_id, name)
) WITHOUT ROWID;

-- NOTE: applied_events gets one row per event and is never pruned, so the
-- file grows with the number of events received.
CREATE TABLE IF NOT EXISTS applied_events (
    app_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    received_on TEXT NOT NULL,
    PRIMARY KEY (app_id, event_id)
) WITHOUT ROWID;
"""

INSERT_EVENT = """
INSERT OR IGNORE INTO applied_events (app_id, event_id, device_id, sequence, received_on)
VALUES (?, ?, ?, ?, ?)
"""

# The WHERE clause of each upsert is the last-writer-wins rule: a row changes
# only for a higher sequence, so rowcount shows whether the record changed it.
UPSERT_PROFILE = """
INSERT INTO profiles (
    app_id, device_id, user_id, customer_id, os, platform, sdk_version, push_id,
    language, timezone, created_on, registration_sequence, last_sequence, updated_on
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app_id, device_id) DO UPDATE SET
    user_id = excluded.user_id,
    customer_id = excluded.customer_id,
    os = excluded.os,
    platform = excluded.platform,
    sdk_version = excluded.sdk_version,
    push_id = excluded.push_id,
    language = excluded.language,
    timezone = excluded.timezone,
    created_on = excluded.created_on,
    registration_sequence = excluded.registration_sequence
WHERE excluded.registration_sequence > profiles.registration_sequence
"""

UPSERT_ATTRIBUTE = """
INSERT INTO attributes (
    app_id, device_id, name, value_json, status, reason, captured_at,
    captured_at_clamped, updated_on, sequence, kind
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app_id, device_id, name) DO UPDATE SET
    value_json = excluded.value_json,
    status = excluded.status,
    reason = excluded.reason,
    captured_at = excluded.captured_at,
    captured_at_clamped = excluded.captured_at_clamped,
    updated_on = excluded.updated_on,
    sequence = excluded.sequence,
    kind = excluded.kind
WHERE excluded.sequence > attributes.sequence
"""

UPDATE_DEVICE = """
UPDATE profiles
SET last_sequence = max(last_sequence, ?),
    updated_on = CASE WHEN ? THEN ? ELSE updated_on END
WHERE app_id = ? AND device_id = ?
"""

PROFILE_COLUMNS = """
device_id, user_id, customer_id, os, platform, sdk_version, push_id, language,
timezone, created_on, last_sequence, updated_on
"""

ATTRIBUTE_COLUMNS = """
device_id, name, value_json, status, reason, captured_at, updated_on, sequence, kind
"""

# Devices known to be registered are cached so that an update costs no lookup.
# Profiles are never deleted, so an entry can only go missing, never go wrong.
KNOWN_DEVICES_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """The store's decision on one record: applied, duplicate, stale or rejected."""

    status: str
    reason: str | None = None
    created: bool = False
    # A stable word for a rejection the client can act on, such as "not_registered".
    code: str | None = None


DUPLICATE = Outcome("duplicate")
NOT_REGISTERED = "not_registered"


class ProfileDatabase:
    """App profiles in one SQLite file, opened in WAL mode."""

    def __init__(self, path, cache_kib=None):
        self.path = str(path)
        self.cache_kib = cache_kib
        self._write_lock = threading.Lock()
        self._readers = queue.SimpleQueue()
        self._closed = False
        self._known_devices = set()
        self._writer = self._connect()
        self._prepare_schema()

    def _connect(self):
        try:
            connection = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
            # A result of "applied" lets the agent delete its copy, so the batch
            # must survive the store host losing power: FULL syncs each commit.
            connection.execute("PRAGMA synchronous = FULL")
            if self.cache_kib is not None:
                connection.execute(f"PRAGMA cache_size = {-int(self.cache_kib)}")
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot open profile store database {self.path}: {error}; "
                "check that its directory exists and is writable"
            ) from None
        return connection

    def _prepare_schema(self):
        try:
            mode = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(
                    f"cannot switch profile store database {self.path} to WAL mode "
                    f"(it stays in {mode!r}); use a file on a local, writable file system"
                )
            self._writer.execute("BEGIN IMMEDIATE")
            version = self._writer.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._writer.execute("ROLLBACK")
                raise StoreError(
                    f"profile store database {self.path} has schema version {version}, "
                    f"newer than this store's {SCHEMA_VERSION}; use a newer device-agent"
                )
            # executescript() would commit first, so the statements run one by one.
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._writer.execute(statement)
            self._writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._writer.execute("COMMIT")
        except sqlite3.Error as error:
            self._writer.close()
            raise StoreError(
                f"cannot prepare profile store database {self.path}: {error}; "
                "check that the file is a SQLite database and is writable"
            ) from None
        except StoreError:
            self._writer.close()
            raise

    def close(self):
        with self._write_lock:
            self._closed = True
            self._writer.close()
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break

    # writing

    def apply(self, app_id, records, received_on):
        """Apply validated records in order in one transaction; return an Outcome for each.

        received_on is the store's receive time as an RFC 3339 string.
        """
        outcomes = []
        registered = set()
        touched = {}  # device_id -> [highest sequence, whether anything changed]
        with self._write_lock:
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    outcome = self._apply_record(connection, app_id, record, received_on, registered)
                    outcomes.append(outcome)
                    if outcome.status in ("applied", "stale"):
                        state = touched.setdefault(record.device_id, [0, False])
                        state[0] = max(state[0], record.sequence)
                        state[1] = state[1] or outcome.status == "applied"
                connection.executemany(
                    UPDATE_DEVICE,
                    [
                        (sequence, changed, received_on, app_id, device_id)
                        for device_id, (sequence, changed) in touched.items()
                    ],
                )
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            self._remember_devices(app_id, registered)
        return outcomes

    def _apply_record(self, connection, app_id, record, received_on, registered):
        known = record.device_id in registered or self._is_registered(
            connection, app_id, record.device_id
        )
        if record.type == "update" and not known:
            return Outcome(
                "rejected",
                f"device_id {record.device_id!r} is not registered in app {app_id!r}; "
                "send its registration record first",
                code=NOT_REGISTERED,
            )

        cursor = connection.execute(
            INSERT_EVENT, (app_id, record.event_id, record.device_id, record.sequence, received_on)
        )
        if cursor.rowcount == 0:
            return DUPLICATE

        changed = False
        if record.type == "registration":
            profile = record.profile
            cursor = connection.execute(
                UPSERT_PROFILE,
                (
                    app_id, record.device_id, profile["userId"], profile["customerId"],
                    profile["os"], profile["platform"], profile["sdkVersion"],
                    profile["pushId"], profile["language"], profile["timezone"],
                    profile["createdOn"], record.sequence, record.sequence, received_on,
                ),
            )
            changed = cursor.rowcount > 0
            registered.add(record.device_id)

        if record.attributes:
            rows = [
                (
                    app_id, record.device_id, attribute.name, attribute.value_json,
                    attribute.status, attribute.reason, record.captured_at,
                    record.captured_at_clamped, received_on, record.sequence, record.kind,
                )
                for attribute in record.attributes
            ]
            cursor = connection.executemany(UPSERT_ATTRIBUTE, rows)
            changed = changed or cursor.rowcount > 0

        return Outcome("applied" if changed else "stale", created=not known)

    def _is_registered(self, connection, app_id, device_id):
        if (app_id, device_id) in self._known_devices:
            return True
        row = connection.execute(
            "SELECT 1 FROM profiles WHERE app_id = ? AND device_id = ?", (app_id, device_id)
        ).fetchone()
        return row is not None

    def _remember_devices(self, app_id, device_ids):
        if len(self._known_devices) > KNOWN_DEVICES_MAX:
            self._known_devices.clear()
        self._known_devices.update((app_id, device_id) for device_id in device_ids)

    # reading

    @contextmanager
    def _reader(self):
        """Lend a pooled connection inside a read transaction, for a consistent snapshot."""
        try:
            connection = self._readers.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        if self._closed:
            connection.close()
        else:
            self._readers.put(connection)

    def profile(self, app_id, device_id):
        """Return the app profile of one device as the API shows it, or None."""
        with self._reader() as connection:
            row = connection.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE app_id = ? AND device_id = ?",
                (app_id, device_id),
            ).fetchone()
            if row is None:
                return None
            attribute_rows = connection.execute(
                f"SELECT {ATTRIBUTE_COLUMNS} FROM attributes "
                "WHERE app_id = ? AND device_id = ? ORDER BY name",
                (app_id, device_id),
            ).fetchall()
        return build_profiles(app_id, [row], attribute_rows)[0]

    def profiles(self, app_id, after, limit):
        """Return up to limit profiles after device id after, in device id order.

        The second value is the device id to pass as after for the next page,
        or None when this page is the last.
        """
        with self._reader() as connection:
            rows = connection.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles "
                "WHERE app_id = ? AND device_id > ? ORDER BY device_id LIMIT ?",
                (app_id, after or "", limit + 1),
            ).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            attribute_rows = []
            if rows:
                attribute_rows = connection.execute(
                    f"SELECT {ATTRIBUTE_COLUMNS} FROM attributes "
                    "WHERE app_id = ? AND device_id BETWEEN ? AND ? ORDER BY device_id, name",
                    (app_id, rows[0][0], rows[-1][0]),
                ).fetchall()
        next_after = rows[-1][0] if more else None
        return build_profiles(app_id, rows, attribute_rows), next_after


def build_profiles(app_id, profile_rows, attribute_rows):
    """Turn profile and attribute rows into the API's profile objects, in row order."""
    profiles = {}
    for row in profile_rows:
        (device_id, user_id, customer_id, os_name, platform, sdk_version, push_id,
         language, timezone, created_on, last_sequence, updated_on) = row
        profiles[device_id] = {
            "appId": app_id,
            "deviceId": device_id,
            "userId": user_id,
            "customerId": customer_id,
            "os": os_name,
            "platform": platform,
            "sdkVersion": sdk_version,
            "pushId": push_id,
            "language": language,
            "timezone": timezone,
            "createdOn": created_on,
            "status": 0,  # 0 is active; this store never unregisters a device
            "lastSequence": last_sequence,
            "updatedOn": updated_on,
            "attributes": {},
        }
    for row in attribute_rows:
        (device_id, name, value_json, status, reason, captured_at, updated_on,
         sequence, kind) = row
        profiles[device_id]["attributes"][name] = {
            "value": json.loads(value_json),
            "status": status,
            "reason": reason,
            "capturedAt": captured_at,
            "updatedOn": updated_on,
            "sequence": sequence,
            "kind": kind,
        }
    return list(profiles.values())
