"""Per-device token buckets that limit how many events a device may send."""

import math
import threading
import time

# Full buckets carry no state worth keeping, so they are dropped once this many exist.
PRUNE_THRESHOLD = 100_000


class RateLimiter:
    """Token buckets of rate events per second per (app, device).

    A bucket contains at most one second's worth of events (at least one event). A
    request that needs more than a full bucket is still admitted when the bucket
    is full and leaves it in debt, so a batch larger than the burst is never
    rejected forever.
    """

    def __init__(self, rate, clock=time.monotonic):
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate limit must be a positive number of events per second, got {rate!r}")
        self.rate = float(rate)
        self.capacity = max(self.rate, 1.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets = {}  # (app_id, device_id) -> [tokens, time of last refill]

    def acquire(self, app_id, counts):
        """Take tokens for {device_id: event count} all at once, or none.

        Returns 0 when admitted, otherwise the seconds to wait before the
        request can be admitted.
        """
        now = self._clock()
        with self._lock:
            buckets = []
            wait = 0.0
            for device_id, count in counts.items():
                bucket = self._refill((app_id, device_id), now)
                needed = min(count, self.capacity)
                if bucket[0] < needed:
                    wait = max(wait, (needed - bucket[0]) / self.rate)
                buckets.append((bucket, count))
            if wait > 0:
                return wait
            for bucket, count in buckets:
                bucket[0] -= count
            if len(self._buckets) > PRUNE_THRESHOLD:
                self._prune(now)
        return 0.0

    def _refill(self, key, now):
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [self.capacity, now]
        else:
            bucket[0] = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        return bucket

    def _prune(self, now):
        full = [
            key
            for key, (tokens, refilled) in self._buckets.items()
            if tokens + (now - refilled) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
