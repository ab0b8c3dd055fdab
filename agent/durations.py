"""Durations written as in systemd and Prometheus: 30s, 15m, 1h, 1d, 500ms."""

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text):
    """Return seconds as a float; a bare number means seconds. Raise ValueError when unparsable."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration; write a number with a unit: ms, s, m, h or d, such as 30s or 15m")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def format_duration(seconds):
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
