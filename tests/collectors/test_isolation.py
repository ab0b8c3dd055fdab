"""Each collector call runs under a timeout and fails alone."""

import logging
import threading
import time

from agent.capture import capture
from agent.collectors import COLLECTORS
from agent.collectors import modem as mm
from agent.samples import Status


def test_hung_dbus_call_costs_one_sample(bus_host, service, monkeypatch):
    fake = service(mm.SERVICE)
    # The fake replies to GetManagedObjects itself, so the test hangs it by replying to nothing.
    monkeypatch.setattr(fake, "_answer", lambda message: None)
    fake.start()
    source = bus_host(timeout=0.5, bus_timeout=5.0)

    started = time.monotonic()
    hung = capture(source, "telco")
    elapsed = time.monotonic() - started
    other = capture(source, "ram")

    assert hung.status is Status.ERROR
    assert hung.reason == "timed out after 0.5 s"
    assert elapsed < 1.5
    assert other.status is Status.UNAVAILABLE or other.ok
    assert source.failures["telco"]["timeout"] == 1


def test_hung_collector_is_not_started_again(host, monkeypatch):
    release = threading.Event()
    calls = []

    def stuck(source):
        calls.append(1)
        release.wait(10)
        return "late"

    monkeypatch.setitem(COLLECTORS, "telco", stuck)
    source = host(timeout=0.2)

    first = capture(source, "telco")
    second = capture(source, "telco")
    release.set()
    time.sleep(0.1)
    third = capture(source, "telco")

    assert first.status is Status.ERROR
    assert second.status is Status.UNAVAILABLE
    assert "not started again" in second.reason
    assert len(calls) == 2
    assert third.value == "late"
    assert source.failures["telco"] == {"timeout": 1, "busy": 1}


def test_failing_collector_logged_once_then_counted(host, monkeypatch, caplog):
    def broken(source):
        raise ValueError("bad sysfs value")

    monkeypatch.setitem(COLLECTORS, "nfc_support", broken)
    source = host()

    with caplog.at_level(logging.WARNING, logger="agent.sources.host"):
        samples = [capture(source, "nfc_support") for _ in range(3)]

    assert [sample.status for sample in samples] == [Status.ERROR] * 3
    assert samples[0].reason == "collector failed: ValueError: bad sysfs value"
    assert len(caplog.records) == 1
    assert "nfc_support" in caplog.records[0].getMessage()
    assert source.failures["nfc_support"]["error"] == 3


def test_no_system_bus_answers_quickly(host):
    source = host()
    started = time.monotonic()
    sample = capture(source, "telco")

    assert sample.status is Status.UNAVAILABLE
    assert str(source.root) in sample.reason
    assert time.monotonic() - started < 1.0


def test_unanswered_bus_call_times_out(bus_host, service, monkeypatch):
    fake = service(mm.SERVICE)
    monkeypatch.setattr(fake, "_answer", lambda message: None)
    fake.start()
    source = bus_host(timeout=5.0, bus_timeout=0.3)

    sample = capture(source, "imei")

    assert sample.status is Status.UNAVAILABLE
    assert "sent no reply" in sample.reason
    assert source.failures["imei"]["timeout"] == 1
