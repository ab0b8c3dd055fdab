"""A reload that shortens the heartbeat period, on the agent driven by a manual clock."""

from agent.events import KIND_HEARTBEAT
from tests.monitors.conftest import clock, event_monitor, fake_root, make_config, open_agent, outbox_events  # noqa: F401 - fixtures

DAY = 86400.0


def test_reload_shorter_heartbeat_applies(open_agent, tmp_path, clock):
    agent = open_agent([event_monitor("timezone")], heartbeat=15 * DAY)

    agent.reload(make_config(tmp_path / "state", [event_monitor("timezone")], heartbeat=3600.0))
    clock.advance(2 * 3600)
    agent.scheduler.run_pending()

    # The new period is one hour, so two hours after the registration a heartbeat is due.
    heartbeats = [event for event in outbox_events(agent) if event["kind"] == KIND_HEARTBEAT]
    assert len(heartbeats) >= 1
