"""The fleet's simulated clock: epoch seconds that run ahead of the wall clock."""

import bisect
import time
from array import array


class SimulatedClock:
    """Simulated time in epoch seconds in `now`, paced to `speed` times real time, or unpaced when speed is None.

    The clock keeps checkpoints of when the wall clock saw each simulated
    moment, so a delivery can be measured in both simulated and wall time.
    """

    def __init__(self, start, speed=None):
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be above 0, not {speed!r}; leave it unset to run as fast as possible")
        self.start = start
        self.now = start
        self.speed = speed
        self.end = None
        self._wall_start = time.monotonic()
        self._wall_end = None
        self._simulated = array("d")
        self._wall = array("d")

    def begin(self):
        self._wall_start = time.monotonic()
        self.mark()

    def advance(self, moment):
        """Move to moment, first sleeping until the wall clock catches up when paced."""
        if self.speed is not None:
            delay = self._wall_start + (moment - self.start) / self.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.now = moment

    def mark(self):
        """Record that the wall clock reached the current simulated moment now."""
        self._simulated.append(self.now)
        self._wall.append(time.monotonic())

    def finish(self):
        self.end = self.now
        self._wall_end = time.monotonic()
        self.mark()

    @property
    def wall_start(self):
        return self._wall_start

    @property
    def wall_elapsed(self):
        return (self._wall_end or time.monotonic()) - self._wall_start

    def simulated_now(self):
        """Return the simulated time now, running on past the end at the run's own rate.

        Reading `now` directly would stop the clock at the end, and make
        deliveries after the end look faster than they were.
        """
        if self._wall_end is None:
            return self.now
        if self.speed is not None:
            rate = self.speed
        else:
            rate = (self.end - self.start) / max(self._wall_end - self._wall_start, 1e-9)
        return self.end + (time.monotonic() - self._wall_end) * rate

    def wall_at(self, moment):
        """Return the monotonic wall time at which the simulation reached moment."""
        position = bisect.bisect_left(self._simulated, moment)
        if position >= len(self._wall):
            return self._wall[-1] if self._wall else self._wall_start
        return self._wall[position]
