"""Registering a device again when the store lost it, while the store misbehaves.

Each test drives the agent's Sender against a scripted store on loopback
that rejects every update as not_registered and fails the registration
that the sender sends to repair the profile.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.outbox import Outbox
from agent.sender import Backoff, Sender
from agent.tracker import ChangeTracker
from tests.delivery.conftest import APP_ID, KEY, fast_store_config, registered_state, sample


class LostProfileStore:
    """A store that has no profile for any device and fails registrations as `on_registration` says.

    on_registration is "503" (respond 503), "close" (close the connection
    without a response) or "hang" (never respond until the server stops).
    """

    def __init__(self, on_registration):
        self.on_registration = on_registration
        self.registration_requests = 0
        self.update_requests = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                records = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["records"]
                if any(record["type"] == "registration" for record in records):
                    with store.lock:
                        store.registration_requests += 1
                    self.fail_registration()
                    return
                with store.lock:
                    store.update_requests += 1
                results = [
                    {"event_id": record["event_id"], "status": "rejected", "reason": "device is not registered", "code": "not_registered"}
                    for record in records
                ]
                self.respond(200, {"results": results})

            def fail_registration(self):
                if store.on_registration == "503":
                    self.respond(503, {"error": {"reason": "store is restarting"}})
                elif store.on_registration == "close":
                    self.close_connection = True
                elif store.on_registration == "hang":
                    store.stopped.wait(30)
                    self.close_connection = True

            def respond(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def delivered_state(tmp_path):
    """Return (db, outbox) with the registration already delivered and one update queued."""
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    # The store acknowledged the first registration before it lost the profile.
    db.query("DELETE FROM outbox")
    ChangeTracker(db).record("device-1", "event", [sample("timezone", "Asia/Tokyo")])
    return db, outbox


def make_sender(outbox, url, **config):
    return Sender(outbox, url, APP_ID, KEY, fast_store_config(**config), backoff=Backoff(base=0.05, cap=0.2))


def test_register_again_503_keeps_events(tmp_path):
    db, outbox = delivered_state(tmp_path)

    with LostProfileStore("503") as store:
        sender = make_sender(outbox, store.url)
        sender.drain(deadline=time.monotonic() + 2)

    # A 503 is retried everywhere else, so the update must wait in the outbox for the next attempt.
    assert outbox.dead_letter_count() == 0
    assert outbox.depth() == 1


def test_register_again_closed_connection_backs_off(tmp_path):
    db, outbox = delivered_state(tmp_path)

    with LostProfileStore("close") as store:
        sender = make_sender(outbox, store.url)
        sender.drain(deadline=time.monotonic() + 2)
        requests = store.registration_requests + store.update_requests

    # Backoff with base 0.05 s and cap 0.2 s allows a few dozen requests in 2 s, and the current code sends hundreds.
    assert requests <= 100, f"{requests} requests in 2 s"
    assert outbox.depth() == 1


def test_register_again_honours_drain_deadline(tmp_path):
    db, outbox = delivered_state(tmp_path)

    with LostProfileStore("hang") as store:
        sender = make_sender(outbox, store.url, read_timeout=10.0, connect_timeout=10.0)
        started = time.monotonic()
        sender.drain(deadline=started + 1.0)
        elapsed = time.monotonic() - started

    # Stopping relies on this: no request of a flush with a deadline outlasts it.
    assert elapsed < 3.0, f"drain with a 1 s deadline took {elapsed:.1f} s"
    assert store.registration_requests == 1


@pytest.fixture(autouse=True)
def _bounded(request):
    started = time.monotonic()
    yield
    assert time.monotonic() - started < 30, f"{request.node.name} ran for more than 30 s"
