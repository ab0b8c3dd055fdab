"""Clocks: a steady one for scheduling and the wall clock for timestamps.

Scheduling runs on CLOCK_BOOTTIME, which never steps backwards and keeps
counting through suspend, so a resume looks like time that passed and not
like a clock step. Timestamps that leave the device come from the wall
clock in UTC. Nothing here caches the local zone.
"""

import ctypes
import ctypes.util
import errno
import os
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
    """A clock that moves only when a test or simulation moves it.

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


# Kernel timers as file descriptors, so the scheduler's select() wakes at a
# boot-clock time and when the wall clock is set. select() alone sleeps on
# CLOCK_MONOTONIC, which stops during suspend.

_CLOCK_REALTIME = 0
_CLOCK_BOOTTIME = 7
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2
# Ten years from now: far enough that the alarm only fires when the clock is set.
ALARM_HORIZON_SECONDS = 10 * 365 * 86400


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFD:
    """A Linux timerfd: readable once its absolute time passed or, with cancel_on_set, when the wall clock is set."""

    def __init__(self, clock_id, cancel_on_set=False):
        self._libc = _timerfd_libc()
        self._clock_id = clock_id
        self._flags = _TFD_TIMER_ABSTIME | (_TFD_TIMER_CANCEL_ON_SET if cancel_on_set else 0)
        self._fd = self._libc.timerfd_create(clock_id, os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), f"timerfd_create failed: {os.strerror(ctypes.get_errno())}")

    def fileno(self):
        return self._fd

    def arm_at(self, seconds):
        """Fire at an absolute time of this timer's clock, in seconds; None disarms."""
        spec = _Itimerspec()
        if seconds is not None:
            whole = int(seconds)
            nanoseconds = int((seconds - whole) * 1e9)
            if whole <= 0 and nanoseconds <= 0:
                # A zero it_value disarms, so a time at or before 0 becomes the smallest valid one.
                whole, nanoseconds = 0, 1
            spec.it_value = _Timespec(whole, nanoseconds)
        if self._libc.timerfd_settime(self._fd, self._flags, ctypes.byref(spec), None) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"timerfd_settime failed: {os.strerror(error)}")

    def clear(self):
        """Consume the expiry; return False when the wall clock was set (cancel_on_set timers)."""
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return True
        except OSError as error:
            if error.errno == errno.ECANCELED:
                return False
            raise
        return True

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def boot_timer():
    """Return a TimerFD on CLOCK_BOOTTIME, which keeps counting through suspend."""
    return TimerFD(_CLOCK_BOOTTIME)


def wall_clock_alarm():
    """Return a TimerFD that becomes readable when the wall clock is set."""
    alarm = TimerFD(_CLOCK_REALTIME, cancel_on_set=True)
    alarm.arm_at(time.time() + ALARM_HORIZON_SECONDS)
    return alarm


def _timerfd_libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if not hasattr(libc, "timerfd_create"):
        raise OSError(errno.ENOSYS, "this C library has no timerfd")
    libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.timerfd_create.restype = ctypes.c_int
    libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
    libc.timerfd_settime.restype = ctypes.c_int
    return libc
