"""Durations written as in systemd and Prometheus: 30s, 15m, 1h, 1d, 500ms, 1h30m."""

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = r"\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)"
_DURATION = re.compile(rf"^\s*(-?)\s*((?:{_PART}\s*)+|\d+(?:\.\d+)?)\s*$")
_PARTS = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")


def parse_duration(text):
    """Return seconds as a float; a bare number means seconds. Raise ValueError when unparsable."""
    if isinstance(text, bool) or text is None:
        raise ValueError(f"{text!r} is not a duration; write a number with a unit: ms, s, m, h or d, such as 30s or 15m")
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration; write a number with a unit: ms, s, m, h or d, such as 30s, 15m or 1h30m")
    sign = -1.0 if match.group(1) else 1.0
    body = match.group(2)
    parts = _PARTS.findall(body)
    if not parts:
        return sign * float(body)
    return sign * sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds):
    """Return the shortest exact form: 300 -> 5m, 5400 -> 90m, 1.5 -> 1.5s."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
