"""The fleet runner: many simulated devices through the agent's real pipeline in one process.

Each device has the monitors of its catalog row, scheduled by the
daemon's scheduling rules on a simulated clock. One priority queue of
(due, device, monitor) drives every device from one loop. Captures go
through capture() and apply_privacy() into the change trackers of a few
shared state databases (shards), and sender threads deliver their
outboxes to the profile store while the simulation runs. Only the source
and the clock are simulated.
"""

import heapq
import itertools
import math
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agent.capture import apply_privacy, capture
from agent.catalog import Kind, load_catalog
from agent.config import DeviceConfig, Monitor
from agent.errors import CatalogError
from agent.fleet.clock import SimulatedClock
from agent.fleet.delivery import DeliveryLoop, DeliveryProcess, make_sender
from agent.fleet.stats import FleetOutbox, FleetStats
from agent.registration import register
from agent.scenarios import load_scenario
from agent.scheduling import Schedule
from agent.sources.simulated import SimulatedSource, privacy_key
from agent.statedb import StateDB
from agent.tracker import ChangeTracker

DEFAULT_MIX = (("android", "2.11", 40.0), ("android", "2.12", 30.0), ("ios", "2.12", 30.0))
# Interval-based monitors the scenario gives no interval run this often.
DEFAULT_INTERVAL = 900.0
CACHE_KIB = 256 * 1024
DELIVERY_MODES = ("thread", "process")
# Unpaced, a long tick groups more samples of a device per transaction: 300 s
# instead of 60 s cut the simulation's CPU time by a quarter in a 1,000-device day.
UNPACED_TICK = 300.0
PACED_TICK_WALL = 0.2  # seconds of wall time


@dataclass
class FleetOptions:
    """Options of a fleet run; times in seconds."""

    devices: int = 10
    duration: float = 6 * 3600.0
    mix: tuple = DEFAULT_MIX
    seed: int = 1
    speed: float | None = None
    scenario: object = "default"
    app_id: str = "fleet-app"
    # Epoch seconds of the simulated start; None starts one duration ago, so no capture time lies in the future.
    start: float | None = None
    state_dir: str | None = None
    device_prefix: str | None = None
    # Captures are recorded in one transaction per shard every this many simulated seconds;
    # None picks UNPACED_TICK, or at most PACED_TICK_WALL of wall time when paced.
    tick: float | None = None
    # Devices are split over this many state databases, each delivered by its own sender thread.
    shards: int = 4
    # "thread": the sender threads share this process with the simulation, as in the daemon.
    # "process": they run in a child process, on another core than the simulation.
    delivery: str = "thread"
    # Maximum wait between retries in seconds; a fleet's outage is compressed in time.
    retry_cap: float = 2.0
    # After the end, delivery gives up once retries have failed for this many seconds.
    drain_timeout: float = 120.0
    # (simulated seconds after start, callable taking the Fleet): run when the clock gets there.
    hooks: list = field(default_factory=list)
    progress: object = None


def parse_mix(text):
    """Parse 'android:2.11=40,ios:2.12=60' into ((platform, sdk_version, weight), ...)."""
    mix = []
    for part in text.split(","):
        target, _, weight = part.strip().partition("=")
        platform, _, sdk_version = target.partition(":")
        try:
            share = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"mix entry {part.strip()!r} has an invalid weight; write platform:sdk=weight, such as android:2.11=40") from None
        if not platform or not math.isfinite(share) or share < 0:
            raise ValueError(f"mix entry {part.strip()!r} is invalid; write platform:sdk=weight, such as android:2.11=40")
        mix.append((platform, sdk_version or None, share))
    if not mix or sum(share for _, _, share in mix) <= 0:
        raise ValueError(f"mix {text!r} has no weight above 0")
    return tuple(mix)


def assign_mix(devices, mix):
    """Return how many devices each mix entry gets, summing exactly to devices (largest remainder)."""
    total = sum(share for _, _, share in mix)
    exact = [devices * share / total for _, _, share in mix]
    counts = [int(value) for value in exact]
    by_remainder = sorted(range(len(mix)), key=lambda position: exact[position] - counts[position], reverse=True)
    for position in by_remainder[: devices - sum(counts)]:
        counts[position] += 1
    return counts


class _Shard:
    """A part of the fleet with its own state database, change tracker and outbox.

    Splitting the fleet lets several senders wait on the store at once,
    as separate agents would, while each device's events stay in order.
    """

    def __init__(self, number, path, fleet):
        self.number = number
        self.path = path
        # NORMAL loses at most the last commits on power loss; a fleet's state is thrown away after the run.
        self.db = StateDB(path, synchronous="NORMAL")
        # SQLite's default 2 MiB page cache is far smaller than a big fleet's outbox and last values.
        self.db.query(f"PRAGMA cache_size = -{CACHE_KIB}")
        self.tracker = ChangeTracker(self.db)
        self.outbox = FleetOutbox(self.db, fleet.clock, fleet.stats)
        self.loop = None
        self.thread = None
        self._sender = None
        if fleet.options.delivery == "thread":
            options = fleet.options
            self._sender = make_sender(self.outbox, fleet.store_url, options.app_id, fleet.key, options.retry_cap, options.seed + number)
            self.loop = DeliveryLoop(self._sender, self.outbox, fleet.finished, options.drain_timeout, f"fleet shard {number}")

    def start(self):
        if self.loop is not None:
            self.thread = threading.Thread(target=self.loop.run, name=f"fleet-sender-{self.number}", daemon=True)
            self.thread.start()

    def join(self):
        if self.thread is not None:
            self.loop.wakeup.set()
            self.thread.join()

    def record(self, pending):
        """Record {(device_id, kind): samples} in one transaction and wake the sender; return the events."""
        events = self.tracker.record_many([(device_id, kind, samples) for (device_id, kind), samples in pending.items()])
        if self.loop is not None:
            self.loop.wakeup.set()
        return events

    def close(self):
        if self._sender is not None:
            self._sender.close()
        self.db.close()


class _Device:
    __slots__ = ("index", "device_id", "label", "source", "monitors", "privacy_key", "last", "shard")

    def __init__(self, index, device_id, label, source, monitors, key, shard):
        self.index = index
        self.shard = shard
        self.device_id = device_id
        self.label = label
        self.source = source
        self.monitors = monitors
        self.privacy_key = key
        # The last sample of each attribute as it left the device, after privacy.
        self.last = {}


class Fleet:
    def __init__(self, store_url, key=None, options=None, catalog=None):
        self.options = options or FleetOptions()
        if self.options.delivery not in DELIVERY_MODES:
            raise ValueError(f"delivery must be one of {', '.join(DELIVERY_MODES)}, not {self.options.delivery!r}")
        if self.options.devices < 1 or self.options.duration <= 0:
            raise ValueError(f"a fleet needs at least 1 device and a duration above 0, not {self.options.devices} devices for {self.options.duration} s")
        self.store_url = store_url
        self.key = key
        self.catalog = catalog or load_catalog()
        scenario = self.options.scenario
        self.scenario = load_scenario(scenario) if isinstance(scenario, (str, Path)) else scenario
        start = self.options.start
        if start is None:
            start = float(int(time.time() - self.options.duration))
        self.clock = SimulatedClock(start, self.options.speed)
        self.end = start + self.options.duration
        self.tick = self.options.tick or _tick(self.options.speed)
        self.stats = FleetStats(self.options.duration, start)
        self.devices = []
        self._tempdir = None
        self.shards = []
        self.finished = threading.Event()
        self.delivery_process = None
        # Shared by every schedule, so jitter is drawn in queue order and stays deterministic.
        self._schedule_rng = random.Random(self.options.seed)

    # set-up

    def open(self):
        state_dir = self.options.state_dir
        if state_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="device-agent-fleet-")
            state_dir = self._tempdir.name
        count = max(1, min(self.options.shards, self.options.devices))
        self.shards = [_Shard(number, Path(state_dir) / f"fleet-{number}.db", self) for number in range(count)]
        self._create_devices()
        if self.options.delivery == "process":
            self.delivery_process = DeliveryProcess(self, [shard.path for shard in self.shards], CACHE_KIB)
            self.stats.delivered_counter = self.delivery_process.delivered
        return self

    def close(self):
        for shard in self.shards:
            shard.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def _create_devices(self):
        options = self.options
        prefix = options.device_prefix or f"sim-{options.seed}"
        counts = assign_mix(options.devices, options.mix)
        index = 0
        registered_at = datetime.fromtimestamp(self.clock.start, timezone.utc)
        for (platform, sdk_version, _), count in zip(options.mix, counts):
            label = f"{platform}:{sdk_version}" if sdk_version else platform
            monitors = self._monitors(platform, sdk_version)
            self.stats.devices_by_mix[label] = count
            for _ in range(count):
                source = SimulatedSource(platform, sdk_version, self.scenario, options.seed, index, self.clock, self.clock.start)
                device_id = f"{prefix}-{index:05d}"
                config = DeviceConfig(platform, sdk_version, options.app_id, user_id=f"user-{device_id}", device_id=device_id)
                shard = self.shards[index % len(self.shards)]
                register(shard.db, config, source, now=registered_at)
                self.devices.append(_Device(index, device_id, label, source, monitors, privacy_key(options.seed, index), shard))
                index += 1
        self.stats.count_registrations(len(self.devices))

    def _monitors(self, platform, sdk_version):
        """Return a Monitor for every attribute of the catalog row, with the scenario's settings."""
        try:
            offer = self.catalog.offer(platform, sdk_version)
        except ValueError as error:
            raise CatalogError(f"mix entry {platform}:{sdk_version}: {error}") from None
        scenario = self.scenario
        monitors = []
        for attribute, kind in offer.kinds.items():
            privacy = scenario.privacy.get(attribute, "send")
            if kind is Kind.INTERVAL:
                interval = scenario.intervals.get(attribute, DEFAULT_INTERVAL)
                monitors.append(Monitor(attribute, kind, interval=interval, jitter=scenario.jitter, privacy=privacy))
            elif kind is Kind.EVENT:
                monitors.append(Monitor(attribute, kind, poll_interval=scenario.poll_interval, privacy=privacy))
            else:
                monitors.append(Monitor(attribute, kind, privacy=privacy))
        return tuple((monitor, Schedule(monitor, self._schedule_rng)) for monitor in monitors)

    # running

    def run(self):
        """Simulate the whole duration, deliver the outbox, and return the stats."""
        if self.delivery_process is not None:
            self.delivery_process.start()
        self.clock.begin()
        if self.delivery_process is not None:
            self.delivery_process.clock.publish_start(self.clock.start, self.options.speed)
        for shard in self.shards:
            shard.start()
        try:
            self._simulate()
        finally:
            self.clock.finish()
            self.finished.set()
            for shard in self.shards:
                shard.join()
            if self.delivery_process is not None:
                self.delivery_process.clock.publish_end(self.clock.end, self.clock.rate)
                self.delivery_process.finish(self.stats)
        self.stats.finish(self.clock, sum(shard.outbox.depth() for shard in self.shards))
        return self.stats

    def _simulate(self):
        queue = []
        order = itertools.count()
        start = self.clock.start
        # NOTE: every device starts at the same instant, so without jitter the interval
        # monitors of the whole fleet fire on one grid and the chart shows that as a comb.
        for position, device in enumerate(self.devices):
            for slot, (monitor, schedule) in enumerate(device.monitors):
                queue.append((schedule.first_due(start), next(order), position, slot))
        heapq.heapify(queue)
        hooks = sorted(self.options.hooks, key=lambda hook: hook[0])
        watch = self.scenario.event_capture == "watch"
        pending = {}  # shard -> {(device_id, kind): samples in capture order}, recorded at the end of the tick
        tick_end = start + self.tick
        progress = _Progress(self.options.progress, self)

        while queue and queue[0][0] <= self.end:
            due, _, position, slot = heapq.heappop(queue)
            if due >= tick_end:
                self._flush(pending)
                pending = {}
                tick_end = due + self.tick
                progress.update(due)
            while hooks and start + hooks[0][0] <= due:
                self._flush(pending)
                pending = {}
                hooks.pop(0)[1](self)
            self.clock.advance(due)

            device = self.devices[position]
            monitor, schedule = device.monitors[slot]
            sample = capture(device.source, monitor.attribute, datetime.fromtimestamp(due, timezone.utc))
            self.stats.captures += 1
            shared = apply_privacy(sample, monitor.privacy, device.privacy_key)
            if shared is not None and not _unchanged(device.last.get(monitor.attribute), shared):
                pending.setdefault(device.shard, {}).setdefault((device.device_id, monitor.kind.value), []).append(shared)
                device.last[monitor.attribute] = shared

            following = self._next_due(device, monitor, schedule, due, watch)
            if following is not None and following <= self.end:
                heapq.heappush(queue, (following, next(order), position, slot))

        self.clock.advance(self.end)
        self._flush(pending)
        for _, hook in hooks:
            hook(self)

    def _next_due(self, device, monitor, schedule, due, watch):
        if monitor.kind is Kind.EVENT and watch:
            return device.source.next_change(monitor.attribute, due)
        return schedule.next_due(due, due)

    def _flush(self, pending):
        # Grouping a device's samples of one kind costs one sequence update for all of them.
        # Each attribute's samples stay in capture order, which is all the store's ordering needs.
        for shard, samples in pending.items():
            self.stats.count_events(shard.record(samples))
        if self.delivery_process is not None:
            self.delivery_process.clock.publish(self.clock.now)

    # the store's view

    def expected_profiles(self):
        """Return {device_id: {attribute: (status, value)}}: each device's final state as it left the device."""
        return {
            device.device_id: {name: (sample.status.value, sample.value) for name, sample in device.last.items()}
            for device in self.devices
        }


def _tick(speed):
    """Return the simulated seconds between tracker transactions for a run at speed (None: unpaced)."""
    if speed is None:
        return UNPACED_TICK
    # Paced, events must reach the outbox within a fraction of a wall second, as in the daemon.
    return min(UNPACED_TICK, max(1.0, speed * PACED_TICK_WALL))


def _unchanged(previous, sample):
    """Return True when the tracker would find sample equal to the last one and queue nothing.

    Checking in memory first saves the tracker three queries for each of
    the many captures that find no change.
    """
    return (
        previous is not None
        and previous.status is sample.status
        and type(previous.value) is type(sample.value)
        and previous.value == sample.value
        and previous.reason == sample.reason
    )


class _Progress:
    """Calls the progress callback with the done fraction, at most a few times a second."""

    def __init__(self, callback, fleet):
        self.callback = callback
        self.fleet = fleet
        self._next_wall = 0.0

    def update(self, moment):
        if self.callback is None:
            return
        now = time.monotonic()
        if now < self._next_wall:
            return
        self._next_wall = now + 0.2
        span = self.fleet.end - self.fleet.clock.start
        self.callback((moment - self.fleet.clock.start) / span if span else 1.0, self.fleet)


def run_fleet(store_url, key=None, verify=True, **options):
    """Run a fleet against the store at store_url and return its summary as a dict.

    Options are FleetOptions fields; duration may be a string such as "6h".
    """
    from agent.durations import parse_duration
    from agent.fleet.verify import verify_profiles

    if isinstance(options.get("duration"), str):
        options["duration"] = parse_duration(options["duration"])
    if isinstance(options.get("mix"), str):
        options["mix"] = parse_mix(options["mix"])
    fleet = Fleet(store_url, key, FleetOptions(**options)).open()
    try:
        stats = fleet.run()
        verification = verify_profiles(store_url, key, fleet.options.app_id, fleet.expected_profiles()) if verify else None
        return stats.summary(fleet, verification)
    finally:
        fleet.close()
