"""Monitor events, heartbeat included, against a real profile store on loopback."""

import dataclasses

import httpx

from agent.clock import ManualClock
from agent.daemon import Agent
from agent.scheduler import InlineExecutor
from agent.sources.host import HostSource
from tests.monitors.conftest import event_monitor, make_config, set_zone


def stored_profile(store, app_id, device_id):
    response = httpx.get(f"{store.url}/resources/v2/customerappprofile/{app_id}/profiles", headers={"key": store.key})
    response.raise_for_status()
    [profile] = [profile for profile in response.json()["profiles"] if profile["deviceId"] == device_id]
    return profile


def test_store_applies_changes_and_heartbeat(tmp_path, fake_root, profile_store):
    config = make_config(tmp_path / "state", [event_monitor("timezone"), event_monitor("language")], heartbeat=86400.0)
    (tmp_path / "key").write_text(profile_store.key)
    (tmp_path / "key").chmod(0o600)
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, url=profile_store.url, key_file=str(tmp_path / "key")))
    clock = ManualClock()
    agent = Agent(config, source=HostSource(fake_root, environ={}), clock=clock, threads=False).open()
    try:
        agent.start(executor=InlineExecutor())
        agent.scheduler.run_pending()
        set_zone(fake_root, "America/New_York")
        agent.scheduler.notify(["timezone"], 0.0)
        agent.scheduler.run_pending()
        clock.advance(86400)
        agent.scheduler.run_pending()

        assert agent.sender.drain()
        assert agent.outbox.dead_letter_count() == 0
        profile = stored_profile(profile_store, config.device.app_id, agent.device.device_id)
    finally:
        agent.stop(flush_timeout=1.0)
        agent.close()

    assert profile["attributes"]["timezone"]["value"] == "America/New_York"
    assert profile["attributes"]["language"]["value"] == "de-DE"
    assert profile["attributes"]["timezone"]["kind"] == "heartbeat"
