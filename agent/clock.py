"""Clocks: a steady one for scheduling and the wall clock for timestamps.

Scheduling runs on CLOCK_BOOTTIME, which never steps backwards and keeps
counting through suspend, so a resume looks like time that passed and not
like a clock step. Timestamps that leave the device come from the wall
clock in UTC. Nothing here caches the local zone.
"""

import threading
import time
from datetime import datetime, timedelta, timezone

# CLOCK_BOOTTIME is Linux only; elsewhere CLOCK_MONOTONIC stops during
# suspend, so a resume is seen as a forward wall-clock step instead.
_STEADY_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


class SystemClock:
    """The machine's clocks."""

    def steady(self):
        """Return seconds since boot, suspend included; never decreases."""
        return time.clock_gettime(_STEADY_CLOCK)

    def wall(self):
        """Return the wall-clock time as an aware datetime in UTC."""
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that moves only when told, for tests and simulations.

    advance() is time passing (both clocks move), suspend() is a suspend
    and resume (both move, as CLOCK_BOOTTIME does), step_wall() is an NTP
    or operator correction (only the wall clock moves).
    """

    def __init__(self, wall=None, steady=1000.0):
        self._wall = wall or datetime(2026, 3, 1, tzinfo=timezone.utc)
        self._steady = float(steady)
        self._lock = threading.Lock()

    def steady(self):
        with self._lock:
            return self._steady

    def wall(self):
        with self._lock:
            return self._wall

    def advance(self, seconds):
        with self._lock:
            self._steady += seconds
            self._wall += timedelta(seconds=seconds)

    def suspend(self, seconds):
        self.advance(seconds)

    def step_wall(self, seconds=None, to=None):
        """Move only the wall clock, by seconds or to an aware datetime."""
        with self._lock:
            self._wall = to if to is not None else self._wall + timedelta(seconds=seconds)
