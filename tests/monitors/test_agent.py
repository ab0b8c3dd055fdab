"""The agent with a manual clock: one-time retries, re-registration, heartbeat, clock steps and DST."""

import dataclasses
import itertools
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from agent.catalog import Kind
from agent.errors import NotSupported, Unavailable
from agent.events import KIND_HEARTBEAT
from tests.monitors.conftest import (
    FakeSource,
    event_monitor,
    interval_monitor,
    make_config,
    one_time_monitor,
    outbox_events,
    set_zone,
    updates,
)


def values_of(events, attribute):
    return [event["attributes"][attribute]["value"] for event in events if attribute in event["attributes"]]


# one-time monitors


def test_one_time_unavailable_is_retried(open_agent, fake_root, clock, caplog):
    source = FakeSource(fake_root, {"ram": Unavailable("memory controller not ready")})
    with caplog.at_level(logging.INFO, logger="agent.daemon"):
        agent = open_agent([one_time_monitor("ram")], source=source)

    # Not sent, not kept, not done: the capture is retried after 5 s, then 15 s.
    assert updates(agent, "ram") == []
    assert agent.tracker.last_payload(agent.device.device_id, "ram") is None
    assert not agent.one_time_done("ram")
    clock.advance(5)
    agent.scheduler.run_pending()
    assert source.calls.count("ram") == 2

    source.values["ram"] = 8_000_000_000
    with caplog.at_level(logging.INFO, logger="agent.daemon"):
        clock.advance(14)
        agent.scheduler.run_pending()
        assert source.calls.count("ram") == 2
        clock.advance(1)
        agent.scheduler.run_pending()

    assert values_of(updates(agent, "ram"), "ram") == [8_000_000_000]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING and "ram" in record.getMessage()]
    assert len(warnings) == 1
    assert "succeeded after 2 failed attempts" in caplog.text
    assert agent.one_time_done("ram")
    assert "ram" not in agent.scheduler.jobs


def test_one_time_unsupported_is_final(open_agent, fake_root, clock):
    source = FakeSource(fake_root, {"imei": NotSupported("this device has no modem")})
    agent = open_agent([one_time_monitor("imei")], source=source)

    [event] = updates(agent, "imei")
    assert event["attributes"]["imei"]["status"] == "unsupported"
    assert event["kind"] == "one_time"
    assert agent.one_time_done("imei")
    clock.advance(3600)
    agent.scheduler.run_pending()
    assert source.calls.count("imei") == 1


def test_one_time_done_survives_restart(open_agent, fake_root, tmp_path):
    first = open_agent([one_time_monitor("ram")], source=FakeSource(fake_root, {"ram": 4096}))
    first.close()

    source = FakeSource(fake_root, {"ram": 4096})
    second = open_agent([one_time_monitor("ram")], source=source)

    assert source.calls == []
    assert second.one_time_done("ram")


def test_user_id_change_captures_again(open_agent, fake_root, tmp_path):
    source = FakeSource(fake_root, {"ram": 4096})
    agent = open_agent([one_time_monitor("ram")], source=source)

    agent.reload(make_config(tmp_path / "state", [one_time_monitor("ram")], user_id="user-2"))
    agent.scheduler.run_pending()

    registrations = [event for event in outbox_events(agent) if event["type"] == "registration"]
    assert [event["profile"]["userId"] for event in registrations] == ["user-1", "user-2"]
    assert source.calls == ["ram", "ram"]
    assert len(updates(agent, "ram")) == 2


def test_register_force_captures_again(open_agent, fake_root, tmp_path, capsys):
    from agent.cli import main

    state_dir = tmp_path / "state"
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(
        "device: {platform: linux, app_id: app-1, user_id: user-1, device_id: device-1}\n"
        "monitors: {one_time: [ram]}\n"
        f"state_dir: {state_dir}\n"
    )
    source = FakeSource(fake_root, {"ram": 4096})
    agent = open_agent([one_time_monitor("ram")], source=source)

    assert main(["register", "--force", "--config", str(config_path)]) == 0
    assert "Queued a new registration of device device-1" in capsys.readouterr().out
    agent.reload(agent.config)
    agent.scheduler.run_pending()

    registrations = [event for event in outbox_events(agent) if event["type"] == "registration"]
    assert len(registrations) == 2
    assert source.calls == ["ram", "ram"]


def test_register_without_force_is_a_no_op(tmp_path, capsys):
    from agent.cli import main

    config_path = tmp_path / "agent.yaml"
    config_path.write_text("device: {platform: linux, app_id: app-1, user_id: user-1, device_id: device-1}\nmonitors: {one_time: [ram]}\n")
    state_dir = tmp_path / "state"

    assert main(["register", "--config", str(config_path), "--state-dir", str(state_dir)]) == 0
    assert main(["register", "--config", str(config_path), "--state-dir", str(state_dir)]) == 0
    assert "pass --force" in capsys.readouterr().out


# event-based monitors


def test_timezone_change_while_running(open_agent, fake_root, clock, monkeypatch):
    tzset_calls = []
    monkeypatch.setattr(time, "tzset", lambda: tzset_calls.append(1))
    agent = open_agent([event_monitor("timezone", poll_interval=30)])
    assert agent.scheduler.jobs["timezone"].schedule.period == 3600  # native watch: slow resync only
    assert values_of(updates(agent, "timezone"), "timezone") == ["Europe/Berlin"]

    set_zone(fake_root, "America/New_York")
    for _ in range(10):
        agent.scheduler.poll_watchers(0.5)
        if agent.scheduler.jobs["timezone"].extra_due is not None:
            break
    clock.advance(0.02)
    agent.scheduler.run_pending()

    events = updates(agent, "timezone")
    assert values_of(events, "timezone") == ["Europe/Berlin", "America/New_York"]
    assert events[-1]["kind"] == "event"
    assert datetime.fromisoformat(events[-1]["captured_at"]) == clock.wall()
    assert events[-1]["captured_at"].endswith("+00:00")
    assert len(tzset_calls) == 2


def test_unchanged_value_not_sent(open_agent, clock):
    agent = open_agent([event_monitor("timezone", poll_interval=30)])
    agent.scheduler.notify(["timezone"], 0.0)
    clock.advance(7200)
    agent.scheduler.run_pending()
    assert len(updates(agent, "timezone")) == 1


def test_unchanged_value_not_resent_after_restart(open_agent, fake_root):
    first = open_agent([event_monitor("language")])
    assert values_of(updates(first), "language") == ["de-DE"]
    first.close()

    second = open_agent([event_monitor("language")])
    assert values_of(updates(second), "language") == ["de-DE"]


def test_no_watcher_falls_back_to_polling(open_agent, tmp_path, caplog):
    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    agent = open_agent([event_monitor("timezone", poll_interval=30)], source=FakeSource(empty_root, {"timezone": "Etc/UTC"}))

    assert agent.scheduler.jobs["timezone"].schedule.period == 30
    assert "did not start" in caplog.text
    assert "polling them at their poll_interval" in caplog.text


# interval-based monitors, clock steps and DST


def counting_source(root, attribute):
    counter = itertools.count()
    return FakeSource(root, {attribute: lambda: next(counter)})


@pytest.mark.parametrize(
    "start",
    [datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc), datetime(2026, 10, 24, 12, 0, tzinfo=timezone.utc)],
    ids=["spring-forward", "fall-back"],
)
def test_interval_across_dst(berlin, open_agent, fake_root, clock, start):
    clock.step_wall(to=start)
    agent = open_agent([interval_monitor("battery_level", 3600)], source=counting_source(fake_root, "battery_level"))
    for _ in range(48 * 60):
        clock.advance(60)
        agent.scheduler.run_pending()

    captured = [datetime.fromisoformat(event["captured_at"]) for event in updates(agent, "battery_level")]

    assert len(captured) == 49
    assert {later - earlier for earlier, later in zip(captured, captured[1:])} == {timedelta(hours=1)}
    # The local clock jumps or repeats an hour in between; the schedule does not care.
    assert captured[0].astimezone().utcoffset() != captured[-1].astimezone().utcoffset()


def test_sequence_never_goes_backwards(open_agent, fake_root, clock):
    agent = open_agent([interval_monitor("battery_level", 60)], source=counting_source(fake_root, "battery_level"))
    steps = [
        timedelta(0),
        datetime(1970, 1, 1, tzinfo=timezone.utc) - clock.wall(),
        timedelta(days=365 * 60),
        timedelta(hours=-3),
    ]
    for step in steps:
        clock.step_wall(step.total_seconds())
        for _ in range(3):
            clock.advance(60)
            agent.scheduler.run_pending()

    sequences = [event["sequence"] for event in outbox_events(agent)]
    assert len(sequences) > len(steps) * 3
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


def test_boot_at_1970_then_ntp(open_agent, fake_root, clock):
    clock.step_wall(to=datetime(1970, 1, 1, 0, 0, 30, tzinfo=timezone.utc))
    agent = open_agent([interval_monitor("battery_level", 600)], source=counting_source(fake_root, "battery_level"))
    clock.advance(120)
    agent.scheduler.run_pending()

    clock.step_wall(to=datetime(2026, 3, 28, 8, 0, tzinfo=timezone.utc))
    agent.scheduler.run_pending()
    clock.advance(480)
    agent.scheduler.run_pending()

    events = [event for event in updates(agent, "battery_level") if event["kind"] == "interval"]
    captured = [datetime.fromisoformat(event["captured_at"]) for event in events]
    # Start, one catch-up at the correction, then the grid 600 s after start.
    assert [moment.year for moment in captured] == [1970, 2026, 2026]
    assert (captured[2] - captured[1]).total_seconds() == 480


# heartbeat


def test_heartbeat_sends_full_profile(open_agent, fake_root, clock):
    agent = open_agent([event_monitor("timezone"), event_monitor("language")], heartbeat=86400.0)
    assert [event for event in outbox_events(agent) if event["kind"] == KIND_HEARTBEAT] == []

    clock.advance(86400)
    agent.scheduler.run_pending()

    [heartbeat] = [event for event in outbox_events(agent) if event["kind"] == KIND_HEARTBEAT]
    assert heartbeat["type"] == "update"
    assert heartbeat["attributes"]["timezone"]["value"] == "Europe/Berlin"
    assert heartbeat["attributes"]["language"]["value"] == "de-DE"
    assert heartbeat["sequence"] > max(event["sequence"] for event in updates(agent) if event["kind"] != KIND_HEARTBEAT)
    assert agent.tracker.last_heartbeat(agent.device.device_id) == clock.wall()


def test_heartbeat_time_survives_restart(open_agent, clock):
    first = open_agent([event_monitor("timezone")], heartbeat=86400.0)
    clock.advance(86400)
    first.scheduler.run_pending()
    first.close()

    clock.advance(3600)
    second = open_agent([event_monitor("timezone")], heartbeat=86400.0)
    assert len([event for event in outbox_events(second) if event["kind"] == KIND_HEARTBEAT]) == 1


def test_heartbeat_far_in_future_is_due(open_agent, clock):
    first = open_agent([event_monitor("timezone")], heartbeat=86400.0)
    first.tracker.heartbeat(first.device.device_id, datetime(2030, 1, 1, tzinfo=timezone.utc))
    first.close()

    second = open_agent([event_monitor("timezone")], heartbeat=86400.0)
    heartbeats = [event for event in outbox_events(second) if event["kind"] == KIND_HEARTBEAT]
    assert [event["captured_at"][:4] for event in heartbeats] == ["2030", "2026"]


def test_monitor_kinds_on_events(open_agent, fake_root):
    source = FakeSource(fake_root, {"ram": 1, "battery_level": 50})
    agent = open_agent([one_time_monitor("ram"), event_monitor("timezone"), interval_monitor("battery_level", 300)], source=source)
    kinds = {next(iter(event["attributes"])): event["kind"] for event in updates(agent)}
    assert kinds == {"ram": Kind.ONE_TIME.value, "timezone": Kind.EVENT.value, "battery_level": Kind.INTERVAL.value}


# the real thing: threads, the system clock and inotify


def test_running_agent_sends_timezone_change(tmp_path, fake_root, monkeypatch):
    from agent.daemon import Agent
    from agent.sources.host import HostSource
    from tests.monitors.conftest import KEY_ENV

    monkeypatch.setenv(KEY_ENV, "test-key")
    monkeypatch.setattr(time, "tzset", lambda: None)
    config = make_config(tmp_path / "state", [event_monitor("timezone")])
    # Nothing listens at the store URL; a short flush keeps the sender's retries short.
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, flush_interval=0.1))
    agent = Agent(config, source=HostSource(fake_root, environ={})).open()
    try:
        agent.start()
        wait_for(lambda: values_of(updates(agent, "timezone"), "timezone") == ["Europe/Berlin"])

        set_zone(fake_root, "Asia/Tokyo")

        wait_for(lambda: values_of(updates(agent, "timezone"), "timezone") == ["Europe/Berlin", "Asia/Tokyo"])
    finally:
        agent.stop(flush_timeout=0.1)
        agent.close()


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_reload_keeps_unchanged_schedules(open_agent, fake_root, tmp_path, clock):
    source = FakeSource(fake_root, {"battery_level": 50, "ram": 1})
    battery = interval_monitor("battery_level", 600)
    agent = open_agent([battery, event_monitor("timezone")], source=source)
    due_before = agent.scheduler.jobs["battery_level"].periodic_due

    clock.advance(100)
    agent.reload(make_config(tmp_path / "state", [battery, one_time_monitor("ram")]))
    agent.scheduler.run_pending()

    assert agent.scheduler.jobs["battery_level"].periodic_due == due_before
    assert "timezone" not in agent.scheduler.jobs
    assert source.calls.count("battery_level") == 1
    assert source.calls.count("ram") == 1


def test_heartbeat_skips_omitted_and_removed(open_agent, tmp_path, clock):
    agent = open_agent([event_monitor("timezone"), event_monitor("language")], heartbeat=86400.0)
    omitted_language = dataclasses.replace(event_monitor("language"), privacy="omit")
    agent.reload(make_config(tmp_path / "state", [omitted_language], heartbeat=86400.0))

    clock.advance(86400)
    agent.scheduler.run_pending()

    heartbeats = [event for event in outbox_events(agent) if event["kind"] == KIND_HEARTBEAT]
    assert heartbeats == []
    assert agent.tracker.last_heartbeat(agent.device.device_id) == clock.wall()
