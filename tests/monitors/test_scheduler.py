"""The scheduler loop on a manual clock: suspend, clock steps, overruns and notifications."""

import concurrent.futures
import logging
import os
import select
import threading
from datetime import datetime, timezone

import pytest

from agent.clock import ManualClock, SystemClock, boot_timer, wall_clock_alarm
from agent.scheduler import InlineExecutor, Scheduler
from agent.scheduling import Schedule
from tests.monitors.conftest import interval_monitor


class Recorder:
    """A job action that records the steady time of each run."""

    def __init__(self, clock):
        self.clock = clock
        self.times = []

    def __call__(self):
        self.times.append(self.clock.steady())


def drive(scheduler, clock, seconds, step=1.0):
    """Advance the clock in steps, running what is due after each one."""
    scheduler.run_pending()
    elapsed = 0.0
    while elapsed < seconds:
        clock.advance(step)
        elapsed += step
        scheduler.run_pending()


def make(clock, period=60.0):
    scheduler = Scheduler(clock, InlineExecutor())
    recorder = Recorder(clock)
    scheduler.add("battery_level", recorder, Schedule(interval_monitor("battery_level", period)))
    return scheduler, recorder


def test_runs_at_start_and_every_period():
    clock = ManualClock(steady=0.0)
    scheduler, recorder = make(clock)
    drive(scheduler, clock, 600)
    assert recorder.times == [60.0 * k for k in range(11)]


def test_suspend_of_hours_gives_one_catch_up():
    clock = ManualClock(steady=0.0)
    scheduler, recorder = make(clock)
    drive(scheduler, clock, 120)
    clock.suspend(6 * 3600 + 30)
    drive(scheduler, clock, 60)

    after_resume = [time for time in recorder.times if time > 120]
    # One catch-up at the resume, then back on the grid of multiples of 60.
    assert after_resume[0] == 6 * 3600 + 150
    assert after_resume[1:] == [6 * 3600 + 180]


def test_forward_step_gives_one_catch_up():
    clock = ManualClock(steady=0.0)
    scheduler, recorder = make(clock)
    drive(scheduler, clock, 90)
    clock.step_wall(3 * 3600)
    drive(scheduler, clock, 60, step=1.0)

    # The step is noticed at 90 s: one catch-up there, then the grid goes on.
    assert recorder.times == [0.0, 60.0, 90.0, 120.0]


def test_backward_step_keeps_schedule():
    clock = ManualClock(steady=0.0)
    scheduler, recorder = make(clock)
    drive(scheduler, clock, 90)
    clock.step_wall(-2 * 3600)
    drive(scheduler, clock, 300)
    assert recorder.times == [60.0 * k for k in range(7)]


def test_boot_at_1970_corrected_by_ntp(caplog):
    clock = ManualClock(wall=datetime(1970, 1, 1, 0, 0, 10, tzinfo=timezone.utc), steady=10.0)
    scheduler, recorder = make(clock)
    drive(scheduler, clock, 100)

    with caplog.at_level(logging.INFO, logger="agent.scheduler"):
        clock.step_wall(to=datetime(2026, 3, 28, 9, 0, tzinfo=timezone.utc))
        drive(scheduler, clock, 200)

    assert recorder.times == [10.0, 70.0, 110.0, 130.0, 190.0, 250.0, 310.0]
    assert "stepped forward" in caplog.text


def test_overrun_is_skipped_with_one_warning(caplog):
    clock = ManualClock(steady=0.0)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    scheduler = Scheduler(clock, pool)
    release = threading.Event()
    started = []

    def slow():
        started.append(clock.steady())
        release.wait(10)

    scheduler.add("foreground_app", slow, Schedule(interval_monitor("foreground_app", 60)))
    with caplog.at_level(logging.WARNING, logger="agent.scheduler"):
        scheduler.run_pending()
        for _ in range(5):
            clock.advance(60)
            scheduler.run_pending()
    release.set()
    pool.shutdown(wait=True)

    assert started == [0.0]
    assert scheduler.jobs["foreground_app"].runs == 1
    warnings = [record for record in caplog.records if "still running" in record.getMessage()]
    assert len(warnings) == 1
    assert "foreground_app" in warnings[0].getMessage()


def test_notifications_are_debounced():
    clock = ManualClock(steady=0.0)
    scheduler = Scheduler(clock, InlineExecutor())
    recorder = Recorder(clock)
    scheduler.add("timezone", recorder, Schedule(interval_monitor("timezone", 3600)))
    scheduler.run_pending()

    # Four notifications inside one 20 ms window.
    for _ in range(4):
        scheduler.notify(["timezone"], 0.02)
        clock.advance(0.005)
        scheduler.run_pending()
    clock.advance(0.1)
    scheduler.run_pending()

    assert len(recorder.times) == 2
    assert recorder.times[1] == pytest.approx(0.02)


def test_notification_during_run_runs_again():
    clock = ManualClock(steady=0.0)
    scheduler = Scheduler(clock, InlineExecutor())
    calls = []

    def capture():
        calls.append(clock.steady())
        if len(calls) == 2:
            # A change arrives while this capture reads the old value.
            scheduler.notify(["timezone"], 0.0)
            scheduler.run_pending()

    scheduler.add("timezone", capture, Schedule(interval_monitor("timezone", 3600)))
    scheduler.run_pending()
    scheduler.notify(["timezone"], 0.0)
    scheduler.run_pending()
    scheduler.run_pending()
    assert len(calls) == 3


def test_thread_runs_notified_job():
    scheduler = Scheduler(SystemClock())
    ran = threading.Event()
    scheduler.add("timezone", ran.set, Schedule(interval_monitor("timezone", 3600)))
    scheduler.start()
    try:
        assert ran.wait(5)
        ran.clear()
        scheduler.notify(["timezone"], 0.0)
        assert ran.wait(5)
    finally:
        scheduler.stop()


def test_thread_runs_periodic_job_on_timer():
    scheduler = Scheduler(SystemClock())
    runs = []
    done = threading.Event()

    def record():
        runs.append(1)
        if len(runs) == 3:
            done.set()

    schedule = Schedule(interval_monitor("battery_level", 60), period=0.05)
    scheduler.add("battery_level", record, schedule)
    scheduler.start()
    try:
        assert scheduler._timer is not None
        assert done.wait(5)
    finally:
        scheduler.stop()


def test_boot_timer_fires_at_its_time():
    timer = boot_timer()
    try:
        timer.arm_at(SystemClock().steady() + 0.05)
        readable, _, _ = select.select([timer], [], [], 5)
        assert readable == [timer]
        assert timer.clear()
    finally:
        timer.close()


def test_wall_clock_alarm_stays_quiet():
    alarm = wall_clock_alarm()
    try:
        readable, _, _ = select.select([alarm], [], [], 0.05)
        assert readable == []
    finally:
        alarm.close()


class BrokenWatcher:
    """A watcher whose descriptor becomes readable and whose read() then fails."""

    name = "broken"
    attributes = frozenset({"timezone"})

    def __init__(self):
        self.read_end, self.write_end = os.pipe()

    def fileno(self):
        return self.read_end

    def read(self):
        raise ValueError("malformed message")

    def close(self):
        os.close(self.read_end)
        os.close(self.write_end)


def test_failing_watcher_is_dropped():
    clock = ManualClock(steady=0.0)
    scheduler = Scheduler(clock, InlineExecutor())
    watcher = BrokenWatcher()
    failures = []
    scheduler.add_watcher(watcher, lambda failed, error: failures.append((failed, str(error))))

    os.write(watcher.write_end, b"x")
    for _ in range(3):
        scheduler.poll_watchers(0.5)

    assert failures == [(watcher, "malformed message")]
    assert scheduler._watchers == {}
