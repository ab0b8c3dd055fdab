"""The fleet's simulated clock: epoch seconds that run ahead of the wall clock."""

import time


class SimulatedClock:
    """Simulated time in epoch seconds in `now`, paced to `speed` times real time, or unpaced when speed is None."""

    def __init__(self, start, speed=None):
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be above 0, not {speed!r}; leave it unset to run as fast as possible")
        self.start = start
        self.now = start
        self.speed = speed
        self.end = None
        self._wall_start = time.monotonic()
        self._wall_end = None

    def begin(self):
        self._wall_start = time.monotonic()

    def advance(self, moment):
        """Move to moment, first sleeping until the wall clock catches up when paced."""
        if self.speed is not None:
            delay = self._wall_start + (moment - self.start) / self.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.now = moment

    def finish(self):
        self.end = self.now
        self._wall_end = time.monotonic()

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
            if self.speed is None:
                return self.now
            # Paced, `now` waits at the last due time while the loop sleeps towards the next.
            return max(self.now, self.start + (time.monotonic() - self._wall_start) * self.speed)
        return self.end + (time.monotonic() - self._wall_end) * self.rate

    @property
    def rate(self):
        """Return simulated seconds per wall second: the speed, or the run's average when unpaced."""
        if self.speed is not None:
            return self.speed
        wall_end = self._wall_end or time.monotonic()
        return (self.now - self.start) / max(wall_end - self._wall_start, 1e-9)
