"""Hostile requests: each gets a 4xx with a reason, and the store keeps serving.

The requests go out as raw bytes over a socket, because HTTP clients refuse to
send most of them. One store serves the whole module, so the last tests check
that it survived everything before them.
"""

import copy
import http.client
import json
import logging
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from agent.store import ProfileStoreServer

KEY = "hostile-suite-key"
EVENTS = "/resources/v2/customerappprofile/app-1/events"
PROFILES = "/resources/v2/customerappprofile/app-1/profiles"
DEVICE = "/resources/v2/customerappprofile/app-1/profiles/device-1"
MAX_BODY = 1 << 20


class ErrorRecorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(self.format(record))


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    recorder = ErrorRecorder()
    logger = logging.getLogger("agent.store")
    logger.addHandler(recorder)
    db_path = tmp_path_factory.mktemp("hostile") / "store.db"
    with ProfileStoreServer(db_path, key=KEY, max_body=MAX_BODY).start() as server:
        server.errors = recorder.messages
        yield server
    logger.removeHandler(recorder)


def send_raw(store, data, timeout=10):
    """Send data as is and return the parsed response (status, headers, JSON body)."""
    address = urlsplit(store.url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as connection:
        connection.sendall(data)
        response = http.client.HTTPResponse(connection)
        response.begin()
        body = response.read()
    return response.status, response.headers, json.loads(body) if body else None


def request_bytes(method, path, body=b"", headers=None, key=KEY):
    """Build a request with the key and a matching Content-Length unless headers override them."""
    header_map = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    if key is not None:
        header_map["key"] = key
    if body or method == "POST":
        header_map["Content-Length"] = str(len(body))
    header_map.update(headers or {})
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in header_map.items() if value is not None]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


def valid_registration(event_id="hostile-registration"):
    return {
        "event_id": event_id,
        "device_id": "device-1",
        "sequence": 1,
        "type": "registration",
        "kind": "one_time",
        "captured_at": "2026-12-04T19:00:00Z",
        "attributes": {"ram": {"status": "ok", "value": 1024, "reason": None}},
        "profile": {
            "userId": "user-1", "customerId": None, "os": "Debian 12", "platform": "linux",
            "sdkVersion": None, "createdOn": "2026-12-04T19:00:00Z",
        },
    }


def batch_bytes(*records):
    return json.dumps({"records": list(records)}).encode()


def mutated(path, value, delete=False):
    """Return a valid registration with the field at the dotted path replaced or deleted."""
    record = copy.deepcopy(valid_registration())
    *parents, last = path.split(".")
    target = record
    for name in parents:
        target = target[name]
    if delete:
        del target[last]
    else:
        target[last] = value
    return record


def deep_array(depth):
    return "[" * depth + "]" * depth


# Body-level problems: the whole request is rejected. (case id, method, path, body, headers, status)
REQUEST_CASES = [
    ("malformed json", "POST", EVENTS, b'{"records": [', {}, 400),
    ("trailing garbage", "POST", EVENTS, b'{"records": []} x', {}, 400),
    ("empty body", "POST", EVENTS, b"", {}, 400),
    ("body is array", "POST", EVENTS, b"[]", {}, 400),
    ("body is string", "POST", EVENTS, b'"records"', {}, 400),
    ("body is null", "POST", EVENTS, b"null", {}, 400),
    ("records missing", "POST", EVENTS, b"{}", {}, 400),
    ("records is object", "POST", EVENTS, b'{"records": {}}', {}, 400),
    ("records empty", "POST", EVENTS, b'{"records": []}', {}, 400),
    ("records over 100", "POST", EVENTS,
     batch_bytes(*[valid_registration(f"event-{number}") for number in range(101)]), {}, 400),
    ("unknown body field", "POST", EVENTS,
     json.dumps({"records": [valid_registration()], "extra": 1}).encode(), {}, 400),
    ("invalid utf-8", "POST", EVENTS, b'{"records": ["\xff\xfe"]}', {}, 400),
    ("utf-8 bom", "POST", EVENTS, b"\xef\xbb\xbf" + batch_bytes(valid_registration()), {}, 400),
    ("nan constant", "POST", EVENTS, b'{"records": [NaN]}', {}, 400),
    ("infinite float", "POST", EVENTS, b'{"records": [1e999]}', {}, 400),
    ("integer of 5000 digits", "POST", EVENTS, b'{"records": [' + b"9" * 5000 + b"]}", {}, 400),
    ("deep arrays", "POST", EVENTS, deep_array(100_000).encode(), {}, 400),
    ("deep objects", "POST", EVENTS, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, {}, 400),
    ("deep inside records", "POST", EVENTS, b'{"records": ' + deep_array(5000).encode() + b"}", {}, 400),
    ("register body is array", "POST", PROFILES, b"[]", {}, 400),
    ("register deep body", "POST", PROFILES, deep_array(100_000).encode(), {}, 400),
    ("missing content-length", "POST", EVENTS, b"", {"Content-Length": None}, 411),
    ("negative content-length", "POST", EVENTS, b"", {"Content-Length": "-1"}, 400),
    ("text content-length", "POST", EVENTS, b"", {"Content-Length": "ten"}, 400),
    ("huge content-length", "POST", EVENTS, b"", {"Content-Length": "9" * 30}, 400),
    ("content-length over cap", "POST", EVENTS, b"", {"Content-Length": str(10**12)}, 413),
    ("body over cap", "POST", EVENTS, b"x" * 1000, {"Content-Length": str(MAX_BODY + 1)}, 413),
    ("chunked body", "POST", EVENTS, b"0\r\n\r\n",
     {"Content-Length": None, "Transfer-Encoding": "chunked"}, 411),
    ("missing key", "POST", EVENTS, batch_bytes(valid_registration()), {"key": None}, 401),
    ("wrong key", "POST", EVENTS, batch_bytes(valid_registration()), {"key": "guess"}, 401),
    ("wrong key on read", "GET", DEVICE, b"", {"key": "guess"}, 401),
    ("non-ascii key", "GET", DEVICE, b"", {"key": "schl\xfcssel"}, 401),
    ("dot-dot segment", "GET", "/resources/v2/customerappprofile/../x", b"", {}, 400),
    ("encoded dot-dot", "GET", "/resources/v2/customerappprofile/%2e%2e/profiles", b"", {}, 400),
    ("encoded slash in app", "POST", "/resources/v2/customerappprofile/app%2F1/events",
     batch_bytes(valid_registration()), {}, 400),
    ("encoded lowercase slash", "GET", "/resources/v2/customerappprofile/app-1/profiles/a%2fb",
     b"", {}, 400),
    ("encoded backslash", "GET", "/resources/v2/customerappprofile/app-1/profiles/a%5Cb",
     b"", {}, 400),
    ("encoded nul", "GET", "/resources/v2/customerappprofile/app-1/profiles/a%00b", b"", {}, 400),
    ("raw nul", "GET", "/resources/v2/customerappprofile/app-1/profiles/a\x00b", b"", {}, 400),
    ("bad percent utf-8", "GET", "/resources/v2/customerappprofile/app-1/profiles/%ff",
     b"", {}, 400),
    ("long app id", "GET", f"/resources/v2/customerappprofile/{'a' * 200}/profiles", b"", {}, 400),
    ("long device id", "GET", f"{PROFILES}/{'d' * 200}", b"", {}, 400),
    ("space in device id", "GET", f"{PROFILES}/a%20b", b"", {}, 400),
    ("non-ascii device id", "GET", f"{PROFILES}/ger\xe4t", b"", {}, 400),
    ("over-long request line", "GET", "/" + "x" * 70_000, b"", {}, 414),
    ("absolute-form target", "GET", "http://127.0.0.1/healthz", b"", {}, 400),
    ("unknown path", "GET", "/resources/v2/other", b"", {}, 404),
    ("unknown api path", "GET", "/resources/v2/customerappprofile/app-1/devices", b"", {}, 404),
    ("trailing slash", "GET", f"{PROFILES}/device-1/", b"", {}, 404),
    ("root path", "GET", "/", b"", {}, 404),
    ("delete events", "DELETE", EVENTS, b"", {}, 405),
    ("get events", "GET", EVENTS, b"", {}, 405),
    ("put profile", "PUT", DEVICE, b"{}", {}, 405),
    ("post healthz", "POST", "/healthz", b"{}", {}, 405),
    ("unknown method", "BREW", EVENTS, b"", {}, 405),
    ("limit zero", "GET", f"{PROFILES}?limit=0", b"", {}, 400),
    ("limit huge", "GET", f"{PROFILES}?limit={'9' * 5000}", b"", {}, 400),
    ("limit repeated", "GET", f"{PROFILES}?limit=1&limit=2", b"", {}, 400),
    ("unknown query parameter", "GET", f"{PROFILES}?offset=5", b"", {}, 400),
    ("after invalid", "GET", f"{PROFILES}?after=a/b", b"", {}, 400),
    ("query on device", "GET", f"{DEVICE}?x=1", b"", {}, 400),
    ("too many query fields", "GET", PROFILES + "?" + "&".join(["a=1"] * 50), b"", {}, 400),
]


@pytest.mark.parametrize(
    "method, path, body, headers, expected",
    [case[1:] for case in REQUEST_CASES],
    ids=[case[0] for case in REQUEST_CASES],
)
def test_hostile_request_rejected(hostile_store, method, path, body, headers, expected):
    status, response_headers, payload = send_raw(
        hostile_store, request_bytes(method, path, body, headers)
    )

    assert status == expected
    assert payload["error"]["status"] == expected
    assert payload["error"]["reason"]
    assert response_headers["Content-Type"] == "application/json"
    if expected == 405:
        assert response_headers["Allow"]


# Record-level problems: the record is rejected with a reason naming the field.
# (case id, dotted field path, replacement value or DELETE, text the reason must contain)
DELETE = object()
HUGE_TEXT = "x" * (70 * 1024)
RECORD_CASES = [
    ("event_id number", "event_id", 5, "event_id"),
    ("event_id null", "event_id", None, "event_id"),
    ("event_id empty", "event_id", "", "event_id"),
    ("event_id too long", "event_id", "e" * 129, "event_id"),
    ("event_id slash", "event_id", "a/b", "event_id"),
    ("event_id missing", "event_id", DELETE, "event_id"),
    ("device_id array", "device_id", ["device-1"], "device_id"),
    ("device_id dot-dot", "device_id", "..", "device_id"),
    ("device_id newline", "device_id", "device\n1", "device_id"),
    ("device_id missing", "device_id", DELETE, "device_id"),
    ("sequence string", "sequence", "1", "sequence"),
    ("sequence zero", "sequence", 0, "sequence"),
    ("sequence negative", "sequence", -1, "sequence"),
    ("sequence float", "sequence", 1.5, "sequence"),
    ("sequence boolean", "sequence", True, "sequence"),
    ("sequence over 64 bits", "sequence", 2**63, "sequence"),
    ("sequence missing", "sequence", DELETE, "sequence"),
    ("type unknown", "type", "delete", "type"),
    ("type null", "type", None, "type"),
    ("type object", "type", {"a": 1}, "type"),
    ("type missing", "type", DELETE, "type"),
    ("kind unknown", "kind", "weekly", "kind"),
    ("kind number", "kind", 3, "kind"),
    ("captured_at words", "captured_at", "yesterday", "captured_at"),
    ("captured_at without offset", "captured_at", "2026-12-04T19:00:00", "captured_at"),
    ("captured_at month 13", "captured_at", "2026-13-04T19:00:00Z", "captured_at"),
    ("captured_at number", "captured_at", 1764874800, "captured_at"),
    ("captured_at missing", "captured_at", DELETE, "captured_at"),
    ("attributes array", "attributes", [], "attributes"),
    ("attributes missing", "attributes", DELETE, "attributes"),
    ("attribute name camel case", "attributes", {"batteryLevel": {"status": "ok"}}, "batteryLevel"),
    ("attribute name too long", "attributes", {"a" * 65: {"status": "ok"}}, "attribute name"),
    ("attribute entry string", "attributes.ram", "ok", "attributes.ram"),
    ("attribute status unknown", "attributes.ram.status", "fine", "attributes.ram.status"),
    ("attribute status missing", "attributes.ram.status", DELETE, "attributes.ram.status"),
    ("attribute extra field", "attributes.ram.unit", "MiB", "attributes.ram"),
    ("attribute reason number", "attributes.ram.reason", 7, "attributes.ram.reason"),
    ("attribute value too big", "attributes.ram.value", HUGE_TEXT, "attributes.ram.value"),
    ("attribute value too deep", "attributes.ram.value", json.loads(deep_array(40)),
     "attributes.ram.value"),
    ("attribute value surrogate", "attributes.ram.value", "\ud800", "attributes.ram.value"),
    ("attribute reason too long", "attributes.ram.reason", HUGE_TEXT, "attributes.ram.reason"),
    ("too many attributes", "attributes",
     {f"a{number}": {"status": "ok"} for number in range(300)}, "attributes"),
    ("profile missing", "profile", DELETE, "profile"),
    ("profile string", "profile", "user-1", "profile"),
    ("profile userId number", "profile.userId", 5, "profile.userId"),
    ("profile userId empty", "profile.userId", "", "profile.userId"),
    ("profile os missing", "profile.os", DELETE, "profile.os"),
    ("profile createdOn bad", "profile.createdOn", "2026-02-30T00:00:00Z", "profile.createdOn"),
    ("profile unknown field", "profile.rtmId", "x", "rtmId"),
    ("profile pushId number", "profile.pushId", 12, "profile.pushId"),
    ("unknown record field", "priority", "high", "priority"),
]


@pytest.mark.parametrize(
    "path, value, expected_text",
    [case[1:] for case in RECORD_CASES],
    ids=[case[0] for case in RECORD_CASES],
)
def test_hostile_record_rejected(hostile_store, path, value, expected_text):
    record = mutated(path, None, delete=True) if value is DELETE else mutated(path, value)
    # json.dumps writes a lone surrogate as the escape \ud800, as a client would send it.
    body = json.dumps({"records": [record]}).encode()

    status, _, payload = send_raw(hostile_store, request_bytes("POST", EVENTS, body))

    assert status == 400
    assert payload["error"]["reason"]
    assert len(payload["results"]) == 1
    assert payload["results"][0]["status"] == "rejected"
    assert expected_text in payload["results"][0]["reason"]


def test_hostile_garbage_request_line(hostile_store):
    status, _, payload = send_raw(hostile_store, b"GARBAGE\r\n\r\n")

    assert status == 400
    assert payload["error"]["reason"]


def test_hostile_too_many_headers(hostile_store):
    status, _, payload = send_raw(
        hostile_store, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 200 + b"\r\n"
    )

    assert status == 431
    assert payload["error"]["reason"]


def test_hostile_expect_continue_over_cap(hostile_store):
    address = urlsplit(hostile_store.url)
    request = request_bytes(
        "POST", EVENTS, headers={"Content-Length": str(MAX_BODY + 1), "Expect": "100-continue"}
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        status_line = connection.makefile("rb").readline()

    # A 100 Continue here would invite the client to send a body the store then rejects.
    assert status_line.startswith(b"HTTP/1.1 413 ")


def test_hostile_whole_body_over_cap(hostile_store):
    response = httpx.post(
        hostile_store.url + EVENTS,
        content=b"[" * (2 * MAX_BODY),
        headers={"key": KEY, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["error"]["reason"]


def test_hostile_survivor_serves_health(hostile_store):
    status, _, payload = send_raw(hostile_store, request_bytes("GET", "/healthz", key=None))

    assert status == 200
    assert payload == {"status": "ok"}


def test_hostile_survivor_applies_valid_batch(hostile_store):
    body = batch_bytes(valid_registration("survivor-registration"))

    status, _, payload = send_raw(hostile_store, request_bytes("POST", EVENTS, body))
    fetch_status, _, profile = send_raw(hostile_store, request_bytes("GET", DEVICE))

    assert status == 200
    assert payload["results"][0]["status"] == "applied"
    assert fetch_status == 200
    assert profile["attributes"]["ram"]["value"] == 1024


def test_hostile_survivor_logged_no_errors(hostile_store):
    assert hostile_store.errors == []
