"""Attack a local profile store over HTTP on 127.0.0.1 and report what broke.

Starts `device-agent store serve` with a key file on a free port, sends
malformed and hostile requests over raw sockets, runs concurrent writers,
then checks that the store still serves, that no response was 5xx and that
per-attribute values follow the highest sequence. Exits 1 on any finding.
"""

import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/work/main/.venv/bin/python"
KEY = "qa-secret-key-0123456789"
APP = "qa-app"
findings = []
statuses = []


def finding(text):
    findings.append(text)
    print("FINDING:", text, flush=True)


def start_store(workdir):
    key_file = os.path.join(workdir, "key")
    with open(key_file, "w") as stream:
        stream.write(KEY + "\n")
    os.chmod(key_file, 0o600)
    log = open(os.path.join(workdir, "store.log"), "w+")
    process = subprocess.Popen(
        [PYTHON, "-m", "agent", "store", "serve", "--db", os.path.join(workdir, "store.db"),
         "--port", "0", "--key-file", key_file, "--log-level", "debug"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        log.seek(0)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", log.read())
        if match:
            return process, int(match.group(1)), log
        time.sleep(0.1)
    process.kill()
    raise SystemExit("store did not start: " + open(log.name).read())


def raw(port, data, timeout=5.0, read_all=True):
    """Send raw bytes and return everything the server sends back until it closes or times out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if not read_all:
                    break
        except socket.timeout:
            pass
    text = b"".join(chunks)
    for code in re.findall(rb"HTTP/1\.[01] (\d{3})", text):
        statuses.append(int(code))
    return text


def request(port, method, path, body=None, headers=None, key=KEY):
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if key is not None:
        lines.append(f"key: {key}")
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
        lines.append("Content-Type: application/json")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    answer = raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + payload)
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    status = int(match.group(1)) if match else None
    body_text = answer.split(b"\r\n\r\n", 1)[-1]
    return status, body_text


def now():
    return datetime.now(timezone.utc).isoformat()


def registration(device_id, sequence=1, event_id=None):
    return {
        "event_id": event_id or uuid.uuid4().hex, "device_id": device_id, "sequence": sequence,
        "type": "registration", "kind": None, "captured_at": now(), "attributes": {},
        "profile": {"userId": "u", "os": "linux", "platform": "linux", "createdOn": now()},
    }


def update(device_id, sequence, value, event_id=None, name="timezone"):
    return {
        "event_id": event_id or uuid.uuid4().hex, "device_id": device_id, "sequence": sequence,
        "type": "update", "kind": "event", "captured_at": now(),
        "attributes": {name: {"status": "ok", "value": value}},
    }


EVENTS = f"/resources/v2/customerappprofile/{APP}/events"
PROFILES = f"/resources/v2/customerappprofile/{APP}/profiles"


def check(label, status, body, expect):
    if status is None or status >= 500 or status not in expect:
        finding(f"{label}: status {status} (expected {expect}) body {body[:200]!r}")


def attack_bodies(port):
    cases = [
        ("malformed json", b"{", (400,)),
        ("json array", b"[]", (400,)),
        ("records string", {"records": "x"}, (400,)),
        ("records null", {"records": None}, (400,)),
        ("record int", {"records": [1]}, (400,)),
        ("records 101", {"records": [update("d", i + 1, "x") for i in range(101)]}, (400,)),
        ("sequence float", {"records": [update("d", 1.5, "x")]}, (400,)),
        ("sequence huge", {"records": [update("d", 2 ** 70, "x")]}, (400,)),
        ("sequence negative", {"records": [update("d", -1, "x")]}, (400,)),
        ("sequence bool", {"records": [update("d", True, "x")]}, (400,)),
        ("nan", b'{"records": [NaN]}', (400,)),
        ("big int", b'{"records": [' + b"9" * 5000 + b"]}", (400,)),
        ("deep nesting", b'{"records": ' + b"[" * 100000 + b"]" * 100000 + b"}", (400, 413)),
        ("invalid utf8", b'{"records": ["\xff"]}', (400,)),
        ("lone surrogate", b'{"records": [{"event_id": "\\ud800"}]}', (400,)),
        ("unicode id", {"records": [update("d\u00e9vice", 1, "x")]}, (400,)),
        ("captured_at garbage", {"records": [{**update("d", 1, "x"), "captured_at": "9999-99-99T99:99:99Z"}]}, (400,)),
        ("captured_at year 0", {"records": [{**update("d", 1, "x"), "captured_at": "0000-01-01T00:00:00Z"}]}, (400,)),
        ("captured_at offset 99", {"records": [{**update("d", 1, "x"), "captured_at": "2020-01-01T00:00:00+99:99"}]}, (400,)),
        ("captured_at year 9999 max offset", {"records": [{**update("d", 1, "x"), "captured_at": "9999-12-31T23:59:59-23:59"}]}, (400, 200)),
        ("captured_at year 0001 plus offset", {"records": [{**update("d", 1, "x"), "captured_at": "0001-01-01T00:00:00+23:59"}]}, (400, 200)),
        ("captured_at 10 digit fraction", {"records": [{**update("d", 1, "x"), "captured_at": "2020-01-01T00:00:00.1234567891Z"}]}, (400,)),
        ("attribute name upper", {"records": [update("d", 1, "x", name="TZ")]}, (400,)),
        ("value huge", {"records": [update("d", 1, "x" * 70000)]}, (400, 413)),
        ("value deep", {"records": [update("d", 1, json.loads("[" * 40 + "]" * 40))]}, (400,)),
        ("extra top field", {"records": [], "x": 1}, (400,)),
        ("empty records", {"records": []}, (400,)),
        ("profile on update", {"records": [{**update("d", 1, "x"), "profile": 5}]}, (200, 400)),
        ("registration bad profile", {"records": [{**registration("d"), "profile": {"userId": 5}}]}, (400,)),
        ("registration createdOn garbage", {"records": [{**registration("dz"), "profile": {"userId": "u", "os": "l", "platform": "l", "createdOn": "x"}}]}, (400,)),
    ]
    for label, body, expect in cases:
        status, text = request(port, "POST", EVENTS, body)
        check(label, status, text, expect)


def attack_http(port):
    body = json.dumps({"records": [update("dh", 1, "x")]}).encode()
    tests = [
        ("wrong key", lambda: request(port, "POST", EVENTS, {"records": []}, key="nope"), (401,)),
        ("missing key", lambda: request(port, "POST", EVENTS, {"records": []}, key=None), (401,)),
        ("non-ascii key", lambda: request(port, "GET", PROFILES, key="k\u00e9y"), (401,)),
        ("path dotdot", lambda: request(port, "GET", "/resources/v2/customerappprofile/../profiles"), (400, 404)),
        ("path encoded slash", lambda: request(port, "GET", "/resources/v2/customerappprofile/a%2Fb/profiles"), (400,)),
        ("path bad percent", lambda: request(port, "GET", "/resources/v2/customerappprofile/%ff/profiles"), (400,)),
        ("path absolute url", lambda: request(port, "GET", "http://127.0.0.1/healthz"), (400, 404)),
        ("path unicode", lambda: request(port, "GET", "/resources/v2/customerappprofile/\u00e9/profiles"), (400,)),
        ("path huge", lambda: request(port, "GET", "/" + "a" * 70000), (400, 404, 414, 431)),
        ("query limit 0", lambda: request(port, "GET", PROFILES + "?limit=0"), (400,)),
        ("query after bad", lambda: request(port, "GET", PROFILES + "?after=%00"), (400,)),
        ("query many", lambda: request(port, "GET", PROFILES + "?" + "&".join(f"a{i}=1" for i in range(50))), (400,)),
        ("method BREW", lambda: request(port, "BREW", EVENTS), (405,)),
        ("method DELETE", lambda: request(port, "DELETE", EVENTS), (405,)),
        ("content-length negative", lambda: request(port, "POST", EVENTS, headers={"Content-Length": "-1"}), (400,)),
        ("content-length huge", lambda: request(port, "POST", EVENTS, headers={"Content-Length": "99999999999"}), (413,)),
        ("content-length conflict", lambda: (raw(port, f"POST {EVENTS} HTTP/1.1\r\nkey: {KEY}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{{}}".encode()), None), (400,)),
        ("missing content-length", lambda: (raw(port, f"POST {EVENTS} HTTP/1.1\r\nkey: {KEY}\r\nConnection: close\r\n\r\n".encode() + body), None), (411,)),
        ("chunked", lambda: (raw(port, f"POST {EVENTS} HTTP/1.1\r\nkey: {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"), None), (411,)),
        ("http/1.0", lambda: (raw(port, f"POST {EVENTS} HTTP/1.0\r\nkey: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body), None), (200,)),
        ("http/0.9", lambda: (raw(port, b"GET /healthz\r\n"), None), (400,)),
        ("http/2 preface", lambda: (raw(port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), None), (400, 405, 505)),
        ("header too many", lambda: (raw(port, b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"), None), (431, 400)),
        ("header line huge", lambda: (raw(port, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n"), None), (431, 400)),
        ("binary request line", lambda: (raw(port, os.urandom(200) + b"\r\n\r\n"), None), (400,)),
    ]
    for label, call, expect in tests:
        result = call()
        if isinstance(result, tuple) and result[1] is None:
            text = result[0]
            match = re.match(rb"HTTP/1\.[01] (\d{3})", text)
            status = int(match.group(1)) if match else None
            check(label, status, text, expect)
        else:
            status, text = result
            check(label, status, text, expect)


def attack_pipelined(port):
    one = json.dumps({"records": [update("dp", 1, "x")]}).encode()
    message = f"POST {EVENTS} HTTP/1.1\r\nkey: {KEY}\r\nContent-Length: {len(one)}\r\n\r\n".encode() + one
    text = raw(port, message * 5 + f"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
    count = len(re.findall(rb"HTTP/1\.1 \d{3}", text))
    if count != 6:
        finding(f"pipelined: expected 6 answers, got {count}: {text[:300]!r}")
    # A 4xx with a pending body followed by a pipelined request: the second must not be parsed from the body.
    smuggle = b'GET /healthz HTTP/1.1\r\n\r\n'
    text = raw(port, f"POST {EVENTS} HTTP/1.1\r\nkey: wrong\r\nContent-Length: {len(smuggle)}\r\n\r\n".encode() + smuggle)
    if len(re.findall(rb"HTTP/1\.1 \d{3}", text)) != 1:
        finding(f"request smuggling: body of a rejected request was parsed as a request: {text[:300]!r}")


def attack_slow(port):
    """Open a few slow connections (headers and bodies a byte at a time) and check healthz meanwhile."""
    stop = time.monotonic() + 4
    socks = []
    for index in range(6):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if index % 2:
            sock.sendall(f"POST {EVENTS} HTTP/1.1\r\nkey: {KEY}\r\nContent-Length: 1000\r\n\r\n{{".encode())
        else:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        socks.append(sock)
    while time.monotonic() < stop:
        for sock in socks:
            try:
                sock.sendall(b"a")
            except OSError:
                pass
        started = time.monotonic()
        status, _ = request(port, "GET", "/healthz")
        elapsed = time.monotonic() - started
        if status != 200 or elapsed > 1:
            finding(f"slowloris: healthz answered {status} in {elapsed:.1f}s while 6 slow connections are open")
            break
        time.sleep(0.3)
    for sock in socks:
        sock.close()


def concurrent_writers(port, threads=8, batches=200):
    """threads x batches posts over keep-alive connections; return statuses and expected final values."""
    errors = []
    lock = threading.Lock()
    highest = {}

    def worker(index):
        device = f"cw-{index % 4}"  # two threads share each device
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        reader = sock.makefile("rb")
        try:
            for batch in range(batches):
                records = []
                for item in range(5):
                    sequence = random.randint(1, 10_000_000)
                    value = f"{device}-{sequence}"
                    records.append(update(device, sequence, value))
                    with lock:
                        if sequence >= highest.get(device, (0, None))[0]:
                            highest[device] = (sequence, value)
                # Send each batch twice (a duplicate post, as after a lost acknowledgement).
                payload = json.dumps({"records": records}).encode()
                for _ in range(2):
                    sock.sendall(f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nkey: {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
                    status_line = reader.readline()
                    length = 0
                    while True:
                        line = reader.readline()
                        if line in (b"\r\n", b""):
                            break
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    reader.read(length)
                    code = int(status_line.split()[1]) if status_line else None
                    with lock:
                        statuses.append(code)
                    if code != 200:
                        errors.append((device, code, status_line))
        finally:
            sock.close()

    for device in range(4):
        request(port, "POST", EVENTS, {"records": [registration(f"cw-{device}")]})
    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    started = time.monotonic()
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join(120)
    elapsed = time.monotonic() - started
    print(f"concurrent writers: {threads}x{batches}x2 posts in {elapsed:.1f}s, {len(errors)} non-200")
    for error in errors[:5]:
        finding(f"concurrent writers: {error}")
    for device, (sequence, value) in highest.items():
        status, text = request(port, "GET", f"{PROFILES}/{device}")
        profile = json.loads(text)
        attribute = profile.get("attributes", {}).get("timezone", {})
        if attribute.get("value") != value:
            finding(f"last writer wins: {device} has {attribute} but the highest sequence {sequence} sent {value!r}")


def duplicate_ids(port):
    """Same event id posted concurrently with different payloads: applied once."""
    request(port, "POST", EVENTS, {"records": [registration("dup")]})
    event_id = uuid.uuid4().hex
    results = []

    def post(value):
        results.append(request(port, "POST", EVENTS, {"records": [update("dup", 5, value, event_id=event_id)]}))

    workers = [threading.Thread(target=post, args=(f"v{i}",)) for i in range(16)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join(30)
    applied = sum(1 for status, text in results if b'"applied"' in text)
    if applied != 1:
        finding(f"idempotency: event {event_id} applied {applied} times: {[text[:120] for _, text in results[:3]]}")
    # Same event id reused for another device.
    status, text = request(port, "POST", EVENTS, {"records": [registration("dup2"), update("dup2", 6, "other", event_id=event_id)]})
    print("event id reused on another device:", status, text[:300])


def main():
    workdir = tempfile.mkdtemp(prefix="qa-store.")
    process, port, log = start_store(workdir)
    print("store on port", port, "dir", workdir)
    try:
        attack_bodies(port)
        attack_http(port)
        attack_pipelined(port)
        attack_slow(port)
        duplicate_ids(port)
        concurrent_writers(port)
        status, _ = request(port, "GET", "/healthz")
        if status != 200:
            finding(f"store no longer serves: healthz {status}")
        if process.poll() is not None:
            finding(f"store exited with {process.returncode}")
        fives = [code for code in statuses if code and code >= 500]
        if fives:
            finding(f"{len(fives)} answers were 5xx: {sorted(set(fives))}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            finding("store did not stop within 10 s of SIGTERM")
            process.kill()
        log.seek(0)
        text = log.read()
        if "Traceback" in text:
            finding("store log has a traceback: " + text[text.index("Traceback"):][:1500])
        if KEY in text:
            finding("store log contains the profile key")
        print("store exit code", process.returncode, "log lines", text.count("\n"), "log", log.name)
    print(f"{len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
