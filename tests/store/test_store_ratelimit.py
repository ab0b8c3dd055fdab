"""Per-device rate limiting: token buckets, and 429 with Retry-After over HTTP."""

import httpx
import pytest

from agent.store import ProfileStoreServer
from agent.store.ratelimit import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_admits_burst_then_waits():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)

    first = limiter.acquire("app", {"device": 1})
    second = limiter.acquire("app", {"device": 1})
    third = limiter.acquire("app", {"device": 1})

    assert first == 0
    assert second == 0
    assert third == pytest.approx(0.5)


def test_limiter_refills_over_time():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    limiter.acquire("app", {"device": 2})

    clock.now += 0.5
    refilled = limiter.acquire("app", {"device": 1})

    assert refilled == 0


def test_limiter_keeps_devices_apart():
    limiter = RateLimiter(1, clock=FakeClock())
    limiter.acquire("app", {"device-a": 1})

    other_device = limiter.acquire("app", {"device-b": 1})
    other_app = limiter.acquire("app-2", {"device-a": 1})

    assert other_device == 0
    assert other_app == 0


def test_limiter_admits_batch_over_burst_into_debt():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)

    batch = limiter.acquire("app", {"device": 100})
    next_batch = limiter.acquire("app", {"device": 1})

    # 100 events from a full bucket of 10 leave a debt of 90, so one more event waits 9.1 s.
    assert batch == 0
    assert next_batch == pytest.approx(9.1)


def test_limiter_takes_nothing_when_rejecting():
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    limiter.acquire("app", {"device-b": 1})

    rejected = limiter.acquire("app", {"device-a": 1, "device-b": 1})
    device_a_alone = limiter.acquire("app", {"device-a": 1})

    assert rejected > 0
    assert device_a_alone == 0


def test_limiter_rejects_bad_rate():
    for rate in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimiter(rate)


def test_rate_limit_responds_429(tmp_path, records, paths):
    # One event per 10 s: the bucket cannot refill between two requests, even on a loaded machine.
    with ProfileStoreServer(tmp_path / "store.db", key=None, rate_limit=0.1).start() as store:
        url = store.url + paths["events"]
        admitted = httpx.post(url, json={"records": [records.registration(sequence=1)]})
        limited = httpx.post(url, json={"records": [records.registration(sequence=2)]})
        other_device = httpx.post(
            url, json={"records": [records.registration(device_id="device-2")]}
        )

    assert admitted.status_code == 200
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert limited.json()["error"]["status"] == 429
    assert "retry after" in limited.json()["error"]["reason"]
    assert other_device.status_code == 200


def test_rate_limit_off_by_default(client, records, paths):
    responses = [
        client.post(paths["events"], json={"records": [records.registration(sequence=sequence)]})
        for sequence in range(1, 21)
    ]

    assert {response.status_code for response in responses} == {200}
