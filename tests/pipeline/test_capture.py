"""Capture isolates collector failures, and privacy decides what leaves the device."""

from datetime import datetime, timezone

from agent.capture import apply_privacy, capture
from agent.errors import AccessDenied
from agent.samples import Sample, Status

NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)


class ScriptedSource:
    def __init__(self, behaviours):
        self.behaviours = behaviours

    def collect(self, attribute):
        behaviour = self.behaviours[attribute]
        if isinstance(behaviour, Exception):
            raise behaviour
        return behaviour


def test_collector_error_becomes_status():
    source = ScriptedSource({"imei": AccessDenied("modem needs root")})

    sample = capture(source, "imei", NOW)

    assert sample.status is Status.DENIED
    assert sample.reason == "modem needs root"
    assert sample.value is None


def test_collector_bug_becomes_error_sample():
    source = ScriptedSource({"ram": ZeroDivisionError("division by zero")})

    sample = capture(source, "ram", NOW)

    assert sample.status is Status.ERROR
    assert "ZeroDivisionError" in sample.reason


def test_value_captured_with_time():
    sample = capture(ScriptedSource({"ram": 1024}), "ram", NOW)

    assert sample == Sample("ram", Status.OK, 1024, None, NOW)


def test_privacy_hash_is_keyed_and_stable():
    sample = Sample("device_ip", Status.OK, ["192.0.2.7"], None, NOW)

    first = apply_privacy(sample, "hash", b"key-one")
    again = apply_privacy(sample, "hash", b"key-one")
    other_key = apply_privacy(sample, "hash", b"key-two")

    assert first.value == again.value
    assert first.value != other_key.value
    assert first.value.startswith("hmac-sha256:")
    assert "192.0.2.7" not in first.value


def test_privacy_omit_and_send():
    sample = Sample("imei", Status.OK, "490154203237518", None, NOW)

    assert apply_privacy(sample, "omit", b"k") is None
    assert apply_privacy(sample, "send", b"k") == sample
