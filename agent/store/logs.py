"""A logger wrapper that limits how many lines a flood of repeats can write."""

import threading
import time


class RepeatLimitedLog:
    """Info-level log that writes at most burst lines per period seconds and counts the rest.

    The count of lines left out is logged before the first line of the next
    period, so a client that sends bad requests in a loop cannot fill the log.
    """

    def __init__(self, logger, burst=20, period=60.0, clock=time.monotonic):
        self.logger = logger
        self.burst = burst
        self.period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._period_start = clock()
        self._written = 0
        self._left_out = 0

    def info(self, message, *args):
        with self._lock:
            now = self._clock()
            if now - self._period_start >= self.period:
                if self._left_out:
                    self.logger.info(
                        "%d more lines like the above were not logged in the last %.0f s",
                        self._left_out, now - self._period_start,
                    )
                self._period_start = now
                self._written = 0
                self._left_out = 0
            if self._written >= self.burst:
                self._left_out += 1
                return
            self._written += 1
        self.logger.info(message, *args)
