"""Delivery of a fleet's outboxes to the store: sender threads here, or in a child process.

Each shard's outbox is drained by the agent's own Sender in a loop that
runs until the simulation has finished and the outbox is empty. In the
child process the senders open the shards' state databases themselves
(SQLite in WAL mode lets two processes share them), so their JSON and
HTTP work runs on another core than the simulation.
"""

import logging
import multiprocessing
import random
import threading
import time

from agent.config import StoreConfig
from agent.fleet.stats import FleetOutbox, FleetStats
from agent.sender import Backoff, Sender
from agent.statedb import StateDB

log = logging.getLogger("agent.fleet")

BATCH_FILL_WAIT = 0.02  # seconds
IDLE_WAIT = 0.05  # seconds
# Shared clock slots: simulated now, wall time.time() at the end (0 while running), rate after
# the end, and for a paced run its speed (0 unpaced) with the simulated and wall start.
_NOW, _WALL_END, _RATE, _SPEED, _START, _WALL_START = range(6)


def make_sender(outbox, store_url, app_id, key, retry_cap, seed):
    sender = Sender(outbox, store_url, app_id, key, StoreConfig(url=store_url, batch_size=100))
    # A fleet's outage is compressed in time, so its sender retries sooner than a device's would.
    sender.backoff = Backoff(base=0.05, cap=retry_cap, rng=random.Random(seed))
    return sender


class DeliveryLoop:
    """Sends one outbox until `finished` is set and the outbox is empty, or retries pass drain_timeout."""

    def __init__(self, sender, outbox, finished, drain_timeout, label):
        self.sender = sender
        self.outbox = outbox
        self.finished = finished
        self.drain_timeout = drain_timeout
        self.label = label
        self.wakeup = threading.Event()

    def run(self):
        deadline = None
        while True:
            result = self.sender.send_batch()
            if result.sent == 0:
                if self.finished.is_set():
                    return
                self._wait(IDLE_WAIT)
                continue
            if not result.retry:
                self.sender.backoff.reset()
                if result.sent < self.sender.batch_size and not self.finished.is_set():
                    # A short wait lets the next batch fill up, and full batches cost the store less per event.
                    self._wait(BATCH_FILL_WAIT)
                continue
            if self.finished.is_set():
                deadline = deadline or time.monotonic() + self.drain_timeout
                if time.monotonic() > deadline:
                    log.error(
                        "Delivery from %s gave up after %gs of retries with %d events left in its outbox: %s; check that the store is up",
                        self.label, self.drain_timeout, self.outbox.depth(), result.error,
                    )
                    return
            time.sleep(self.sender.backoff.next_delay(result.retry_after))

    def _wait(self, seconds):
        self.wakeup.wait(seconds)
        self.wakeup.clear()


class SharedClock:
    """The simulated clock as the delivery process reads it: shared memory the simulation writes."""

    def __init__(self, values):
        self.values = values

    def publish(self, now):
        self.values[_NOW] = now

    def publish_start(self, start, speed):
        self.values[_NOW] = start
        self.values[_START] = start
        self.values[_SPEED] = speed or 0.0
        self.values[_WALL_START] = time.time()

    def publish_end(self, end, rate):
        self.values[_NOW] = end
        self.values[_RATE] = rate
        self.values[_WALL_END] = time.time()

    def simulated_now(self):
        wall_end = self.values[_WALL_END]
        if not wall_end:
            speed = self.values[_SPEED]
            if not speed:
                return self.values[_NOW]
            return max(self.values[_NOW], self.values[_START] + (time.time() - self.values[_WALL_START]) * speed)
        return self.values[_NOW] + (time.time() - wall_end) * self.values[_RATE]


class DeliveryProcess:
    """A child process that delivers every shard's outbox; its counters join the fleet's stats at the end."""

    def __init__(self, fleet, paths, cache_kib):
        context = multiprocessing.get_context("spawn")
        self.clock = SharedClock(context.RawArray("d", 6))
        self.finished = context.Event()
        self.delivered = context.RawValue("q", 0)
        receiver, self._sender_end = context.Pipe(duplex=False)
        self._receiver = receiver
        options = fleet.options
        self.process = context.Process(
            target=deliver,
            args=([str(path) for path in paths], fleet.store_url, fleet.key, options.app_id, options.retry_cap, options.seed,
                  options.drain_timeout, fleet.clock.start, options.duration, self.clock.values, self.finished, self.delivered, self._sender_end,
                  cache_kib),
            name="fleet-delivery",
            daemon=True,
        )

    def start(self):
        self.process.start()
        self._sender_end.close()

    def finish(self, stats):
        """Signal the end of the simulation, wait for the outboxes to drain and merge the counters into stats."""
        self.finished.set()
        try:
            counters = self._receiver.recv()
        except EOFError:
            raise RuntimeError(f"the fleet's delivery process exited with status {self.process.exitcode} before reporting") from None
        finally:
            self.process.join()
        stats.merge_delivery(counters)


def deliver(paths, store_url, key, app_id, retry_cap, seed, drain_timeout, start, duration, clock_values, finished, delivered, connection, cache_kib):
    """Run in the delivery process: drain every shard's outbox with a sender thread each, then report the counters."""
    clock = SharedClock(clock_values)
    stats = FleetStats(duration, start, delivered_counter=delivered)
    databases, loops = [], []
    for number, path in enumerate(paths):
        db = StateDB(path, synchronous="NORMAL")
        db.query(f"PRAGMA cache_size = -{cache_kib}")
        outbox = FleetOutbox(db, clock, stats)
        sender = make_sender(outbox, store_url, app_id, key, retry_cap, seed + number)
        databases.append((db, sender))
        loops.append(DeliveryLoop(sender, outbox, finished, drain_timeout, f"fleet shard {number}"))
    threads = [threading.Thread(target=loop.run, name=f"fleet-sender-{number}") for number, loop in enumerate(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db, sender in databases:
        sender.close()
        db.close()
    connection.send(stats.delivery_counters())
    connection.close()
