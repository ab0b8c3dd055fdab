"""Counters of a fleet run: events, deliveries, retries and delivery latency."""

import resource
import threading
import time
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from agent.outbox import Outbox, PendingEvent

# The chart shows events over simulated time in at most this many buckets.
TIMELINE_BUCKETS = 96


@dataclass(frozen=True)
class TimedEvent(PendingEvent):
    created_at: float  # wall-clock time.time() when the event entered the outbox


FLEET_MAX_EVENTS = 1 << 40
FLEET_MAX_BYTES = 1 << 50


class FleetOutbox(Outbox):
    """The outbox, counting what the sender acknowledges, retries and dead-letters.

    clock is any object with simulated_now(), the simulated time in epoch seconds.
    """

    def __init__(self, db, clock, stats):
        # The caps are sized for one device. A shard's outbox contains thousands of
        # devices, so those caps would coalesce and drop events the store is
        # about to take; the simulator's pace bounds its backlog instead.
        super().__init__(db, max_events=FLEET_MAX_EVENTS, max_bytes=FLEET_MAX_BYTES)
        self.clock = clock
        self.stats = stats

    def pending(self, limit):
        # Outbox.pending() with created_at, so wall latency needs no clock shared between processes.
        rows = self.db.query("SELECT id, event_id, device_id, body, created_at FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [TimedEvent(*row) for row in rows]

    def acknowledge(self, events):
        super().acknowledge(events)
        simulated_now = self.clock.simulated_now()
        wall_now = time.time()
        latencies = [
            (simulated_now - datetime.fromisoformat(event.body["captured_at"]).timestamp(), wall_now - event.created_at)
            for event in events
        ]
        self.stats.record_deliveries(latencies)

    def record_attempt(self, events):
        super().record_attempt(events)
        self.stats.record_retry(events)

    def dead_letter(self, rejected):
        super().dead_letter(rejected)
        self.stats.record_dead_letters(rejected)


class FleetStats:
    def __init__(self, duration, start, delivered_counter=None):
        self.start = start
        # Shared memory the delivery process counts into, so progress shows deliveries while it runs.
        self.delivered_counter = delivered_counter
        self.duration = duration
        self.bucket_seconds = max(60.0, duration / TIMELINE_BUCKETS)
        self.devices_by_mix = {}
        self.captures = 0
        self.events_by_attribute = defaultdict(Counter)  # attribute -> kind -> count
        self.timeline = defaultdict(Counter)  # kind -> bucket -> count
        self.registrations = 0
        self.delivered = 0
        self.retried = 0
        self.retried_events = set()
        self.dead_lettered = 0
        self.dead_letter_reasons = Counter()
        self.pending = 0
        self.wall_seconds = None
        self.simulation_wall_seconds = None
        self._latency_simulated = array("d")
        self._latency_wall = array("d")
        self._lock = threading.Lock()

    def count_registrations(self, count):
        self.registrations += count
        self.timeline["registration"][0] += count

    def count_events(self, events):
        for event in events:
            kind = event["kind"]
            captured = datetime.fromisoformat(event["captured_at"]).timestamp()
            bucket = int((captured - self.start) // self.bucket_seconds)
            self.timeline[kind][bucket] += 1
            for attribute in event["attributes"]:
                self.events_by_attribute[attribute][kind] += 1

    def record_deliveries(self, latencies):
        """Count delivered events from (simulated, wall) latencies in seconds."""
        with self._lock:
            self.delivered += len(latencies)
            for simulated, wall in latencies:
                self._latency_simulated.append(max(0.0, simulated))
                self._latency_wall.append(max(0.0, wall))
            if self.delivered_counter is not None:
                self.delivered_counter.value = self.delivered

    @property
    def delivered_so_far(self):
        if self.delivered_counter is not None:
            return max(self.delivered, self.delivered_counter.value)
        return self.delivered

    def delivery_counters(self):
        """Return the delivery counters as plain data for merge_delivery() in another process."""
        with self._lock:
            return {
                "delivered": self.delivered,
                "retried": self.retried,
                "retried_events": self.retried_events,
                "dead_lettered": self.dead_lettered,
                "dead_letter_reasons": self.dead_letter_reasons,
                "latency_simulated": self._latency_simulated,
                "latency_wall": self._latency_wall,
            }

    def merge_delivery(self, counters):
        with self._lock:
            self.delivered += counters["delivered"]
            self.retried += counters["retried"]
            self.retried_events |= counters["retried_events"]
            self.dead_lettered += counters["dead_lettered"]
            self.dead_letter_reasons.update(counters["dead_letter_reasons"])
            self._latency_simulated.extend(counters["latency_simulated"])
            self._latency_wall.extend(counters["latency_wall"])

    def record_retry(self, events):
        with self._lock:
            self.retried += len(events)
            self.retried_events.update(event.event_id for event in events)

    def record_dead_letters(self, rejected):
        with self._lock:
            self.dead_lettered += len(rejected)
            self.dead_letter_reasons.update(reason for _, reason in rejected)

    def finish(self, clock, pending):
        """Record the end of the run: simulation and delivery wall time, and the events never delivered."""
        self.simulation_wall_seconds = clock.wall_elapsed
        self.wall_seconds = time.monotonic() - clock.wall_start
        self.pending = pending

    @property
    def events_total(self):
        return self.registrations + sum(sum(kinds.values()) for kinds in self.events_by_attribute.values())

    def summary(self, fleet, verification=None):
        """Return the run as a JSON-ready dict."""
        by_kind = Counter({"registration": self.registrations})
        for kinds in self.events_by_attribute.values():
            by_kind.update(kinds)
        wall = self.wall_seconds or 0.0
        return {
            "devices": {"total": sum(self.devices_by_mix.values()), "by_mix": dict(self.devices_by_mix)},
            "scenario": fleet.scenario.name,
            "seed": fleet.options.seed,
            "simulated": {
                "start": datetime.fromtimestamp(self.start).astimezone().isoformat(),
                "duration_seconds": self.duration,
                "speed": fleet.options.speed,
            },
            "delivery_in": fleet.options.delivery,
            "shards": len(fleet.shards),
            "wall_seconds": round(wall, 3),
            "simulation_wall_seconds": round(self.simulation_wall_seconds or 0.0, 3),
            "captures": self.captures,
            "events": {
                "total": self.events_total,
                "per_wall_second": round(self.events_total / wall, 1) if wall else None,
                "by_kind": dict(sorted(by_kind.items())),
                "by_attribute": {name: dict(sorted(kinds.items())) for name, kinds in sorted(self.events_by_attribute.items())},
            },
            "delivery": {
                "delivered": self.delivered,
                "retried": self.retried,
                "retried_events": len(self.retried_events),
                "dead_lettered": self.dead_lettered,
                "dead_letter_reasons": dict(self.dead_letter_reasons.most_common(5)),
                "pending": self.pending,
            },
            "latency": {
                "simulated_seconds": percentiles(self._latency_simulated),
                "wall_seconds": percentiles(self._latency_wall),
            },
            "timeline": {
                "bucket_seconds": self.bucket_seconds,
                "buckets": int(-(-self.duration // self.bucket_seconds)),
                "events": {kind: {str(bucket): count for bucket, count in sorted(buckets.items())} for kind, buckets in sorted(self.timeline.items())},
            },
            "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "verification": verification,
        }


def percentiles(values, points=(50, 90, 99)):
    """Return nearest-rank percentiles and the maximum of values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    result = {f"p{point}": round(ordered[min(len(ordered) - 1, int(len(ordered) * point / 100))], 3) for point in points}
    result["max"] = round(ordered[-1], 3)
    return result
