"""Scheduling rules: when each monitor is next due, on any clock.

The rules are pure functions of times in seconds, so the daemon, the
fleet simulator and the tests with a controlled clock share them. Feed
them a clock that never steps backwards: the daemon uses CLOCK_BOOTTIME.
On a clock that steps backwards a due time can lie far ahead and stall.
"""

import math
import random
from datetime import timedelta

from agent.catalog import Kind

# One-time captures whose source is not ready are retried after these
# delays in seconds, the last one repeating until the capture succeeds.
ONE_TIME_RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0, 900.0)

# A heartbeat recorded more than this far ahead of the wall clock was
# recorded while the clock was wrong, so it says nothing about when the
# last heartbeat went out.
HEARTBEAT_FUTURE_TOLERANCE = timedelta(days=1)


class Schedule:
    """When one monitor is due: at start, then every period on a fixed grid.

    The grid is first_due + k * period, so runs never drift. Jitter delays
    each run by up to `jitter` seconds without moving the grid. A run that
    happens more than a period late (a suspend, a stalled process) is the
    one catch-up run, and the next run is the next grid point after it.
    """

    def __init__(self, monitor, rng=None, period=None):
        self.monitor = monitor
        if period is not None:
            self.period = period
        elif monitor.kind is Kind.INTERVAL:
            self.period = monitor.interval
        elif monitor.kind is Kind.EVENT:
            self.period = monitor.poll_interval
        else:
            self.period = None
        self.jitter = monitor.jitter or 0.0
        self._rng = rng or random.Random()
        # (due time handed out, grid point it was jittered from)
        self._last = None

    def first_due(self, now):
        """Return now: every monitor is captured once at start."""
        self._last = (now, now)
        return now

    def next_due(self, previous_due, now):
        """Return the next due time after a run that was due at previous_due and ran at now.

        Return None for a monitor without a period (one-time monitors).
        """
        if self.period is None:
            return None
        grid = self._grid_point(previous_due)
        following = grid + self.period
        if following <= now:
            # The missed grid points collapse into the run that just happened.
            missed = math.floor((now - grid) / self.period)
            following = grid + (missed + 1) * self.period
        due = following + (self._rng.uniform(0, self.jitter) if self.jitter else 0.0)
        self._last = (due, following)
        return due

    def _grid_point(self, due):
        if self._last is not None and self._last[0] == due:
            return self._last[1]
        return due


def retry_delay(failures):
    """Return the seconds to wait before retrying a one-time capture that failed `failures` times."""
    index = min(max(failures, 1), len(ONE_TIME_RETRY_DELAYS)) - 1
    return ONE_TIME_RETRY_DELAYS[index]


def heartbeat_wait(last_sent, now, period):
    """Return the seconds until the next heartbeat is due, 0 when it is due now.

    last_sent and now are aware wall-clock datetimes, period is seconds.
    Wall time is used because the steady clock restarts at every boot.
    A missing last_sent, or one far in the future, means due now.
    """
    if last_sent is None or last_sent - now > HEARTBEAT_FUTURE_TOLERANCE:
        return 0.0
    remaining = (last_sent - now).total_seconds() + period
    return max(0.0, remaining)
