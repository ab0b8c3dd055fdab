"""Logging set-up: one line per record on stderr, shaped for where stderr goes.

On a terminal or a file each line carries a timestamp. Under systemd, where
stderr is connected to the journal ($JOURNAL_STREAM), lines start with a
syslog priority such as "<4>" instead, so journald keeps the level and adds
its own timestamp. The json format writes one JSON object per line for log
shippers. Repeats of the same message are rate-limited in every format.
"""

import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

# A message repeated within this many seconds is counted instead of written.
REPEAT_WINDOW = 60.0
# Beyond this many distinct messages in one window, the oldest are forgotten, which bounds memory.
MAX_TRACKED_MESSAGES = 1000

# Attributes a caller may pass with extra={...}; the json format writes them as fields.
CONTEXT_FIELDS = ("attribute", "device_id", "event_id")

_SYSLOG_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def configure_logging(level="info", log_format="text", environ=None, stream=None):
    """Send every record to stderr in log_format ('text' or 'json'); return the handler."""
    environ = os.environ if environ is None else environ
    stream = stream or sys.stderr
    journal = stream_is_journal(stream, environ)
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(journal=journal))
    elif journal:
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


def stream_is_journal(stream, environ):
    """Return True when stream is the journal connection that systemd named in $JOURNAL_STREAM.

    systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected.
    Comparing them catches a child process whose stderr was redirected.
    """
    value = environ.get("JOURNAL_STREAM")
    if not value:
        return False
    try:
        device, inode = (int(part) for part in value.split(":"))
        status = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (device, inode)


def syslog_priority(levelno):
    for threshold, priority in _SYSLOG_PRIORITIES:
        if levelno >= threshold:
            return priority
    return 7


def print_error(text, environ=None, stream=None):
    """Write an error for the user to stderr, with the error priority on each line when stderr is the journal."""
    environ = os.environ if environ is None else environ
    stream = stream or sys.stderr
    if stream_is_journal(stream, environ):
        text = "\n".join(f"<{syslog_priority(logging.ERROR)}>{line}" for line in text.splitlines())
    print(text, file=stream)


def report_suppressed_repeats(now=None):
    """Log a summary for every rate-limited message whose window has closed."""
    for handler in logging.getLogger().handlers:
        for record_filter in handler.filters:
            if isinstance(record_filter, RepeatFilter):
                record_filter.report_expired(now)


# formatters


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record):
        return super().format(record) + _repeats_note(record)


class JournalFormatter(logging.Formatter):
    """Formats without a timestamp, with the syslog priority on every line.

    journald reads the priority prefix line by line, so a traceback keeps
    the level of the record it belongs to.
    """

    def __init__(self):
        super().__init__("%(name)s: %(message)s")

    def format(self, record):
        prefix = f"<{syslog_priority(record.levelno)}>"
        text = super().format(record) + _repeats_note(record)
        return "\n".join(prefix + line for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """Formats one JSON object per line: time, level, logger, message and context fields."""

    def __init__(self, journal=False):
        super().__init__()
        self.journal = journal

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if getattr(record, "repeats_suppressed", 0):
            entry["repeats_suppressed"] = record.repeats_suppressed
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str, ensure_ascii=False)
        return f"<{syslog_priority(record.levelno)}>{line}" if self.journal else line


def _repeats_note(record):
    count = getattr(record, "repeats_suppressed", 0)
    return f" ({count} repeats suppressed in the previous {REPEAT_WINDOW:g} s)" if count else ""


# rate limiting


@dataclass
class _Window:
    started: float
    logger: str
    levelno: int
    message: str
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Lets the first of a run of repeated messages through and counts the rest.

    Two records repeat each other when they come from the same logger at the
    same level with the same message template and the same string arguments.
    Numbers and exception objects are left out of the comparison, so "retrying
    in 5 s" and "retrying in 15 s" for one attribute count as one message,
    while the same failure on two attributes or devices does not.
    DEBUG records are never limited.
    """

    def __init__(self, window=REPEAT_WINDOW, clock=time.monotonic):
        super().__init__()
        self.window = window
        self.clock = clock
        self._windows = {}
        self._lock = threading.Lock()

    def filter(self, record):
        if record.levelno <= logging.DEBUG or getattr(record, "repeat_summary", False):
            return True
        key = _repeat_key(record)
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.started < self.window:
                window.suppressed += 1
                return False
            if window is not None and window.suppressed:
                record.repeats_suppressed = window.suppressed
            if len(self._windows) >= MAX_TRACKED_MESSAGES:
                self._windows.pop(next(iter(self._windows)))
            self._windows[key] = _Window(now, record.name, record.levelno, _message(record))
        return True

    def report_expired(self, now=None):
        """Log a summary of each closed window that suppressed records, and forget closed windows."""
        now = self.clock() if now is None else now
        summaries = []
        with self._lock:
            for key, window in list(self._windows.items()):
                if now - window.started < self.window:
                    continue
                del self._windows[key]
                if window.suppressed:
                    summaries.append(window)
        # Logging happens outside the lock because the summary passes through this filter too.
        for window in summaries:
            logging.getLogger(window.logger).log(
                window.levelno,
                "%d repeats of this message suppressed in the previous %g s: %s",
                window.suppressed,
                self.window,
                window.message,
                extra={"repeat_summary": True},
            )


def _message(record):
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        # A template that does not match its arguments; the handler reports that when it formats.
        return str(record.msg)


def _repeat_key(record):
    args = record.args if isinstance(record.args, tuple) else (record.args,) if record.args else ()
    text_args = tuple(arg for arg in args if isinstance(arg, str))
    return record.name, record.levelno, str(record.msg), text_args
