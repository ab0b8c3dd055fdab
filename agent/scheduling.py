"""Scheduling rules: when each monitor is next due, on any clock.

The rules are pure functions of times in seconds, so the daemon, the
fleet simulator and the tests with a controlled clock share them. The
daemon feeds them a clock that never steps backwards.
"""

import random

from agent.catalog import Kind


class Schedule:
    """When one monitor is due: at start, then every period, with one catch-up after a gap."""

    def __init__(self, monitor, rng=None):
        self.monitor = monitor
        if monitor.kind is Kind.INTERVAL:
            self.period = monitor.interval
        elif monitor.kind is Kind.EVENT:
            self.period = monitor.poll_interval
        else:
            self.period = None
        self.jitter = monitor.jitter or 0.0
        self._rng = rng or random.Random()

    def first_due(self, now):
        return now

    def next_due(self, previous_due, now):
        """Return the next due time after a run that was due at previous_due and ran at now.

        Due times stay on the grid previous_due + k * period, so runs do not
        drift. When the grid fell behind now (a suspend, a stalled process),
        the missed runs collapse into one catch-up run at now.
        """
        if self.period is None:
            return None
        due = previous_due + self.period
        if due <= now:
            return now
        return due + (self._rng.uniform(0, self.jitter) if self.jitter else 0.0)
