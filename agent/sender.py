"""The sender: delivers the outbox to the profile store in batches over HTTP.

Events leave the outbox only when the store acknowledged them (applied,
duplicate or stale) or rejected them for good (a 4xx that retrying cannot
fix), in which case they move to the dead-letter table with the store's
reason. Everything else is retried, which is safe because the store
applies each event id once.

401 and 403 are the exception to "other 4xx are dead-lettered": a wrong
or revoked key would otherwise dead-letter every event the device has,
while the operator can fix the key and the events then go through.
"""

import email.utils
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx

from agent.errors import AgentError

log = logging.getLogger("agent.sender")

ACKNOWLEDGED = {"applied", "duplicate", "stale"}
REJECTED = "rejected"
MAX_BATCH = 100
# Statuses that mean "try again later". 401 and 403 are retried too, because a key fix makes them pass.
RETRIED_STATUSES = {401, 403, 408, 425, 429}

# Outcomes of registering a device again after the store lost its profile.
REGISTRATION_DONE = "registered"
REGISTRATION_DEFERRED = "deferred"
REGISTRATION_REFUSED = "refused"
# The code of a rejection because the store has no profile for the device.
NOT_REGISTERED = "not_registered"
# Seconds within which a device is not registered again, so a store that keeps forgetting it cannot cause a loop.
REGISTER_AGAIN_INTERVAL = 60.0
# A Retry-After beyond this many seconds is taken as a mistake and shortened to it.
MAX_RETRY_AFTER = 3600.0


@dataclass
class BatchResult:
    sent: int = 0
    acknowledged: int = 0
    dead_lettered: int = 0
    retry_after: float | None = None
    error: str | None = None
    retry: bool = False


@dataclass
class Backoff:
    """Exponential backoff with full jitter, stretched to the store's Retry-After; seconds."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, retry_after=None):
        self.failures += 1
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (self.failures - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    def reset(self):
        self.failures = 0


class Sender:
    """Sends the outbox in batches; one thread at a time may call drain() or run()."""

    def __init__(self, outbox, store_url, app_id, key, store_config, transport=None, backoff=None):
        self.outbox = outbox
        self.endpoint = f"{store_url.rstrip('/')}/resources/v2/customerappprofile/{app_id}/events"
        self.batch_size = min(store_config.batch_size, MAX_BATCH)
        self.backoff = backoff or Backoff()
        self.last_delivery = None
        self.last_error = None
        # Monotonic time before which no request is sent; it outlives drain() calls.
        self.retry_at = 0.0
        self.dead_lettered = 0  # events this sender moved to the dead-letter table
        self._registered_again = {}  # device id -> monotonic time of its last new registration
        self._key = key
        self._read_timeout = store_config.read_timeout
        self._connect_timeout = store_config.connect_timeout
        self._timeout = httpx.Timeout(store_config.read_timeout, connect=store_config.connect_timeout)
        self._client = httpx.Client(
            timeout=self._timeout,
            verify=tls_context(store_config.ca_bundle) if store_url.startswith("https:") or store_config.ca_bundle else _plain_http_context(),
            transport=transport,
        )

    def close(self):
        self._client.close()

    def run(self, stop, wakeup, flush_interval):
        """Send until stop is set: each flush interval, or sooner when wakeup is set, backing off on failures.

        flush_interval is in seconds, or a function returning them that is
        called each round.
        """
        interval = flush_interval if callable(flush_interval) else lambda: flush_interval
        while not stop.is_set():
            try:
                drained = self.drain(stop=stop)
            except Exception:  # noqa: BLE001 - a dead sender thread would stop delivery until a restart
                log.exception("Sending the outbox failed; retrying with backoff")
                self.retry_at = time.monotonic() + self.backoff.next_delay()
                continue
            if drained:
                wakeup.wait(interval())
                wakeup.clear()

    def drain(self, deadline=None, stop=None):
        """Send batches until the outbox is empty or the deadline passes; return True when empty.

        A backoff left by an earlier call is honoured, so calling drain()
        in a loop does not send faster than the backoff allows. Setting
        stop ends a backoff wait early, but captures that fill the outbox
        meanwhile do not. With a deadline, no request outlasts it.
        """
        stop = stop or threading.Event()
        while True:
            if not self._wait_for_retry(deadline, stop):
                return False
            result = self.send_batch(deadline)
            if result.sent == 0:
                return self.outbox.depth() == 0
            if result.retry:
                self.retry_at = time.monotonic() + self.backoff.next_delay(result.retry_after)
            else:
                self._recovered()
            if deadline is not None and time.monotonic() > deadline:
                return self.outbox.depth() == 0

    def _recovered(self):
        if self.backoff.failures:
            log.info("Delivery to the profile store works again after %d failed attempts", self.backoff.failures)
        self.last_error = None
        self.backoff.reset()
        self.retry_at = 0.0

    def _wait_for_retry(self, deadline, stop):
        """Wait out the backoff; return False when stop is set or the backoff ends after the deadline."""
        if stop.is_set():
            return False
        delay = self.retry_at - time.monotonic()
        if delay <= 0:
            return True
        if deadline is not None and self.retry_at > deadline:
            return False
        return not stop.wait(delay)

    def send_batch(self, deadline=None):
        """Send the oldest batch; with a deadline, the request times out by then at the latest."""
        timeout = self._timeout
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return BatchResult()
            timeout = httpx.Timeout(min(self._read_timeout, remaining), connect=min(self._connect_timeout, remaining))
        batch = self.outbox.pending(self.batch_size)
        if not batch:
            return BatchResult()
        # The bodies go out as stored, which saves parsing and re-encoding each one.
        content = '{"records":[' + ",".join(event.text for event in batch) + "]}"
        try:
            response = self._client.post(self.endpoint, content=content.encode("utf-8"), headers=self._headers(), timeout=timeout)
        except httpx.HTTPError as error:
            return self._failed(batch, f"cannot reach the profile store at {self.endpoint}: {type(error).__name__}: {error}")
        return self._handle(batch, response, timeout)

    def _handle(self, batch, response, timeout=None):
        status = response.status_code
        body = _json_or_none(response)
        results = body.get("results") if isinstance(body, dict) else None
        if status == 200 or (status == 400 and isinstance(results, list) and len(results) == len(batch)):
            return self._settle(batch, results if isinstance(results, list) else [], timeout)
        reason = _error_reason(body) or response.text[:200] or f"HTTP {status}"
        if status == 413 and len(batch) > 1:
            # A smaller batch can go at once, because the store is up.
            self.batch_size = max(1, len(batch) // 2)
            self.outbox.record_attempt(batch)
            log.warning("Profile store rejected a batch of %d events as too large; sending batches of %d from now on", len(batch), self.batch_size)
            return BatchResult(sent=len(batch))
        if status in (401, 403):
            return self._failed(batch, f"the profile store rejected the profile key (HTTP {status}); fix the key, events are kept meanwhile")
        if status in RETRIED_STATUSES or status >= 500 or status < 400:
            return self._failed(batch, f"profile store answered HTTP {status}: {reason}", _retry_after(response))
        self._dead_letter([(event, f"HTTP {status}: {reason}") for event in batch])
        return BatchResult(sent=len(batch), dead_lettered=len(batch))

    def _settle(self, batch, results, timeout=None):
        by_id = {item.get("event_id"): item for item in results if isinstance(item, dict)}
        acknowledged, rejected, unknown = [], [], []
        unregistered = set()
        for event in batch:
            item = by_id.get(event.event_id)
            status = item.get("status") if item else None
            if status in ACKNOWLEDGED:
                acknowledged.append(event)
            elif status == REJECTED:
                rejected.append((event, str(item.get("reason") or "no reason given")))
                if item.get("code") == NOT_REGISTERED:
                    unregistered.add(event.device_id)
            else:
                unknown.append(event)

        if acknowledged:
            self.outbox.acknowledge(acknowledged)
        rejected, resending, failure = self._register_lost_devices(rejected, unregistered, timeout)
        if rejected:
            self._dead_letter(rejected)
        if acknowledged or rejected or resending:
            self.last_delivery = time.time()

        result = BatchResult(sent=len(batch), acknowledged=len(acknowledged), dead_lettered=len(rejected))
        if failure is not None:
            # The new registration did not go through for now: its events stay and the sender backs off.
            error, retry_after = failure
            failed = self._failed([event for event in batch if event.device_id in unregistered], error, retry_after)
            result.retry, result.error, result.retry_after = True, failed.error, failed.retry_after
            return result
        if unknown:
            # Events the response leaves out or gives no status are retried, because the store applies each id once.
            result.retry = True
            result.error = f"store answer gave no status for {len(unknown)} of {len(batch)} events; retrying them"
            self._failed(unknown, result.error)
        return result

    def _register_lost_devices(self, rejected, lost, timeout=None):
        """Register again the devices the store has no profile for.

        Return the events still rejected, the count kept for resending, and
        (error, retry_after) when a registration failed in a way worth retrying.
        """
        kept, failure = set(), None
        for device_id in lost:
            outcome, detail = self._register_again(device_id, timeout)
            if outcome != REGISTRATION_REFUSED:
                kept.add(device_id)
            if outcome == REGISTRATION_DEFERRED and failure is None:
                failure = detail
        still_rejected = [(event, reason) for event, reason in rejected if event.device_id not in kept]
        return still_rejected, len(rejected) - len(still_rejected), failure

    def _register_again(self, device_id, timeout=None):
        """Send a new registration for a device whose profile the store lost.

        Return (outcome, detail). The outcome is registered, or deferred with
        detail (error, retry_after) when the store is unreachable or returned a
        status worth retrying, or refused, which dead-letters the device's
        rejected events.
        """
        # A device whose profile is missing again right after registering would loop, so its events are dead-lettered.
        last = self._registered_again.get(device_id)
        if last is not None and time.monotonic() - last < REGISTER_AGAIN_INTERVAL:
            return REGISTRATION_REFUSED, None
        event = self.outbox.registration_again(device_id)
        if event is None:
            return REGISTRATION_REFUSED, None
        try:
            response = self._client.post(self.endpoint, json={"records": [event]}, headers=self._headers(), timeout=timeout or self._timeout)
        except httpx.HTTPError as error:
            return REGISTRATION_DEFERRED, (f"registering device {device_id} again failed: {type(error).__name__}: {error}", None)
        status = response.status_code
        body = _json_or_none(response)
        results = body.get("results") if isinstance(body, dict) and status == 200 else None
        statuses = [item.get("status") for item in results or [] if isinstance(item, dict)]
        if statuses and statuses[0] in ACKNOWLEDGED:
            self._registered_again[device_id] = time.monotonic()
            log.warning(
                "Profile store had no profile for device %s; registered it again with its %d last values and resending its events",
                device_id, len(event["attributes"]),
            )
            return REGISTRATION_DONE, None
        if status in RETRIED_STATUSES or status >= 500 or status == 200:
            return REGISTRATION_DEFERRED, (f"registering device {device_id} again got HTTP {status}; its events stay in the outbox", _retry_after(response))
        log.error("Profile store rejected the new registration of device %s (HTTP %d: %s); dead-lettering its events", device_id, status, _error_reason(body) or response.text[:200])
        return REGISTRATION_REFUSED, None

    def _headers(self):
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["key"] = self._key
        return headers

    def _dead_letter(self, rejected):
        self.outbox.dead_letter(rejected)
        self.dead_lettered += len(rejected)
        for event, reason in rejected:
            log.error(
                "Profile store rejected event %s of device %s: %s; moved it to the dead-letter table, fix the cause and resend it from there",
                event.event_id, event.device_id, reason,
            )

    def _failed(self, batch, error, retry_after=None):
        self.outbox.record_attempt(batch)
        if error != self.last_error:
            log.warning("Delivery of %d events failed: %s; retrying with backoff", len(batch), error)
        self.last_error = error
        return BatchResult(sent=len(batch), retry_after=retry_after, error=error, retry=True)


def tls_context(ca_bundle=None):
    """Return an SSL context that verifies the store's certificate against ca_bundle, or the system's CAs."""
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise AgentError(
            f"cannot load the CA bundle {ca_bundle}: {getattr(error, 'strerror', None) or error}; "
            "set store.ca_bundle to a readable PEM file of CA certificates"
        ) from None


def _plain_http_context():
    """Return an SSL context with no CA certificates, for a store reached over plain http.

    httpx builds its SSL context when the client is created, and loading the
    system CAs costs about 0.8 MB that an http:// store never uses. The
    client follows no redirects, so no request made with it reaches TLS.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _error_reason(body):
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("reason")
    return None


def _retry_after(response):
    """Return the Retry-After header in seconds from now, or None when it is missing or invalid."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())
