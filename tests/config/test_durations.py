"""Durations in agent.yaml: parsing and the shortest exact form."""

import pytest

from agent.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("90", 90.0),
        (" 5m ", 300.0),
        ("-5m", -300.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m", "", "1m1", "5x", "1..5s", "--5s", None, True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="is not a duration; write a number with a unit"):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(300.0, "5m"), (5400.0, "90m"), (86400.0, "1d"), (1.5, "1.5s"), (10.0, "10s"), (0.1, "0.1s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
