"""The scheduling rules on plain numbers: grid, jitter, catch-up, retries and heartbeat."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from agent.scheduling import ONE_TIME_RETRY_DELAYS, Schedule, heartbeat_wait, retry_delay
from tests.monitors.conftest import event_monitor, interval_monitor, one_time_monitor


def run(schedule, start, until, late_by=0.0):
    """Run a schedule on a perfect clock from start to until; return the times it ran."""
    times = []
    due = schedule.first_due(start)
    while due <= until:
        ran_at = due + late_by
        times.append(ran_at)
        due = schedule.next_due(due, ran_at)
    return times


def test_first_due_is_now():
    assert Schedule(interval_monitor("battery_level", 60)).first_due(123.5) == 123.5


def test_interval_stays_on_grid():
    times = run(Schedule(interval_monitor("battery_level", 60)), 1000.0, 1000.0 + 24 * 3600)
    assert len(times) == 24 * 60 + 1
    assert times[-1] == 1000.0 + 24 * 3600


def test_late_runs_do_not_drift():
    # Each run starts 0.3 s late, as a busy machine would; the grid stays.
    times = run(Schedule(interval_monitor("battery_level", 60)), 0.0, 3600.0, late_by=0.3)
    assert times[-1] == pytest.approx(3600.3)


def test_jitter_does_not_drift():
    schedule = Schedule(interval_monitor("battery_level", 60, jitter=10), rng=random.Random(7))
    times = run(schedule, 0.0, 36000.0)
    offsets = [time - 60 * round(time / 60) for time in times]
    assert len(times) in (600, 601)
    assert all(0 <= offset <= 10 for offset in offsets)
    assert max(offsets) > 5


def test_gap_of_hours_gives_one_catch_up():
    schedule = Schedule(interval_monitor("battery_level", 60))
    due = schedule.first_due(0.0)
    due = schedule.next_due(due, 0.0)
    assert due == 60.0

    # Suspended for five hours: the run due at 60 happens at 18000.5.
    catch_up_at = 5 * 3600 + 0.5
    following = schedule.next_due(due, catch_up_at)

    assert following == 5 * 3600 + 60.0
    assert following > catch_up_at


def test_event_monitor_polls_at_poll_interval():
    schedule = Schedule(event_monitor("timezone", poll_interval=30))
    assert schedule.next_due(schedule.first_due(0.0), 0.0) == 30.0


def test_period_override():
    schedule = Schedule(event_monitor("timezone", poll_interval=30), period=3600)
    assert schedule.next_due(0.0, 0.0) == 3600.0


def test_one_time_has_no_next_due():
    schedule = Schedule(one_time_monitor("ram"))
    assert schedule.next_due(schedule.first_due(0.0), 0.0) is None


def test_retry_delay_backs_off_then_repeats():
    delays = [retry_delay(failures) for failures in range(1, 9)]
    assert delays[: len(ONE_TIME_RETRY_DELAYS)] == list(ONE_TIME_RETRY_DELAYS)
    assert delays[-1] == ONE_TIME_RETRY_DELAYS[-1]
    assert delays == sorted(delays)


NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
PERIOD = 15 * 86400.0


@pytest.mark.parametrize(
    ("last_sent", "expected"),
    [
        (None, 0.0),
        (NOW, PERIOD),
        (NOW - timedelta(days=10), 5 * 86400.0),
        (NOW - timedelta(days=20), 0.0),
        # Sent while the clock read 2026, now it reads 1970: not a reason to wait 56 years.
        (NOW + timedelta(days=365 * 56), 0.0),
    ],
    ids=["never", "just-sent", "ten-days-ago", "overdue", "far-future"],
)
def test_heartbeat_wait(last_sent, expected):
    assert heartbeat_wait(last_sent, NOW, PERIOD) == pytest.approx(expected)
