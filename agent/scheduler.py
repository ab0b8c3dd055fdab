"""The scheduler: one thread that runs every monitor when it is due.

Due times come from the rules in agent.scheduling, on the steady clock
(CLOCK_BOOTTIME), so wall-clock steps neither stall nor storm the
schedule. The same thread waits on the watchers' file descriptors, so
one timer and one select() serve all monitors. Captures run on a small
thread pool, so a slow collector delays only itself.

APScheduler 3.x is not used here: its triggers and its wait loop compare
due times with the wall clock, so a backward step stalls interval jobs
until the wall clock catches up again.
"""

import concurrent.futures
import logging
import os
import selectors
import threading
import time
from dataclasses import dataclass, field

from agent.clock import ALARM_HORIZON_SECONDS, SystemClock, boot_timer, wall_clock_alarm

log = logging.getLogger("agent.scheduler")

# The maximum time the thread sleeps without reading the clocks when the
# kernel has no timerfd. It bounds how late a wall-clock step is noticed,
# and how late catch-up runs start after a resume, because select() sleeps
# on CLOCK_MONOTONIC, which stops during suspend.
MAX_WAIT_SECONDS = 30.0

# A change of (wall clock - steady clock) larger than this is a clock
# step. NTP slewing changes it by at most 0.5 ms per second.
STEP_THRESHOLD_SECONDS = 1.0

CAPTURE_THREADS = 4


@dataclass
class Job:
    """One monitor (or the heartbeat) in the scheduler."""

    key: str
    action: object
    schedule: object = None
    # Next due time on the grid of the monitor's schedule, steady seconds.
    periodic_due: float | None = None
    # Next one-shot due time: a watcher notification, a retry or a catch-up.
    extra_due: float | None = None
    running: bool = False
    # Run again as soon as the current run ends (notified while running).
    rerun: bool = False
    skipped: int = 0
    runs: int = 0
    future: object = field(default=None, repr=False)

    def due(self):
        dues = [due for due in (self.periodic_due, self.extra_due) if due is not None]
        return min(dues) if dues else None


class InlineExecutor:
    """Runs each capture at once in the caller's thread; for tests and simulations."""

    def submit(self, function, *args):
        future = concurrent.futures.Future()
        try:
            future.set_result(function(*args))
        except BaseException as error:  # noqa: BLE001 - handed to the future like a pool does
            future.set_exception(error)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


class Scheduler:
    def __init__(self, clock, executor=None):
        self.clock = clock
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(CAPTURE_THREADS, thread_name_prefix="capture")
        self.jobs = {}
        self.on_notify = None
        self._lock = threading.RLock()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._watchers = {}
        self._offset = self._wall_offset()
        self._stop = threading.Event()
        self._thread = None
        self._timer = self._alarm = None
        if isinstance(clock, SystemClock):
            self._open_timers()

    def _open_timers(self):
        """Wake on a boot-clock timer and on wall-clock sets, instead of every MAX_WAIT_SECONDS."""
        try:
            self._timer = boot_timer()
            self._alarm = wall_clock_alarm()
        except OSError as error:
            log.info("No timerfd (%s); the scheduler reads the clocks every %gs instead", error, MAX_WAIT_SECONDS)
            if self._timer is not None:
                self._timer.close()
            self._timer = self._alarm = None
            return
        self._selector.register(self._timer.fileno(), selectors.EVENT_READ, self._timer)
        self._selector.register(self._alarm.fileno(), selectors.EVENT_READ, self._alarm)

    # jobs

    def add(self, key, action, schedule=None, due=None):
        """Add or replace a job; a schedule makes it periodic, due (steady seconds) runs it once."""
        now = self.clock.steady()
        job = Job(key, action, schedule)
        if schedule is not None and schedule.period is not None:
            job.periodic_due = schedule.first_due(now)
        else:
            job.extra_due = now if due is None else due
        with self._lock:
            self.jobs[key] = job
        self.wake()
        return job

    def remove(self, key):
        with self._lock:
            self.jobs.pop(key, None)

    def run_in(self, key, delay):
        """Run a job once, `delay` seconds from now, unless it is due sooner already."""
        due = self.clock.steady() + delay
        with self._lock:
            job = self.jobs.get(key)
            if job is None:
                return False
            if job.extra_due is None or due < job.extra_due:
                job.extra_due = due
        self.wake()
        return True

    def notify(self, keys, delay):
        """Run the jobs of attributes that may have changed, after the debounce delay."""
        for key in keys:
            self.run_in(key, delay)

    def catch_up(self):
        """Run every job once now, keeping each periodic grid."""
        with self._lock:
            keys = list(self.jobs)
        for key in keys:
            self.run_in(key, 0.0)

    # the loop

    def run_pending(self):
        """Start every job that is due and return the seconds until the next one is due, or None."""
        now = self.clock.steady()
        self._check_wall_clock()
        starting = []
        with self._lock:
            for job in self.jobs.values():
                if self._take_due(job, now):
                    job.running = True
                    starting.append(job)
        for job in starting:
            job.future = self.executor.submit(self._run, job)
        return self.next_wait()

    def next_wait(self):
        now = self.clock.steady()
        with self._lock:
            dues = [job.due() for job in self.jobs.values() if not job.running and job.due() is not None]
        return max(0.0, min(dues) - now) if dues else None

    def _take_due(self, job, now):
        """Advance a due job's times; return True when it should start now."""
        due = job.due()
        if due is None or due > now:
            return False
        periodic = job.periodic_due is not None and job.periodic_due <= now
        if periodic:
            job.periodic_due = job.schedule.next_due(job.periodic_due, now)
        notified = job.extra_due is not None and job.extra_due <= now
        if notified:
            job.extra_due = None
        if not job.running:
            return True
        if notified:
            job.rerun = True
        elif periodic:
            job.skipped += 1
            # One warning per overrun, not one per missed run.
            if job.skipped == 1:
                log.warning("Capture of %s is still running after its period; skipping this run and any more until it ends", job.key)
        return False

    def _run(self, job):
        try:
            job.action()
        except Exception:  # noqa: BLE001 - a failing job never stops the scheduler
            log.exception("Job %s failed; it runs again when next due", job.key)
        finally:
            with self._lock:
                job.running = False
                job.runs += 1
                if job.skipped:
                    log.info("Capture of %s finished after skipping %d runs", job.key, job.skipped)
                    job.skipped = 0
                if job.rerun:
                    job.rerun = False
                    job.extra_due = self.clock.steady()
            self.wake()

    def _wall_offset(self):
        return self.clock.wall().timestamp() - self.clock.steady()

    def _check_wall_clock(self):
        offset = self._wall_offset()
        step = offset - self._offset
        self._offset = offset
        if step > STEP_THRESHOLD_SECONDS:
            log.info("Wall clock stepped forward by %.1f s; running each monitor once to catch up", step)
            self.catch_up()
        elif step < -STEP_THRESHOLD_SECONDS:
            log.info("Wall clock stepped backward by %.1f s; the schedule is unaffected", -step)

    # watchers

    def add_watcher(self, watcher, on_failure):
        """Wait on a watcher's descriptor; on_failure(watcher, error) is called when reading it fails."""
        with self._lock:
            self._watchers[watcher.fileno()] = (watcher, on_failure)
            self._selector.register(watcher.fileno(), selectors.EVENT_READ, watcher)
        self.wake()

    def remove_watchers(self):
        with self._lock:
            for fileno, (watcher, _) in list(self._watchers.items()):
                self._selector.unregister(fileno)
                watcher.close()
            self._watchers.clear()

    def _read_watcher(self, watcher):
        try:
            attributes = watcher.read()
        except Exception as error:  # noqa: BLE001 - a broken watcher falls back to polling, it never stops the scheduler
            _, on_failure = self._watchers.pop(watcher.fileno())
            self._selector.unregister(watcher.fileno())
            watcher.close()
            on_failure(watcher, error)
            return
        if attributes and self.on_notify is not None:
            self.on_notify(attributes)

    # thread

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def wake(self):
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # the pipe is full, so a wake-up is pending already

    def _loop(self):
        while not self._stop.is_set():
            try:
                self._iterate()
            except Exception:  # noqa: BLE001 - the one timer thread must outlive any bug in a step
                log.exception("Scheduler step failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _iterate(self):
        wait = self.run_pending()
        if self._timer is not None:
            self._timer.arm_at(None if wait is None else self.clock.steady() + wait)
            self.poll_watchers(None)
        else:
            self.poll_watchers(MAX_WAIT_SECONDS if wait is None else min(wait, MAX_WAIT_SECONDS))

    def poll_watchers(self, timeout):
        """Wait up to timeout seconds (None: until woken) for a watcher, a timer or a wake-up, and handle it."""
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                _drain(self._wake_read)
            elif key.data is self._timer:
                self._timer.clear()
            elif key.data is self._alarm:
                # The wall clock was set; run_pending() reads the clocks next and catches up.
                self._alarm.clear()
                self._alarm.arm_at(time.time() + ALARM_HORIZON_SECONDS)
            else:
                self._read_watcher(key.data)

    def stop(self, timeout=5.0):
        """Stop the thread and wait up to timeout seconds for running captures."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            running = [job.future for job in self.jobs.values() if job.running and job.future is not None]
        _, still_running = concurrent.futures.wait(running, timeout=timeout)
        if still_running:
            log.warning("%d captures still run %gs after stop; their results are dropped", len(still_running), timeout)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.remove_watchers()
        for timer in (self._timer, self._alarm):
            if timer is not None:
                timer.close()
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
