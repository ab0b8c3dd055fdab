"""The sender: delivers the outbox to the profile store in batches over HTTP.

Events leave the outbox only when the store acknowledged them (applied,
duplicate or stale) or rejected them for good (a 4xx that retrying cannot
fix), in which case they move to the dead-letter table with the store's
reason. Everything else is retried, which is safe because the store
applies each event id once.
"""

import email.utils
import logging
import random
import time
from dataclasses import dataclass, field

import httpx

log = logging.getLogger("agent.sender")

ACKNOWLEDGED = {"applied", "duplicate", "stale"}
MAX_BATCH = 100


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
    """Exponential backoff with full jitter, stretched to the store's Retry-After."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, retry_after=None):
        self.failures += 1
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (self.failures - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def reset(self):
        self.failures = 0


class Sender:
    def __init__(self, outbox, store_url, app_id, key, store_config, transport=None):
        self.outbox = outbox
        self.endpoint = f"{store_url.rstrip('/')}/resources/v2/customerappprofile/{app_id}/events"
        self.batch_size = min(store_config.batch_size, MAX_BATCH)
        self.backoff = Backoff()
        self.last_delivery = None
        self.last_error = None
        self._key = key
        self._client = httpx.Client(
            timeout=httpx.Timeout(store_config.read_timeout, connect=store_config.connect_timeout),
            verify=store_config.ca_bundle or True,
            transport=transport,
        )

    def close(self):
        self._client.close()

    def drain(self, deadline=None):
        """Send batches until the outbox is empty or the deadline passes; return True when empty."""
        while True:
            result = self.send_batch()
            if result.sent == 0:
                return True
            if result.retry:
                delay = self.backoff.next_delay(result.retry_after)
                if deadline is not None and time.monotonic() + delay > deadline:
                    return False
                time.sleep(delay)
            else:
                self.backoff.reset()
            if deadline is not None and time.monotonic() > deadline:
                return self.outbox.depth() == 0

    def send_batch(self):
        batch = self.outbox.pending(self.batch_size)
        if not batch:
            return BatchResult()
        try:
            response = self._client.post(
                self.endpoint,
                json={"records": [event.body for event in batch]},
                headers={"key": self._key} if self._key else {},
            )
        except httpx.HTTPError as error:
            return self._failed(batch, f"cannot reach the profile store at {self.endpoint}: {type(error).__name__}: {error}")
        return self._handle(batch, response)

    def _handle(self, batch, response):
        status = response.status_code
        body = _json_or_none(response)
        results = body.get("results") if isinstance(body, dict) else None
        if status == 200 or (status == 400 and isinstance(results, list) and len(results) == len(batch)):
            return self._settle(batch, results or [])
        reason = _error_reason(body) or response.text[:200] or f"HTTP {status}"
        if status == 413 and len(batch) > 1:
            self.batch_size = max(1, len(batch) // 2)
            return self._failed(batch, f"store rejected a batch of {len(batch)} as too large; retrying with {self.batch_size}")
        if status in (401, 403):
            # A wrong key is fixed by the operator, and the events must survive until then.
            return self._failed(batch, f"the profile store rejected the profile key (HTTP {status}); fix the key, events are kept meanwhile")
        if status == 408 or status == 429 or status >= 500 or status < 400:
            return self._failed(batch, f"profile store answered HTTP {status}: {reason}", _retry_after(response))
        self.outbox.dead_letter([(event, f"HTTP {status}: {reason}") for event in batch])
        log.error("Profile store rejected %d events with HTTP %d: %s; moved to the dead-letter table", len(batch), status, reason)
        return BatchResult(sent=len(batch), dead_lettered=len(batch))

    def _settle(self, batch, results):
        by_id = {item.get("event_id"): item for item in results if isinstance(item, dict)}
        acknowledged, rejected, unknown = [], [], []
        for event in batch:
            item = by_id.get(event.event_id)
            if item is None:
                unknown.append(event)
            elif item.get("status") in ACKNOWLEDGED:
                acknowledged.append(event)
            else:
                rejected.append((event, str(item.get("reason") or item.get("status"))))
        if acknowledged:
            self.outbox.acknowledge(acknowledged)
        if rejected:
            self.outbox.dead_letter(rejected)
            for event, reason in rejected:
                log.error("Profile store rejected event %s of device %s: %s; moved to the dead-letter table", event.event_id, event.body.get("device_id"), reason)
        self.last_delivery = time.time()
        result = BatchResult(sent=len(batch), acknowledged=len(acknowledged), dead_lettered=len(rejected))
        if unknown:
            # An answer that leaves events out is retried; the store applies each id once.
            result.retry = True
            result.error = f"store answer left out {len(unknown)} events; retrying them"
            self.last_error = result.error
        return result

    def _failed(self, batch, error, retry_after=None):
        self.outbox.record_attempt(batch)
        if error != self.last_error:
            log.warning("Delivery of %d events failed: %s; retrying with backoff", len(batch), error)
        self.last_error = error
        return BatchResult(sent=len(batch), retry_after=retry_after, error=error, retry=True)


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
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return max(0.0, moment.timestamp() - time.time()) if moment else None
