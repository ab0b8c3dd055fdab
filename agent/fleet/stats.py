"""Counters of a fleet run: events, deliveries, retries and delivery latency."""

import resource
import threading
import time
from array import array
from collections import Counter, defaultdict
from datetime import datetime

from agent.outbox import Outbox

# The chart shows events over simulated time in at most this many buckets.
TIMELINE_BUCKETS = 96


class FleetOutbox(Outbox):
    """The outbox, counting what the sender acknowledges, retries and dead-letters."""

    def __init__(self, db, clock, stats):
        super().__init__(db)
        self.clock = clock
        self.stats = stats

    def acknowledge(self, events):
        super().acknowledge(events)
        simulated_now = self.clock.simulated_now()
        wall_now = time.monotonic()
        for event in events:
            captured = datetime.fromisoformat(event.body["captured_at"]).timestamp()
            self.stats.record_delivery(simulated_now - captured, wall_now - self.clock.wall_at(captured))

    def record_attempt(self, events):
        super().record_attempt(events)
        self.stats.record_retry(events)

    def dead_letter(self, rejected):
        super().dead_letter(rejected)
        self.stats.record_dead_letters(rejected)


class FleetStats:
    def __init__(self, duration, start):
        self.start = start
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

    def record_delivery(self, simulated, wall):
        with self._lock:
            self.delivered += 1
            self._latency_simulated.append(max(0.0, simulated))
            self._latency_wall.append(max(0.0, wall))

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
