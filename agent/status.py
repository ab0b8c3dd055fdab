"""The status behind `device-agent status`: recorded by the running agent, read by the command.

The agent keeps each monitor's last capture and error count in memory and
writes them, with the sender's last delivery and last error, into the state
database every STATUS_FLUSH_INTERVAL seconds and when it stops. Batching
keeps the status from costing a disk sync per capture. The status command
reads the same database read-only, so it needs no more than read access to
the state directory, and in WAL mode its reads do not block the agent's writes.
"""

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from agent.errors import AgentError
from agent.outbox import COALESCED_SETTING, DROPPED_SETTING
from agent.samples import Status

# How often the run loop writes the status to the state database, in seconds.
STATUS_FLUSH_INTERVAL = 30.0
# A running agent whose status is older than this missed two writes: it hangs or was killed.
STALE_AFTER = 2 * STATUS_FLUSH_INTERVAL + 10.0

# Captures that end in these statuses are not errors: the device lacks the attribute, or has a value.
_NOT_ERRORS = {Status.OK, Status.UNSUPPORTED}

_SETTING_NAMES = (
    "status_updated_at", "agent_pid", "agent_stopped_at", "agent_device_id",
    "sender_last_delivery", "sender_last_error", "sender_last_error_at",
)


# recording, in the agent


@dataclass
class _MonitorEntry:
    device_id: str
    attribute: str
    kind: str
    last_capture: str | None = None
    last_status: str | None = None
    next_due: str | None = None
    new_errors: int = 0
    last_error: str | None = None
    last_error_at: str | None = None


class MonitorStatusBook:
    """Each monitor's last capture and errors since the last flush, kept in memory."""

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def record(self, device_id, monitor, sample):
        captured_at = sample.captured_at or datetime.now(timezone.utc)
        key = (device_id, monitor.attribute)
        with self._lock:
            entry = self._entries.get(key) or _MonitorEntry(device_id, monitor.attribute, monitor.kind.value)
            entry.kind = monitor.kind.value
            entry.last_capture = _iso(captured_at)
            entry.last_status = sample.status.value if sample.reason is None else f"{sample.status.value}: {sample.reason}"
            entry.next_due = _iso(next_due(monitor, captured_at))
            if sample.status not in _NOT_ERRORS:
                entry.new_errors += 1
                entry.last_error = entry.last_status
                entry.last_error_at = entry.last_capture
            self._entries[key] = entry

    def flush(self, db):
        """Write the entries recorded since the last flush into the monitor_status table."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        if not entries:
            return
        with db.transaction() as connection:
            for entry in entries:
                connection.execute(
                    "INSERT INTO monitor_status (device_id, attribute, kind, last_capture, last_status, next_due, error_count, last_error, last_error_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (device_id, attribute) DO UPDATE SET kind = excluded.kind, last_capture = excluded.last_capture,"
                    " last_status = excluded.last_status, next_due = excluded.next_due, error_count = error_count + excluded.error_count,"
                    " last_error = COALESCE(excluded.last_error, last_error), last_error_at = COALESCE(excluded.last_error_at, last_error_at)",
                    (entry.device_id, entry.attribute, entry.kind, entry.last_capture, entry.last_status, entry.next_due,
                     entry.new_errors, entry.last_error, entry.last_error_at),
                )


def next_due(monitor, captured_at):
    """Return when the monitor is due next after a capture at captured_at, or None for one-time monitors.

    NOTE: this follows the configured interval. It does not include jitter,
    one-time retries, or an earlier capture triggered by a watcher.
    """
    seconds = monitor.interval if monitor.interval is not None else monitor.poll_interval
    if seconds is None:
        return None
    return captured_at + timedelta(seconds=seconds)


class SenderStateTracker:
    """The sender's last delivery and last error, with the time the error was first seen."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.last_delivery = None
        self.last_error = None
        self.last_error_at = None

    def observe(self, sender):
        if sender is None:
            return
        self.last_delivery = sender.last_delivery
        if sender.last_error != self.last_error:
            self.last_error = sender.last_error
            self.last_error_at = self.clock() if sender.last_error else None

    def flush(self, db, device_id, pid, stopped=False):
        """Write the sender's state and the agent's pid, and whether it has stopped, into the settings table."""
        now = time.time()
        values = {
            "status_updated_at": now,
            "agent_pid": pid,
            "agent_stopped_at": now if stopped else None,
            "agent_device_id": device_id,
            "sender_last_delivery": self.last_delivery,
            "sender_last_error": self.last_error,
            "sender_last_error_at": self.last_error_at,
        }
        with db.transaction() as connection:
            for name, value in values.items():
                if value is None:
                    connection.execute("DELETE FROM settings WHERE name = ?", (name,))
                else:
                    connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, str(value)))


# reading, in `device-agent status`


def read_status(db_path, configured=(), now=None):
    """Read the agent's status from its state database, read-only; return a dict ready for JSON.

    configured lists (attribute, kind) of the monitors in the config, so a
    monitor that has never been captured still shows up.
    """
    now = now if now is not None else time.time()
    try:
        return _read_status(db_path, configured, now)
    except (sqlite3.Error, ValueError) as error:
        raise AgentError(
            f"cannot read the agent's state from {db_path}: {error}; if the file is damaged, the agent moves it aside at its next start"
        ) from None


def _read_status(db_path, configured, now):
    with _open_read_only(Path(db_path)) as connection:
        settings = _settings(connection)
        device_id = settings.get("agent_device_id") or _latest_device_id(connection)
        return {
            "state_db": str(db_path),
            "updated_at": _timestamp(settings.get("status_updated_at")),
            "agent_pid": int(settings["agent_pid"]) if settings.get("agent_pid") else None,
            "agent_stopped_at": _timestamp(settings.get("agent_stopped_at")),
            "agent_state": _agent_state(settings, now),
            "registration": _registration(connection, device_id),
            "monitors": _monitors(connection, device_id, configured),
            "outbox": _outbox(connection, now),
            "delivery": {
                "last_delivery": _timestamp(settings.get("sender_last_delivery")),
                "last_error": settings.get("sender_last_error"),
                "last_error_at": _timestamp(settings.get("sender_last_error_at")),
            },
        }


class _ReadOnlyConnection:
    def __init__(self, path):
        self.path = path
        self.connection = None

    def __enter__(self):
        if not self.path.exists():
            raise AgentError(f"no state database at {self.path}: the agent has not run with this state directory; pass --state-dir or --config")
        try:
            self.connection = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True, timeout=5.0)
            self.connection.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.Error as error:
            raise AgentError(f"cannot read the state database {self.path}: {error}; run as root or as the agent's user") from None
        return self.connection

    def __exit__(self, *exc):
        self.connection.close()


def _open_read_only(path):
    return _ReadOnlyConnection(path)


def _settings(connection):
    marks = ", ".join("?" for _ in _SETTING_NAMES)
    rows = connection.execute(f"SELECT name, value FROM settings WHERE name IN ({marks})", _SETTING_NAMES).fetchall()
    return dict(rows)


def _agent_state(settings, now):
    """Return 'running', 'stopped', 'stale' (no status write for STALE_AFTER seconds) or 'unknown'."""
    if settings.get("agent_stopped_at"):
        return "stopped"
    if not settings.get("status_updated_at"):
        return "unknown"
    return "stale" if now - float(settings["status_updated_at"]) > STALE_AFTER else "running"


def _latest_device_id(connection):
    row = connection.execute("SELECT device_id FROM devices ORDER BY registered_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _registration(connection, device_id):
    if device_id is None:
        return None
    row = connection.execute(
        "SELECT device_id, app_id, user_id, customer_id, platform, sdk_version, registered_at FROM devices WHERE device_id = ?", (device_id,)
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("device_id", "app_id", "user_id", "customer_id", "platform", "sdk_version", "registered_at"), row))


def _monitors(connection, device_id, configured):
    try:
        rows = connection.execute(
            "SELECT attribute, kind, last_capture, last_status, next_due, error_count, last_error, last_error_at FROM monitor_status WHERE device_id = ?",
            (device_id,),
        ).fetchall()
    except sqlite3.OperationalError:
        rows = []  # a state database written before monitor_status existed
    names = ("attribute", "kind", "last_capture", "last_status", "next_due", "error_count", "last_error", "last_error_at")
    monitors = {row[0]: dict(zip(names, row)) for row in rows}
    for attribute, kind in configured:
        monitors.setdefault(attribute, dict.fromkeys(names) | {"attribute": attribute, "kind": kind, "error_count": 0})
    return sorted(monitors.values(), key=lambda monitor: (monitor["kind"] or "", monitor["attribute"]))


def _outbox(connection, now):
    depth, oldest = connection.execute("SELECT COUNT(*), MIN(created_at) FROM outbox").fetchone()
    dead_letters = connection.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
    losses = dict(connection.execute("SELECT name, value FROM settings WHERE name IN (?, ?)", (COALESCED_SETTING, DROPPED_SETTING)).fetchall())
    return {
        "depth": depth,
        "oldest_event_age_seconds": round(now - oldest, 1) if oldest is not None else None,
        "dead_letters": dead_letters,
        # Events merged into a newer one, or dropped, while the outbox was over its cap.
        "coalesced": _count(losses.get(COALESCED_SETTING)),
        "dropped": _count(losses.get(DROPPED_SETTING)),
    }


def _count(value):
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _timestamp(value):
    if value is None:
        return None
    return _iso(datetime.fromtimestamp(float(value), timezone.utc))


def _iso(moment):
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# text output


def render_text(report, now=None):
    """Format a status report as aligned plain text for a terminal."""
    now = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    lines = [f"State database: {report['state_db']}"]
    state = report["agent_state"]
    if state == "stopped":
        lines.append(f"Agent:          stopped at {_with_age(report['agent_stopped_at'], now)}; next due times are from before the stop")
    elif state == "running":
        lines.append(f"Agent:          running as pid {report['agent_pid']}, status written {_with_age(report['updated_at'], now)}")
    elif state == "stale":
        lines.append(
            f"Agent:          not responding: pid {report['agent_pid']} last wrote its status {_with_age(report['updated_at'], now)}; "
            "check `systemctl status device-agent`"
        )
    else:
        lines.append("Agent:          no status written yet; the agent writes it when it starts")

    lines += ["", "Registration"]
    registration = report["registration"]
    if registration is None:
        lines.append("  not registered yet")
    else:
        for name in ("device_id", "user_id", "app_id", "customer_id", "platform", "sdk_version", "registered_at"):
            if registration.get(name) is not None:
                lines.append(f"  {name.replace('_', ' '):<14} {registration[name]}")

    lines += ["", "Monitors"]
    lines += _monitor_table(report["monitors"], now)

    outbox = report["outbox"]
    age = outbox["oldest_event_age_seconds"]
    lines += [
        "",
        "Outbox",
        f"  depth          {outbox['depth']} events",
        f"  oldest event   {_duration(age) + ' old' if age is not None else 'none'}",
        f"  dead letters   {outbox['dead_letters']}",
        f"  over the cap   {outbox['coalesced']} coalesced, {outbox['dropped']} dropped",
    ]

    delivery = report["delivery"]
    lines += ["", "Delivery", f"  last delivery  {_with_age(delivery['last_delivery'], now) if delivery['last_delivery'] else 'never'}"]
    if delivery["last_error"]:
        seen = f" (first seen {_with_age(delivery['last_error_at'], now)})" if delivery["last_error_at"] else ""
        lines.append(f"  last error     {delivery['last_error']}{seen}")
    else:
        lines.append("  last error     none")
    return "\n".join(lines) + "\n"


def _monitor_table(monitors, now):
    if not monitors:
        return ["  none"]
    header = ("ATTRIBUTE", "KIND", "LAST CAPTURE", "NEXT DUE", "ERRORS", "LAST ERROR")
    rows = [
        (
            monitor["attribute"],
            monitor["kind"] or "",
            _with_age(monitor["last_capture"], now) if monitor["last_capture"] else "never",
            _with_age(monitor["next_due"], now) if monitor["next_due"] else "-",
            str(monitor["error_count"] or 0),
            monitor["last_error"] or "-",
        )
        for monitor in monitors
    ]
    widths = [max(len(row[column]) for row in rows + [header]) for column in range(len(header) - 1)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in [header] + rows]


def _with_age(iso_text, now):
    moment = datetime.fromisoformat(iso_text.replace("Z", "+00:00"))
    seconds = (now - moment).total_seconds()
    relative = f"{_duration(seconds)} ago" if seconds >= 0 else f"in {_duration(-seconds)}"
    return f"{iso_text} ({relative})"


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
