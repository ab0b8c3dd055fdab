"""Fixtures that run a real profile store on loopback over a SQLite file in tmp_path."""

import itertools

import httpx
import pytest

from agent.store import ProfileStoreServer

KEY = "test-profile-key"
APP_ID = "app-1"


@pytest.fixture
def store_key():
    return KEY


@pytest.fixture
def store(tmp_path):
    with ProfileStoreServer(tmp_path / "store.db", key=KEY).start() as server:
        yield server


@pytest.fixture
def client(store):
    with httpx.Client(base_url=store.url, headers={"key": KEY}, timeout=10) as http_client:
        yield http_client


class RecordFactory:
    """Factory of valid records with fresh event ids. Each test changes the fields it checks."""

    def __init__(self):
        self._event_numbers = itertools.count(1)

    def event_id(self):
        return f"event-{next(self._event_numbers)}"

    def registration(self, device_id="device-1", sequence=1, attributes=None, **profile):
        return {
            "event_id": self.event_id(),
            "device_id": device_id,
            "sequence": sequence,
            "type": "registration",
            "kind": None,
            "captured_at": "2026-12-04T19:00:00.123+00:00",
            "attributes": attributes or {},
            "profile": {
                "userId": "user-1",
                "customerId": None,
                "os": "Debian 12",
                "platform": "linux",
                "sdkVersion": None,
                "createdOn": "2026-12-04T19:00:00Z",
                **profile,
            },
        }

    def update(self, device_id="device-1", sequence=2, attributes=None,
               captured_at="2026-12-04T19:05:00Z", kind="event"):
        return {
            "event_id": self.event_id(),
            "device_id": device_id,
            "sequence": sequence,
            "type": "update",
            "kind": kind,
            "captured_at": captured_at,
            "attributes": attributes or {"timezone": self.ok("Europe/Berlin")},
        }

    @staticmethod
    def ok(value):
        return {"status": "ok", "value": value, "reason": None}


@pytest.fixture
def records():
    return RecordFactory()


@pytest.fixture
def paths():
    base = f"/resources/v2/customerappprofile/{APP_ID}"
    return {
        "events": f"{base}/events",
        "profiles": f"{base}/profiles",
        "device": f"{base}/profiles/device-1",
    }
