"""Fixtures for delivery tests: a real profile store, a scripted proxy in front of it, agent state."""

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent.config import StoreConfig
from agent.samples import Sample, Status
from agent.statedb import StateDB
from agent.store.server import ProfileStoreServer

KEY = "delivery-test-key"
APP_ID = "app-1"
DEVICE_ID = "device-1"
WORKTREE = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def fast_store_config(**changes):
    """A StoreConfig with timeouts short enough for tests."""
    values = {"url": "http://127.0.0.1:1", "flush_interval": 0.1, "connect_timeout": 1.0, "read_timeout": 1.0}
    values.update(changes)
    return StoreConfig(**values)


def sample(attribute, value, captured_at=None):
    return Sample(attribute, Status.OK, value, None, captured_at or datetime.now(timezone.utc))


def registered_state(path, device_id=DEVICE_ID, synchronous="FULL"):
    """Open a state database with one registered device and its registration event queued."""
    from agent.config import DeviceConfig
    from agent.registration import register

    class Source:
        def machine_id(self):
            return None

        def os_name(self):
            return "Debian GNU/Linux 12"

    db = StateDB(path, synchronous)
    device_config = DeviceConfig(platform="linux", sdk_version=None, app_id=APP_ID, user_id="user-1", device_id=device_id)
    register(db, device_config, Source())
    return db


def final_state(db, device_id=DEVICE_ID):
    """Return {attribute: payload} of the device's last values in the agent's state."""
    rows = db.query("SELECT attribute, payload FROM last_values WHERE device_id = ?", (device_id,))
    return {attribute: json.loads(payload) for attribute, payload in rows}


def store_profile(url, device_id=DEVICE_ID):
    response = httpx.get(f"{url}/resources/v2/customerappprofile/{APP_ID}/profiles/{device_id}", headers={"key": KEY}, timeout=5)
    response.raise_for_status()
    return response.json()


def store_state(url, device_id=DEVICE_ID):
    """Return {attribute: payload} from the device's profile in the store."""
    attributes = store_profile(url, device_id)["attributes"]
    return {name: {"status": entry["status"], "value": entry["value"], "reason": entry["reason"]} for name, entry in attributes.items()}


def applied_sequences(store_db, device_id=DEVICE_ID):
    """Return the sequence numbers of every event the store received from the device, once each."""
    with sqlite3.connect(store_db) as connection:
        rows = connection.execute("SELECT sequence FROM applied_events WHERE device_id = ? ORDER BY sequence", (device_id,)).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "profile-key"
    path.write_text(KEY + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def store(tmp_path):
    server = ProfileStoreServer(tmp_path / "store.db", key=KEY).start()
    yield server
    server.shutdown()


class FaultProxy:
    """An HTTP server in front of the store that responds to each request as its script returns.

    script(request_number, body) returns one of:
      ("forward",)                        pass the request through
      ("status", code, headers, body)     respond without forwarding to the store
      ("forward_then", code, body)        let the store apply it, then respond with this instead
      ("forward_slowly", seconds)         let the store apply it, then wait before responding
    Every result the store returned, and when each request arrived, is recorded.
    """

    def __init__(self, upstream_url, script=None):
        self.upstream = httpx.URL(upstream_url)
        self.script = script or (lambda number, body: ("forward",))
        self.statuses = []  # (event_id, status) the store returned, whatever the agent saw
        self.arrivals = []  # monotonic time of each POST
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def applied_twice(self):
        counts = Counter(event_id for event_id, status in self.statuses if status == "applied")
        return sorted(event_id for event_id, count in counts.items() if count > 1)

    def forward(self, method, path, headers, body):
        connection = http.client.HTTPConnection(self.upstream.host, self.upstream.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        try:
            results = json.loads(payload).get("results") or []
        except (ValueError, AttributeError):
            results = []
        with self.lock:
            self.statuses.extend((item.get("event_id"), item.get("status")) for item in results)
        return response.status, dict(response.getheaders()), payload

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                status, headers, payload = proxy.forward("GET", self.path, {"key": self.headers.get("key", "")}, None)
                self.answer(status, {"Retry-After": headers.get("Retry-After")}, payload)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    proxy.arrivals.append(time.monotonic())
                    number = len(proxy.arrivals)
                action = proxy.script(number, body)
                forward_headers = {"key": self.headers.get("key", ""), "Content-Type": "application/json"}
                if action[0] == "status":
                    _, code, headers, payload = action
                    self.answer(code, headers, payload)
                    return
                status, headers, payload = proxy.forward("POST", self.path, forward_headers, body)
                if action[0] == "forward_then":
                    status, payload = action[1], action[2]
                elif action[0] == "forward_slowly":
                    time.sleep(action[1])
                self.answer(status, {"Retry-After": headers.get("Retry-After")}, payload)

            def answer(self, status, headers, payload):
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        if value is not None:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the agent stopped waiting, which is what a slow response tests

        return Handler


@pytest.fixture
def proxy_factory(store):
    proxies = []

    def make(script=None, upstream=None):
        proxy = FaultProxy(upstream or store.url, script).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StoreProcess:
    """The profile store as a separate process, which a test can kill and restart on the same port."""

    def __init__(self, db, key_file, port=None):
        self.db = db
        self.key_file = key_file
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        environ = dict(os.environ, PYTHONPATH=str(WORKTREE))
        self.process = subprocess.Popen(
            [PYTHON, "-m", "agent.store.command", "--db", str(self.db), "--port", str(self.port), "--key-file", str(self.key_file), "--log-level", "warning"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environ, text=True,
        )
        line = self.process.stdout.readline()
        assert "listening on" in line, f"profile store did not start: {line!r}"
        return self

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def store_process(tmp_path, key_file):
    process = StoreProcess(tmp_path / "store-process.db", key_file)
    yield process
    process.stop()


def wait_until(condition, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
