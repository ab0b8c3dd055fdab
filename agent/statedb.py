"""The agent's state database: device identity, last values and the outbox.

One SQLite file in WAL mode, so a new value and the event that carries it
commit in one transaction: after a crash either both exist or neither.
A file that SQLite finds corrupt is moved aside and the agent starts with
an empty state, because a device that registers again loses less than one
that cannot start.
"""

import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("agent.statedb")

STATE_DB_NAME = "agent.db"
# SQLite result codes for a damaged file. A locked, busy or unreadable file is not corrupt.
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    customer_id TEXT,
    platform TEXT NOT NULL,
    sdk_version TEXT,
    registered_at TEXT NOT NULL,
    next_sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS last_values (
    device_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    payload TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    PRIMARY KEY (device_id, attribute)
);
CREATE TABLE IF NOT EXISTS one_time_done (
    device_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    PRIMARY KEY (device_id, attribute)
);
-- attribute is set only on an update of one attribute, the events that may be coalesced.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    attribute TEXT,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
-- One row with the outbox's size, kept by triggers so the cap check costs no scan.
CREATE TABLE IF NOT EXISTS outbox_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS outbox_totals_insert AFTER INSERT ON outbox BEGIN
    UPDATE outbox_totals SET events = events + 1, bytes = bytes + length(CAST(NEW.body AS BLOB)) WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS outbox_totals_delete AFTER DELETE ON outbox BEGIN
    UPDATE outbox_totals SET events = events - 1, bytes = bytes - length(CAST(OLD.body AS BLOB)) WHERE id = 1;
END;
-- The newest registration of each device, kept after delivery so that the device can
-- register again when the store has lost its profile.
CREATE TABLE IF NOT EXISTS registrations (
    device_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_status (
    device_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_capture TEXT,
    last_status TEXT,
    next_due TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at TEXT,
    PRIMARY KEY (device_id, attribute)
);
"""


class StateDB:
    """A SQLite connection shared by the agent's threads, one writer at a time."""

    def __init__(self, path, synchronous="FULL"):
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self.moved_aside = None
        try:
            self._connection = _open(self.path, synchronous)
        except sqlite3.DatabaseError as error:
            if not _is_corrupt(error):
                raise
            self.moved_aside = _move_aside(self.path, error)
            self._connection = _open(self.path, synchronous)

    @classmethod
    def in_state_dir(cls, state_dir):
        return cls(Path(state_dir) / STATE_DB_NAME)

    @contextmanager
    def transaction(self, durable=True):
        """Run the block in one write transaction; durable=False skips the fsync at commit.

        A commit that is not durable still survives a crash of the process,
        and the next durable commit makes it survive power loss as well.
        """
        with self._lock:
            relaxed = not durable and self.synchronous == "FULL"
            if relaxed:
                self._connection.execute("PRAGMA synchronous=NORMAL")
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self._connection
                except BaseException:
                    self._connection.execute("ROLLBACK")
                    raise
                self._connection.execute("COMMIT")
            finally:
                if relaxed:
                    self._connection.execute("PRAGMA synchronous=FULL")

    def query(self, sql, parameters=()):
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def setting(self, name, default=None):
        rows = self.query("SELECT value FROM settings WHERE name = ?", (name,))
        return rows[0][0] if rows else default

    def set_setting(self, name, value):
        with self.transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, value))

    def close(self):
        with self._lock:
            self._connection.close()


def _open(path, synchronous):
    """Open the database, check it and create the schema; raise sqlite3.DatabaseError."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL makes each commit durable through power loss, not just a process crash.
        # NORMAL in WAL mode survives a process crash but may lose the last commits on power loss.
        connection.execute(f"PRAGMA synchronous={synchronous}")
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _CorruptDatabase("; ".join(problems[:3]))
        connection.executescript(_SCHEMA)
        # Recounting on open repairs totals that a database from an older agent never had.
        connection.execute(
            "INSERT OR REPLACE INTO outbox_totals (id, events, bytes)"
            " SELECT 1, COUNT(*), COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM outbox"
        )
    except BaseException:
        connection.close()
        raise
    return connection


class _CorruptDatabase(sqlite3.DatabaseError):
    """PRAGMA quick_check found damage that SQLite did not raise on by itself."""

    sqlite_errorcode = sqlite3.SQLITE_CORRUPT


def _is_corrupt(error):
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _CORRUPT_CODES


def _move_aside(path, error):
    """Rename the database and its -wal and -shm files to <name>.corrupt-<UTC time>; return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{target}{suffix}"))
    log.error(
        "State database %s is corrupt (%s); moved it to %s and starting with an empty state. "
        "The device will register again and send every attribute anew; events not yet delivered are in the moved file.",
        path, error, target,
    )
    return target
