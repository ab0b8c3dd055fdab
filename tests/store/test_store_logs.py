"""The repeat-limited log that records client errors without flooding."""

import logging

import httpx

from agent.store.logs import RepeatLimitedLog


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_log_writes_burst_then_counts(caplog):
    clock = FakeClock()
    log = RepeatLimitedLog(logging.getLogger("agent.store.test"), burst=3, period=60, clock=clock)
    caplog.set_level(logging.INFO, logger="agent.store.test")

    for number in range(10):
        log.info("bad request %d", number)
    clock.now = 61
    log.info("bad request after the period")

    messages = [record.getMessage() for record in caplog.records]
    assert messages[:3] == ["bad request 0", "bad request 1", "bad request 2"]
    assert messages[3] == "7 more lines like the above were not logged in the last 61 s"
    assert messages[4] == "bad request after the period"
    assert len(messages) == 5


def test_store_logs_client_errors(store, caplog):
    caplog.set_level(logging.INFO, logger="agent.store")

    httpx.get(store.url + "/resources/v2/customerappprofile/app-1/profiles")

    client_errors = [record.getMessage() for record in caplog.records if " got 401" in record.getMessage()]
    assert len(client_errors) == 1
    assert "key header is missing" in client_errors[0]
