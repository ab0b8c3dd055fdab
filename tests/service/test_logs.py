"""Log lines for the journal, for log shippers and for terminals, and repeat limiting."""

import json
import logging
import os
import re

import pytest

from agent.logs import RepeatFilter, configure_logging, print_error, report_suppressed_repeats


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def log_file(tmp_path):
    with open(tmp_path / "stderr.log", "w+") as stream:
        yield stream


def journal_of(stream):
    status = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}


def lines_of(stream):
    stream.flush()
    stream.seek(0)
    return stream.read().splitlines()


def test_journal_lines_carry_priority(log_file):
    configure_logging("info", "text", environ=journal_of(log_file), stream=log_file)

    logging.getLogger("agent.test").warning("Collector for %s failed", "battery_level")
    logging.getLogger("agent.test").info("Registered device %s", "device-1")

    assert lines_of(log_file) == ["<4>agent.test: Collector for battery_level failed", "<6>agent.test: Registered device device-1"]


def test_journal_traceback_keeps_priority(log_file):
    configure_logging("info", "text", environ=journal_of(log_file), stream=log_file)

    try:
        raise ValueError("broken sensor")
    except ValueError:
        logging.getLogger("agent.test").exception("Collector for %s failed", "ram")
    lines = lines_of(log_file)

    assert len(lines) > 2
    assert all(line.startswith("<3>") for line in lines), lines
    assert lines[-1] == "<3>ValueError: broken sensor"


def test_other_stream_gets_timestamps(log_file):
    configure_logging("info", "text", environ={"JOURNAL_STREAM": "1:2"}, stream=log_file)

    logging.getLogger("agent.test").warning("Delivery failed")
    line = lines_of(log_file)[0]

    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING agent\.test: Delivery failed$", line), line


def test_json_lines_have_context_fields(log_file):
    configure_logging("info", "json", environ={}, stream=log_file)

    logging.getLogger("agent.test").error("Collector for %s failed", "telco", extra={"attribute": "telco", "device_id": "device-1"})
    entry = json.loads(lines_of(log_file)[0])

    assert entry["level"] == "error"
    assert entry["logger"] == "agent.test"
    assert entry["message"] == "Collector for telco failed"
    assert entry["attribute"] == "telco"
    assert entry["device_id"] == "device-1"
    assert entry["time"].endswith("+00:00")


def test_json_under_journal_prefixed(log_file):
    configure_logging("info", "json", environ=journal_of(log_file), stream=log_file)

    logging.getLogger("agent.test").warning("Delivery failed")
    line = lines_of(log_file)[0]

    assert line.startswith("<4>{")
    assert json.loads(line[3:])["message"] == "Delivery failed"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def limited(log_file):
    """A text handler on log_file whose repeat filter runs on a fake clock."""
    clock = FakeClock()
    handler = configure_logging("debug", "text", environ={}, stream=log_file)
    handler.filters[:] = [RepeatFilter(window=60.0, clock=clock)]
    return clock


def test_repeats_within_window_suppressed(limited, log_file):
    log = logging.getLogger("agent.test")

    for delay in (5, 15, 60, 300):
        log.warning("Capture of %s found no value; retrying in %ds", "ram", delay)
    lines = lines_of(log_file)

    assert len(lines) == 1
    assert lines[0].endswith("Capture of ram found no value; retrying in 5s")


def test_other_attribute_not_suppressed(limited, log_file):
    log = logging.getLogger("agent.test")

    log.warning("Collector for %s failed", "ram")
    log.warning("Collector for %s failed", "telco")

    assert len(lines_of(log_file)) == 2


def test_summary_after_window(limited, log_file):
    log = logging.getLogger("agent.test")
    for _ in range(5):
        log.error("Collector for %s failed", "ram")

    limited.now += 61
    report_suppressed_repeats()
    lines = lines_of(log_file)

    assert len(lines) == 2
    assert "ERROR agent.test: 4 repeats of this message suppressed in the previous 60 s: Collector for ram failed" in lines[1]


def test_next_occurrence_counts_suppressed(limited, log_file):
    log = logging.getLogger("agent.test")
    for _ in range(3):
        log.error("Collector for %s failed", "ram")

    limited.now += 61
    log.error("Collector for %s failed", "ram")
    lines = lines_of(log_file)

    assert len(lines) == 2
    assert lines[1].endswith("Collector for ram failed (2 repeats suppressed in the previous 60 s)")


def test_debug_never_limited(limited, log_file):
    log = logging.getLogger("agent.test")

    for _ in range(3):
        log.debug("Polling %s", "timezone")

    assert len(lines_of(log_file)) == 3


def test_error_for_user_under_journal(log_file):
    print_error("device-agent: invalid configuration:\nagent.yaml:3:1: unknown key", environ=journal_of(log_file), stream=log_file)

    assert lines_of(log_file) == ["<3>device-agent: invalid configuration:", "<3>agent.yaml:3:1: unknown key"]


def test_error_for_user_on_terminal(log_file):
    print_error("device-agent: no state database", environ={}, stream=log_file)

    assert lines_of(log_file) == ["device-agent: no state database"]
