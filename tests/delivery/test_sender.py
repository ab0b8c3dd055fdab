"""The sender against a real store, or a scripted proxy in front of it, on loopback."""

import json
import logging
import sqlite3
import subprocess
import threading
import time

import httpx
import pytest

from agent.errors import AgentError
from agent.outbox import Outbox
from agent.sender import Backoff, Sender
from agent.tracker import ChangeTracker

from .conftest import APP_ID, KEY, fast_store_config, final_state, registered_state, sample, store_state


def queued_state(tmp_path, updates=5):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    tracker = ChangeTracker(db)
    for value in range(updates):
        tracker.record("device-1", "interval", [sample("battery_level", value)])
    return db, outbox


def make_sender(outbox, url, key=KEY, **config):
    return Sender(outbox, url, APP_ID, key, fast_store_config(**config), backoff=Backoff(base=0.05, cap=0.2))


def test_sender_batches_at_most_100(tmp_path, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=250)
    sizes = []

    def script(number, body):
        sizes.append(len(json.loads(body)["records"]))
        return ("forward",)

    sender = make_sender(outbox, proxy_factory(script).url)
    assert sender.drain(deadline=time.monotonic() + 20)
    assert sizes == [100, 100, 51]
    assert outbox.depth() == 0


def test_sender_dead_letters_rejected_once(tmp_path, store, caplog):
    db, outbox = queued_state(tmp_path, updates=2)
    with db.transaction() as connection:
        Outbox.insert(connection, {"event_id": "bad-1", "device_id": "device-1", "sequence": -5, "type": "update", "kind": "event",
                                   "captured_at": "2026-12-04T19:00:00Z", "attributes": {"timezone": {"status": "ok", "value": "UTC", "reason": None}}})
    sender = make_sender(outbox, store.url)
    with caplog.at_level(logging.ERROR, logger="agent.sender"):
        assert sender.drain(deadline=time.monotonic() + 10)
    assert outbox.depth() == 0
    rows = db.query("SELECT event_id, reason FROM dead_letter")
    assert [row[0] for row in rows] == ["bad-1"]
    assert "sequence" in rows[0][1]
    lines = [record.getMessage() for record in caplog.records if "bad-1" in record.getMessage()]
    assert len(lines) == 1
    assert "sequence" in lines[0]


def test_sender_dead_letters_other_4xx(tmp_path, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=3)
    reason = json.dumps({"error": {"status": 422, "reason": "the app is archived"}}).encode()
    proxy = proxy_factory(lambda number, body: ("status", 422, {}, reason))
    sender = make_sender(outbox, proxy.url)
    assert sender.drain(deadline=time.monotonic() + 10)
    reasons = {row[0] for row in db.query("SELECT reason FROM dead_letter")}
    assert reasons == {"HTTP 422: the app is archived"}
    assert outbox.dead_letter_count() == 4


def test_sender_keeps_events_on_wrong_key(tmp_path, store):
    db, outbox = queued_state(tmp_path, updates=3)
    sender = make_sender(outbox, store.url, key="wrong-key")
    assert not sender.drain(deadline=time.monotonic() + 0.5)
    assert outbox.depth() == 4
    assert outbox.dead_letter_count() == 0
    assert "profile key" in sender.last_error
    assert "wrong-key" not in sender.last_error


def test_sender_halves_batch_on_413(tmp_path, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=99)
    sizes = []

    def script(number, body):
        size = len(json.loads(body)["records"])
        sizes.append(size)
        return ("status", 413, {}, b'{"error":{"status":413,"reason":"too large"}}') if size > 30 else ("forward",)

    proxy = proxy_factory(script)
    sender = make_sender(outbox, proxy.url)
    sender.backoff.base = 5.0
    assert sender.drain(deadline=time.monotonic() + 10)
    assert sizes[:3] == [100, 50, 25]
    assert outbox.dead_letter_count() == 0
    # The store is up, so smaller batches go without a backoff wait.
    assert proxy.arrivals[2] - proxy.arrivals[0] < 2.0
    assert sender.last_error is None


def test_sender_honours_retry_after(tmp_path, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=3)

    def script(number, body):
        if number == 1:
            return ("status", 429, {"Retry-After": "1"}, b'{"error":{"status":429,"reason":"slow down"}}')
        return ("forward",)

    proxy = proxy_factory(script)
    sender = make_sender(outbox, proxy.url)
    assert sender.drain(deadline=time.monotonic() + 10)
    assert proxy.arrivals[1] - proxy.arrivals[0] >= 0.95
    assert store_state(proxy.url) == final_state(db)
    assert sender.last_error is None
    assert sender.backoff.failures == 0


def test_sender_backoff_outlives_drain_calls(tmp_path, proxy_factory):
    """A store that returns 503 gets requests spaced by a growing backoff, not one every flush interval."""
    db, outbox = queued_state(tmp_path, updates=3)
    proxy = proxy_factory(lambda number, body: ("status", 503, {}, b"down"))
    sender = Sender(outbox, proxy.url, APP_ID, KEY, fast_store_config(), backoff=Backoff(base=0.2, cap=5.0))
    sender.backoff.rng.seed(7)
    stop, wakeup = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wakeup, 0.05))
    thread.start()

    # Captures keep waking the sender; the backoff must still hold.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        wakeup.set()
        time.sleep(0.01)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()

    # 3 s at a 0.05 s flush interval would be 60 requests without the backoff.
    assert 2 <= len(proxy.arrivals) <= 8
    assert sender.backoff.failures == len(proxy.arrivals)
    assert outbox.depth() == 4


def test_sender_stop_cuts_backoff_short(tmp_path, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=1)
    proxy = proxy_factory(lambda number, body: ("status", 429, {"Retry-After": "120"}, b"{}"))
    sender = make_sender(outbox, proxy.url)
    sender.backoff.cap = 300
    stop, wakeup = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wakeup, 0.05))
    thread.start()
    assert wait_for(lambda: len(proxy.arrivals) == 1)
    time.sleep(0.2)
    started = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.0
    assert sender.retry_at - time.monotonic() > 100


def test_sender_flushes_on_size_before_interval(tmp_path, store, proxy_factory):
    db, outbox = queued_state(tmp_path, updates=0)
    proxy = proxy_factory()
    sender = make_sender(outbox, proxy.url)
    stop, wakeup = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wakeup, 30.0))
    thread.start()
    try:
        assert wait_for(lambda: outbox.depth() == 0)
        tracker = ChangeTracker(db)
        for value in range(100):
            tracker.record("device-1", "interval", [sample("battery_level", value)])
        wakeup.set()
        assert wait_for(lambda: outbox.depth() == 0, timeout=5)
    finally:
        # The agent sets both on stop, because the sender may be waiting on either.
        stop.set()
        wakeup.set()
        thread.join(5)
    assert not thread.is_alive()


def test_sender_tls_verification(tmp_path, store):
    certificate, private_key = self_signed_certificate(tmp_path)
    tls_url = tls_front(store, certificate, private_key)
    db, outbox = queued_state(tmp_path, updates=2)

    unverified = make_sender(outbox, tls_url)
    assert not unverified.drain(deadline=time.monotonic() + 0.5)
    assert "CERTIFICATE_VERIFY_FAILED" in unverified.last_error
    assert outbox.depth() == 3

    trusted = make_sender(outbox, tls_url, ca_bundle=str(certificate))
    assert trusted.drain(deadline=time.monotonic() + 10)
    assert outbox.depth() == 0


def test_sender_missing_ca_bundle(tmp_path, store):
    db, outbox = queued_state(tmp_path, updates=0)
    with pytest.raises(AgentError, match="CA bundle"):
        make_sender(outbox, store.url, ca_bundle=str(tmp_path / "missing.pem"))


def test_backoff_grows_to_cap():
    backoff = Backoff(base=1.0, cap=10.0)
    backoff.rng.seed(1)
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(0 <= delay <= 10.0 for delay in delays)
    assert max(delays[6:]) > 2.0
    assert backoff.next_delay(retry_after=30) == 30.0
    assert backoff.next_delay(retry_after=86400) == 3600.0


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def self_signed_certificate(tmp_path):
    certificate, private_key = tmp_path / "store.pem", tmp_path / "store.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(private_key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    return certificate, private_key


def tls_front(store, certificate, private_key):
    """Serve the store over HTTPS on loopback through a TLS-terminating relay; return its URL."""
    import socket
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    upstream_port = int(store.url.rsplit(":", 1)[1])

    def relay(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            client, _ = listener.accept()
            try:
                secure = context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                client.close()
                continue
            backend = socket.create_connection(("127.0.0.1", upstream_port))
            threading.Thread(target=relay, args=(secure, backend), daemon=True).start()
            threading.Thread(target=relay, args=(backend, secure), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"https://127.0.0.1:{listener.getsockname()[1]}"


def test_sender_survives_outbox_error(tmp_path, store, caplog):
    db, outbox = queued_state(tmp_path, updates=2)
    sender = make_sender(outbox, store.url)
    real_pending = outbox.pending
    failures = []

    def failing_pending(limit):
        if not failures:
            failures.append(limit)
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real_pending(limit)

    outbox.pending = failing_pending
    stop, wakeup = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wakeup, 0.05))
    with caplog.at_level(logging.ERROR, logger="agent.sender"):
        thread.start()
        assert wait_for(lambda: outbox.depth() == 0)
    stop.set()
    wakeup.set()
    thread.join(5)
    assert failures == [100]
    assert any("Sending the outbox failed" in record.getMessage() for record in caplog.records)


def test_sender_halves_batch_on_real_413(tmp_path, store):
    db = registered_state(tmp_path / "agent.db")
    outbox = Outbox(db)
    tracker = ChangeTracker(db)
    # 100 events of about 30 KB each make a body well over the store's 1 MiB limit.
    for number in range(100):
        tracker.record("device-1", "event", [sample(f"attribute_{number}", "x" * 30_000)])
    sender = make_sender(outbox, store.url)
    assert sender.drain(deadline=time.monotonic() + 20)
    assert sender.batch_size < 100
    assert outbox.dead_letter_count() == 0
    assert store_state(store.url) == final_state(db)


def test_sender_registers_device_store_lost(tmp_path, store, proxy_factory, caplog):
    db, outbox = queued_state(tmp_path, updates=3)
    ChangeTracker(db).record("device-1", "event", [sample("timezone", "Asia/Tokyo")])
    proxy = proxy_factory()
    sender = make_sender(outbox, proxy.url)
    assert sender.drain(deadline=time.monotonic() + 10)

    # The store loses every profile: the proxy now forwards to an empty one.
    from agent.store.server import ProfileStoreServer

    empty = ProfileStoreServer(tmp_path / "empty-store.db", key=KEY).start()
    try:
        proxy.upstream = httpx.URL(empty.url)
        ChangeTracker(db).record("device-1", "interval", [sample("battery_level", 77)])
        with caplog.at_level(logging.WARNING, logger="agent.sender"):
            assert sender.drain(deadline=time.monotonic() + 10)
        assert outbox.dead_letter_count() == 0
        assert store_state(empty.url) == final_state(db)
        assert any("registered it again" in record.getMessage() for record in caplog.records)
    finally:
        empty.shutdown()


def test_sender_dead_letters_without_kept_registration(tmp_path, store):
    db, outbox = queued_state(tmp_path, updates=2)
    # A state database from an agent that kept no copy of the registration, whose registration was delivered.
    db.query("DELETE FROM registrations")
    db.query("DELETE FROM outbox WHERE json_extract(body, '$.type') = 'registration'")
    sender = make_sender(outbox, store.url)
    assert sender.drain(deadline=time.monotonic() + 10)
    assert outbox.dead_letter_count() == 2
    assert sender.dead_lettered == 2
    reasons = [row[0] for row in db.query("SELECT reason FROM dead_letter")]
    assert all("is not registered" in reason for reason in reasons)
