"""What the store does with valid events: apply, deduplicate, order, page, persist."""

import http.client
import json
import threading
from datetime import datetime, timezone

import httpx

from agent.store import ProfileStoreServer


def statuses(response):
    return [result["status"] for result in response.json()["results"]]


def test_register_update_fetch(client, records, paths):
    registration = records.registration(
        attributes={"timezone": records.ok("UTC"), "ram": records.ok(8192)},
        pushId="push-1",
    )
    update = records.update(sequence=2, attributes={"timezone": records.ok("Europe/Berlin")})

    first = client.post(paths["events"], json={"records": [registration]})
    second = client.post(paths["events"], json={"records": [update]})
    profile = client.get(paths["device"]).json()

    assert first.status_code == 200
    assert first.json() == {"results": [{"event_id": registration["event_id"], "status": "applied"}]}
    assert second.status_code == 200
    assert statuses(second) == ["applied"]
    assert profile["appId"] == "app-1"
    assert profile["deviceId"] == "device-1"
    assert profile["userId"] == "user-1"
    assert profile["os"] == "Debian 12"
    assert profile["platform"] == "linux"
    assert profile["pushId"] == "push-1"
    assert profile["createdOn"] == "2026-12-04T19:00:00.000Z"
    assert profile["status"] == 0
    assert profile["lastSequence"] == 2
    assert profile["attributes"]["ram"]["value"] == 8192
    timezone_attribute = profile["attributes"]["timezone"]
    assert timezone_attribute["value"] == "Europe/Berlin"
    assert timezone_attribute["status"] == "ok"
    assert timezone_attribute["reason"] is None
    assert timezone_attribute["sequence"] == 2
    assert timezone_attribute["kind"] == "event"
    assert timezone_attribute["capturedAt"] == "2026-12-04T19:05:00.000Z"
    assert timezone_attribute["updatedOn"].endswith("Z")


def test_unavailable_attribute_keeps_reason(client, records, paths):
    unavailable = {"status": "unsupported", "value": None, "reason": "no battery"}
    client.post(paths["events"], json={"records": [records.registration()]})

    response = client.post(
        paths["events"], json={"records": [records.update(attributes={"battery_level": unavailable})]}
    )
    attribute = client.get(paths["device"]).json()["attributes"]["battery_level"]

    assert response.status_code == 200
    assert attribute["status"] == "unsupported"
    assert attribute["value"] is None
    assert attribute["reason"] == "no battery"


def test_same_event_twice_applied_once(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration()]})
    update = records.update(sequence=2)
    replay = dict(update, sequence=3, attributes={"timezone": records.ok("Asia/Tokyo")})

    first = client.post(paths["events"], json={"records": [update]})
    second = client.post(paths["events"], json={"records": [replay]})
    attribute = client.get(paths["device"]).json()["attributes"]["timezone"]

    assert statuses(first) == ["applied"]
    assert statuses(second) == ["duplicate"]
    assert attribute["value"] == "Europe/Berlin"
    assert attribute["sequence"] == 2


def test_duplicate_within_one_batch(client, records, paths):
    registration = records.registration()

    response = client.post(paths["events"], json={"records": [registration, registration]})

    assert response.status_code == 200
    assert statuses(response) == ["applied", "duplicate"]


def test_event_ids_scoped_per_app(client, records, paths):
    registration = records.registration()
    other_app = "/resources/v2/customerappprofile/app-2/events"

    first = client.post(paths["events"], json={"records": [registration]})
    second = client.post(other_app, json={"records": [registration]})

    assert statuses(first) == ["applied"]
    assert statuses(second) == ["applied"]


def test_higher_sequence_wins_over_later_capture(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration()]})
    newer = records.update(
        sequence=5, attributes={"timezone": records.ok("Europe/Berlin")},
        captured_at="2026-12-04T10:00:00Z",
    )
    older = records.update(
        sequence=3, attributes={"timezone": records.ok("UTC")},
        captured_at="2026-12-04T11:00:00Z",
    )

    applied = client.post(paths["events"], json={"records": [newer]})
    stale = client.post(paths["events"], json={"records": [older]})
    profile = client.get(paths["device"]).json()

    assert statuses(applied) == ["applied"]
    assert statuses(stale) == ["stale"]
    assert profile["attributes"]["timezone"]["value"] == "Europe/Berlin"
    assert profile["attributes"]["timezone"]["sequence"] == 5
    assert profile["lastSequence"] == 5


def test_out_of_order_arrival_per_attribute(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration()]})
    third = records.update(sequence=3, attributes={"timezone": records.ok("Asia/Tokyo")})
    second = records.update(
        sequence=2,
        attributes={"timezone": records.ok("UTC"), "language": records.ok("de-DE")},
    )

    client.post(paths["events"], json={"records": [third]})
    response = client.post(paths["events"], json={"records": [second]})
    attributes = client.get(paths["device"]).json()["attributes"]

    # The older record still carries the only value of language, so it applies there.
    assert statuses(response) == ["applied"]
    assert attributes["timezone"]["value"] == "Asia/Tokyo"
    assert attributes["language"]["value"] == "de-DE"
    assert attributes["language"]["sequence"] == 2


def test_future_capture_time_clamped(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration()]})
    before = datetime.now(timezone.utc)

    client.post(
        paths["events"],
        json={"records": [records.update(captured_at="2099-01-01T00:00:00+02:00")]},
    )
    after = datetime.now(timezone.utc)
    captured = client.get(paths["device"]).json()["attributes"]["timezone"]["capturedAt"]
    captured_at = datetime.fromisoformat(captured.replace("Z", "+00:00"))

    # The store keeps milliseconds, so allow for the truncated part.
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= captured_at
    assert captured_at <= after


def test_capture_time_normalised_to_utc(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration()]})

    client.post(
        paths["events"], json={"records": [records.update(captured_at="2026-12-04t21:30:00.5+02:30")]}
    )
    captured = client.get(paths["device"]).json()["attributes"]["timezone"]["capturedAt"]

    assert captured == "2026-12-04T19:00:00.500Z"


def test_mixed_batch_applies_valid_records(client, records, paths):
    registration = records.registration()
    invalid = records.update(sequence=0)
    valid_update = records.update(sequence=2)

    response = client.post(paths["events"], json={"records": [registration, invalid, valid_update]})
    body = response.json()
    profile = client.get(paths["device"])

    assert response.status_code == 400
    assert body["error"]["status"] == 400
    assert "rejected" in body["error"]["reason"]
    assert statuses(response) == ["applied", "rejected", "applied"]
    assert body["results"][1]["event_id"] == invalid["event_id"]
    assert "sequence" in body["results"][1]["reason"]
    assert "reason" not in body["results"][0]
    assert profile.status_code == 200
    assert profile.json()["attributes"]["timezone"]["sequence"] == 2


def test_update_before_registration_rejected(client, records, paths):
    response = client.post(paths["events"], json={"records": [records.update()]})
    result = response.json()["results"][0]

    assert response.status_code == 400
    assert result["status"] == "rejected"
    assert "not registered" in result["reason"]
    assert "registration" in result["reason"]
    assert client.get(paths["device"]).status_code == 404


def test_registration_then_update_in_one_batch(client, records, paths):
    batch = [records.registration(), records.update(sequence=2), records.update(sequence=3)]

    response = client.post(paths["events"], json={"records": batch})

    assert response.status_code == 200
    assert statuses(response) == ["applied", "applied", "applied"]
    assert client.get(paths["device"]).json()["lastSequence"] == 3


def test_reregistration_follows_sequence(client, records, paths):
    client.post(paths["events"], json={"records": [records.registration(sequence=5)]})

    older = client.post(
        paths["events"], json={"records": [records.registration(sequence=4, userId="user-old")]}
    )
    newer = client.post(
        paths["events"], json={"records": [records.registration(sequence=6, userId="user-new")]}
    )
    profile = client.get(paths["device"]).json()

    assert statuses(older) == ["stale"]
    assert statuses(newer) == ["applied"]
    assert profile["userId"] == "user-new"
    assert profile["lastSequence"] == 6


def test_register_endpoint_creates_then_acknowledges(client, records, paths):
    registration = records.registration(attributes={"language": records.ok("en-US")})

    created = client.post(paths["profiles"], json=registration)
    replayed = client.post(paths["profiles"], json=registration)
    again = client.post(paths["profiles"], json=records.registration(sequence=2))

    assert created.status_code == 201
    assert created.json()["status"] == "applied"
    assert created.json()["profile"]["attributes"]["language"]["value"] == "en-US"
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "duplicate"
    assert again.status_code == 200
    assert again.json()["status"] == "applied"


def test_register_endpoint_rejects_update(client, records, paths):
    client.post(paths["profiles"], json=records.registration())

    response = client.post(paths["profiles"], json=records.update())

    assert response.status_code == 400
    assert "registration" in response.json()["error"]["reason"]


def test_register_endpoint_rejects_invalid_record(client, records, paths):
    registration = records.registration()
    del registration["profile"]["userId"]

    response = client.post(paths["profiles"], json=registration)

    assert response.status_code == 400
    assert "profile.userId" in response.json()["error"]["reason"]


def test_list_pages_in_device_order(client, records, paths):
    device_ids = ["device-e", "device-a", "device-c", "device-b", "device-d"]
    batch = [records.registration(device_id=device_id) for device_id in device_ids]
    client.post(paths["events"], json={"records": batch})

    first = client.get(paths["profiles"], params={"limit": 2}).json()
    second = client.get(paths["profiles"], params={"limit": 2, "after": first["next"]}).json()
    third = client.get(paths["profiles"], params={"limit": 2, "after": second["next"]}).json()
    everything = client.get(paths["profiles"]).json()

    assert [profile["deviceId"] for profile in first["profiles"]] == ["device-a", "device-b"]
    assert first["next"] == "device-b"
    assert [profile["deviceId"] for profile in second["profiles"]] == ["device-c", "device-d"]
    assert [profile["deviceId"] for profile in third["profiles"]] == ["device-e"]
    assert third["next"] is None
    assert len(everything["profiles"]) == 5
    assert everything["next"] is None


def test_list_includes_attributes(client, records, paths):
    batch = [
        records.registration(device_id="device-a", attributes={"ram": records.ok(1)}),
        records.registration(device_id="device-b", attributes={"ram": records.ok(2)}),
    ]
    client.post(paths["events"], json={"records": batch})

    profiles = client.get(paths["profiles"]).json()["profiles"]

    assert profiles[0]["attributes"]["ram"]["value"] == 1
    assert profiles[1]["attributes"]["ram"]["value"] == 2


def test_list_of_unknown_app_empty(client):
    response = client.get("/resources/v2/customerappprofile/nobody/profiles")

    assert response.status_code == 200
    assert response.json() == {"profiles": [], "next": None}


def test_list_rejects_bad_limit(client, paths):
    for limit in ("0", "1001", "abc", "-1", "1.5", ""):
        response = client.get(paths["profiles"], params={"limit": limit})

        assert response.status_code == 400, limit
        assert "limit" in response.json()["error"]["reason"]


def test_unknown_device_not_found(client, paths):
    response = client.get(paths["device"])

    assert response.status_code == 404
    assert "device-1" in response.json()["error"]["reason"]


def test_missing_key_unauthorized(store, paths):
    response = httpx.get(store.url + paths["device"])

    assert response.status_code == 401
    assert "key" in response.json()["error"]["reason"]


def test_wrong_key_unauthorized(store, store_key, records, paths):
    response = httpx.post(
        store.url + paths["events"],
        json={"records": [records.registration()]},
        headers={"key": "not-the-key"},
    )
    check = httpx.get(store.url + paths["device"], headers={"key": store_key})

    assert response.status_code == 401
    assert "does not match" in response.json()["error"]["reason"]
    assert check.status_code == 404


def test_health_needs_no_key(store):
    response = httpx.get(store.url + "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_no_auth_mode_accepts_requests(tmp_path, records, paths):
    with ProfileStoreServer(tmp_path / "open.db", key=None).start() as open_store:
        response = httpx.post(
            open_store.url + paths["events"], json={"records": [records.registration()]}
        )

    assert response.status_code == 200


def test_data_survives_restart(tmp_path, store_key, records, paths):
    db_path = tmp_path / "persistent.db"
    registration = records.registration(attributes={"ram": records.ok(4096)})

    with ProfileStoreServer(db_path, key=store_key).start() as first_run:
        httpx.post(first_run.url + paths["events"], json={"records": [registration]},
                   headers={"key": store_key})
    with ProfileStoreServer(db_path, key=store_key).start() as second_run:
        profile = httpx.get(second_run.url + paths["device"], headers={"key": store_key})
        replay = httpx.post(second_run.url + paths["events"], json={"records": [registration]},
                            headers={"key": store_key})

    assert profile.status_code == 200
    assert profile.json()["attributes"]["ram"]["value"] == 4096
    assert statuses(replay) == ["duplicate"]


def test_connection_reused_after_client_error(store, store_key, paths):
    host, port = store.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"key": store_key, "Content-Type": "application/json"}
    try:
        connection.request("POST", paths["events"], b'{"records": [', headers)
        invalid = connection.getresponse()
        invalid.read()
        connection.request("GET", "/healthz")
        health = connection.getresponse()
        health_body = health.read()
    finally:
        connection.close()

    assert invalid.status == 400
    assert invalid.getheader("Connection") != "close"
    assert health.status == 200
    assert json.loads(health_body) == {"status": "ok"}


def test_non_ascii_key_matches_utf8_header(tmp_path, paths):
    with ProfileStoreServer(tmp_path / "store.db", key="schlüssel").start() as store:
        accepted = httpx.get(store.url + paths["profiles"], headers={"key": "schlüssel".encode()})
        rejected = httpx.get(store.url + paths["profiles"], headers={"key": "schlussel"})

    assert accepted.status_code == 200
    assert rejected.status_code == 401


def test_serve_forever_until_shutdown(tmp_path):
    server = ProfileStoreServer(tmp_path / "store.db", key=None).bind()
    serving = threading.Thread(target=server.serve_forever)
    serving.start()

    health = httpx.get(server.url + "/healthz")
    server.shutdown()
    serving.join(timeout=5)

    assert health.status_code == 200
    assert not serving.is_alive()


def test_shutdown_of_unstarted_store_returns(tmp_path):
    server = ProfileStoreServer(tmp_path / "store.db")

    server.shutdown()

    assert not (tmp_path / "store.db").exists()


def test_concurrent_writers_and_readers(store, store_key, records, paths):
    devices = [f"device-{number}" for number in range(20)]
    with httpx.Client(base_url=store.url, headers={"key": store_key}) as setup:
        setup.post(paths["events"], json={"records": [records.registration(device_id=device_id) for device_id in devices]})
    statuses_seen = []

    def write(writer):
        with httpx.Client(base_url=store.url, headers={"key": store_key}, timeout=30) as client:
            for round_number in range(10):
                sequence = 2 + round_number * 4 + writer
                batch = [
                    records.update(device_id=device_id, sequence=sequence,
                                   attributes={"battery_level": records.ok(sequence)})
                    for device_id in devices
                ]
                statuses_seen.append(client.post(paths["events"], json={"records": batch}).status_code)

    def read():
        with httpx.Client(base_url=store.url, headers={"key": store_key}, timeout=30) as client:
            for _ in range(20):
                statuses_seen.append(client.get(paths["profiles"], params={"limit": 7}).status_code)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with httpx.Client(base_url=store.url, headers={"key": store_key}) as check:
        profiles = check.get(paths["profiles"]).json()["profiles"]

    # The highest sequence any writer sent is 2 + 9 * 4 + 3 = 41, and it must win everywhere.
    assert set(statuses_seen) == {200}
    assert len(statuses_seen) == 4 * 10 + 2 * 20
    assert {profile["lastSequence"] for profile in profiles} == {41}
    assert {profile["attributes"]["battery_level"]["value"] for profile in profiles} == {41}
