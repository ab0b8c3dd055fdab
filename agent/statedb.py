"""The agent's state database: device identity, last values and the outbox.

One SQLite file in WAL mode, so a new value and the event that carries it
commit in one transaction: after a crash either both exist or neither.
"""

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

STATE_DB_NAME = "agent.db"

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
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    attribute TEXT,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
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

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        # FULL makes each commit durable through power loss, not just a process crash.
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir):
        return cls(Path(state_dir) / STATE_DB_NAME)

    @contextmanager
    def transaction(self):
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

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
