"""The profile store server: an HTTP front on a SQLite profile database."""

import logging
import socket
import socketserver
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer

from agent.errors import StoreError
from agent.store import DEFAULT_MAX_BODY
from agent.store.db import ProfileDatabase
from agent.store.http import StoreRequestHandler
from agent.store.logs import RepeatLimitedLog
from agent.store.ratelimit import RateLimiter

log = logging.getLogger("agent.store")

# Bounds of the lingering close: how long, and how many bytes, the store reads
# from a client after its last response before closing the connection.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 4 << 20
# How often serve_forever() checks for shutdown(), in seconds. shutdown() wakes
# the loop at once, so this only bounds the wait where that wake-up fails.
# A long interval keeps an idle store from waking the CPU.
POLL_INTERVAL = 5.0


class StoreHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the store's state for its handlers."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, db, key, max_body, limiter):
        self.db = db
        self.key = key
        self.max_body = max_body
        self.limiter = limiter
        self.client_errors = RepeatLimitedLog(log)
        self._connections = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, StoreRequestHandler)

    def server_bind(self):
        # HTTPServer.server_bind() looks up the host's FQDN, which can stall for
        # seconds without working DNS, and the store never uses that name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @staticmethod
    def clock():
        return datetime.now(timezone.utc)

    def finish_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def wake(self):
        """Make serve_forever() return from select() at once, so shutdown() need not wait a poll interval.

        On Linux, shutting down a listening socket makes it readable and
        accept() then fails, which socketserver ignores. Elsewhere this may
        raise, and serve_forever() notices shutdown() within POLL_INTERVAL.
        """
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError as error:
            log.debug("cannot wake the serving loop, shutdown waits up to %gs: %s", POLL_INTERVAL, error)

    def shutdown_request(self, request):
        # Lingering close: reading what the client still sends (an unread body
        # after 413, the rest of a 414 request line) keeps the kernel from
        # responding to those bytes with a reset, which can discard the response.
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_MAX_BYTES and time.monotonic() < deadline:
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass  # the client closed or reset the connection first
        self.close_request(request)

    def close_connections(self):
        """Shut down open client connections so their handler threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def handle_error(self, request, client_address):
        # A client that resets its connection or stalls is routine; anything else is a bug.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s failed: %s", client_address[0], error)
        else:
            log.exception("connection from %s failed", client_address[0])


class ProfileStoreServer:
    """The profile store: serves the HTTP API on host:port from the SQLite file db_path.

    key is the profile key clients must send in the key header, as str or
    bytes; None turns authentication off. max_body caps a request body in
    bytes, and rate_limit, if set, caps each device at that many events per
    second.
    """

    def __init__(self, db_path, host="127.0.0.1", port=0, key=None, *,
                 max_body=DEFAULT_MAX_BODY, rate_limit=None, cache_kib=None):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if key is not None and not key:
            raise ValueError("key is empty; pass the profile key, or None to turn authentication off")
        if not isinstance(max_body, int) or max_body < 1:
            raise ValueError(f"max_body must be a positive number of bytes, got {max_body!r}")
        self.db_path = db_path
        self.host = host
        self.port = port
        self.key = key
        self.max_body = max_body
        self.limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        # SQLite's page cache per connection in KiB; None keeps SQLite's default of 2 MiB.
        self.cache_kib = cache_kib
        self._httpd = None
        self._db = None
        self._thread = None
        self._serving = False

    @property
    def url(self):
        if self._httpd is None:
            raise RuntimeError("the profile store is not started; call start() first")
        host, port = self._httpd.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def bind(self):
        """Open the database and bind the listening socket; raise StoreError on failure."""
        if self._httpd is not None:
            return self
        self._db = ProfileDatabase(self.db_path, cache_kib=self.cache_kib)
        try:
            self._httpd = StoreHTTPServer(
                (self.host, self.port), self._db, self.key, self.max_body, self.limiter
            )
        except OSError as error:
            self._db.close()
            self._db = None
            raise StoreError(
                f"cannot listen on {self.host}:{self.port}: {error.strerror or error}; "
                "check --host, and pick another --port if another process uses this one"
            ) from None
        log.info(
            "profile store listening on %s (database %s, authentication %s, rate limit %s)",
            self.url, self.db_path, "on" if self.key is not None else "off",
            f"{self.limiter.rate:g} events/s per device" if self.limiter else "off",
        )
        return self

    def start(self):
        """Bind and serve in a daemon thread; return self. Calling it again does nothing."""
        if self._thread is not None:
            return self
        self.bind()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_INTERVAL,), name="profile-store",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self):
        """Bind if needed and serve in the calling thread until shutdown() is called."""
        self.bind()
        self._serving = True
        self._httpd.serve_forever(POLL_INTERVAL)

    def shutdown(self):
        """Stop serving, close client connections and close the database."""
        if self._httpd is None:
            return
        httpd, self._httpd = self._httpd, None
        # socketserver's shutdown() waits for serve_forever(), so it would hang
        # on a server that was bound but never served.
        if self._serving or self._thread is not None:
            httpd.wake()
            httpd.shutdown()
        self._serving = False
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._db.close()
        self._db = None
        log.info("profile store stopped")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.shutdown()
