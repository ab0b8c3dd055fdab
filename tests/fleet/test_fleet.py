import dataclasses
import json
import time
import xml.etree.ElementTree as ElementTree

import httpx
import pytest

from agent.cli import main
from agent.fleet import parse_mix
from agent.fleet.pytest_fixture import wait_for
from agent.fleet.runner import assign_mix
from agent.fleet.verify import verify_profiles
from agent.scenarios import load_scenario


def test_fleet_profiles_equal_final_state(run_fleet):
    summary = run_fleet(devices=40, duration="6h", seed=1)
    assert summary["verification"]["mismatches"] == 0, summary["verification"]["examples"]
    assert summary["verification"]["profiles_checked"] == 40
    assert summary["devices"]["by_mix"] == {"android:2.11": 16, "android:2.12": 12, "ios:2.12": 12}
    assert set(summary["events"]["by_kind"]) == {"registration", "one_time", "event", "interval"}
    assert summary["delivery"]["delivered"] == summary["events"]["total"]
    assert summary["delivery"]["pending"] == 0
    assert summary["delivery"]["dead_lettered"] == 0
    assert summary["latency"]["wall_seconds"]["p50"] >= 0


def test_fleet_covers_every_catalog_attribute(run_fleet):
    summary = run_fleet(devices=12, duration="12h", seed=2, mix="android:2.11=1,ios:2.11=1")
    by_attribute = summary["events"]["by_attribute"]
    for attribute in ("timezone", "language", "battery_level", "roaming", "connect_type", "geofence", "idle_screen", "foreground_app"):
        assert attribute in by_attribute
    assert by_attribute["battery_level"] == {"interval": by_attribute["battery_level"]["interval"]}
    assert summary["verification"]["mismatches"] == 0


def test_same_seed_gives_same_events(run_fleet):
    first = run_fleet(devices=20, duration="4h", seed=5, device_prefix="first")
    second = run_fleet(devices=20, duration="4h", seed=5, device_prefix="second")
    assert first["events"]["by_attribute"] == second["events"]["by_attribute"]
    assert first["captures"] == second["captures"]


def test_fleet_rides_through_store_outage(run_fleet, fleet_store):
    def stop(fleet):
        fleet_store.stop()

    def start(fleet):
        # Keep the store down until the sender has felt the outage.
        assert wait_for(lambda: fleet.stats.retried > 0, timeout=10)
        fleet_store.start()

    summary = run_fleet(devices=30, duration="6h", seed=3, hooks=[(2 * 3600, stop), (3 * 3600, start)])
    assert fleet_store.running
    assert summary["delivery"]["retried"] > 0
    assert summary["delivery"]["pending"] == 0
    assert summary["delivery"]["dead_lettered"] == 0
    assert summary["delivery"]["delivered"] == summary["events"]["total"]
    assert summary["verification"]["mismatches"] == 0, summary["verification"]["examples"]


def test_verification_finds_a_changed_profile(run_fleet, fleet_store):
    captured = {}

    def keep_expected(fleet):
        captured["fleet"] = fleet

    summary = run_fleet(devices=5, duration="1h", seed=4, hooks=[(3600, keep_expected)])
    assert summary["verification"]["mismatches"] == 0
    expected = captured["fleet"].expected_profiles()
    device_id = sorted(expected)[0]
    tampered = {device_id: {**expected[device_id], "timezone": ("ok", "Antarctica/Troll")}}
    report = verify_profiles(fleet_store.url, fleet_store.key, "fleet-app", tampered)
    assert report["mismatches"] == 1
    assert report["examples"][0]["attribute"] == "timezone"
    assert report["examples"][0]["problem"] == "differs"


def test_verification_finds_a_missing_profile(fleet_store):
    expected = {"never-sent": {"timezone": ("ok", "Europe/Berlin")}}
    report = verify_profiles(fleet_store.url, fleet_store.key, "fleet-app", expected)
    assert report["mismatches"] == 1
    assert report["examples"][0]["problem"] == "the store has no app profile for this device"


def test_verification_pages_through_profiles(run_fleet, monkeypatch):
    monkeypatch.setattr("agent.fleet.verify.PAGE_SIZE", 7)
    summary = run_fleet(devices=30, duration="30m", seed=6)
    assert summary["verification"]["profiles_checked"] == 30
    assert summary["verification"]["mismatches"] == 0


def test_poll_capture_uses_scheduling_rules(run_fleet):
    scenario = dataclasses.replace(load_scenario("default"), event_capture="poll", poll_interval=600.0)
    summary = run_fleet(devices=4, duration="1h", seed=7, mix="android:2.12=1", scenario=scenario)
    # 7 event-based monitors, polled at start and every 10 minutes up to and including the end.
    assert summary["captures"] == 4 * 7 * 7
    assert summary["verification"]["mismatches"] == 0


def test_speed_paces_simulated_time(run_fleet):
    started = time.monotonic()
    summary = run_fleet(devices=2, duration="1h", seed=8, speed=7200.0)
    assert time.monotonic() - started >= 0.45
    assert summary["latency"]["simulated_seconds"]["max"] > 0
    assert summary["verification"]["mismatches"] == 0


def test_privacy_hash_leaves_no_raw_value(run_fleet, fleet_store):
    run_fleet(devices=4, duration="10m", seed=9, mix="android:2.11=1")
    response = httpx.get(
        f"{fleet_store.url}/resources/v2/customerappprofile/fleet-app/profiles",
        headers={"key": fleet_store.key},
    )
    for profile in response.json()["profiles"]:
        assert profile["attributes"]["imei"]["value"].startswith("hmac-sha256:")
        assert profile["attributes"]["ram"]["value"] > 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("android:2.11=40,android:2.12=30,ios:2.12=30", (("android", "2.11", 40.0), ("android", "2.12", 30.0), ("ios", "2.12", 30.0))),
        ("linux", (("linux", None, 1.0),)),
    ],
)
def test_parse_mix(text, expected):
    assert parse_mix(text) == expected


@pytest.mark.parametrize("text", ["android:2.11=lots", "=3", "ios:2.12=0"])
def test_parse_mix_rejects_invalid(text):
    with pytest.raises(ValueError):
        parse_mix(text)


def test_assign_mix_sums_to_devices():
    assert assign_mix(10, parse_mix("a=1,b=1,c=1")) == [4, 3, 3]
    assert sum(assign_mix(10_000, parse_mix("android:2.11=40,android:2.12=30,ios:2.12=30"))) == 10_000


def test_simulate_command_writes_report(tmp_path, capsys):
    report = tmp_path / "out" / "fleet.json"
    status = main(["simulate", "--devices", "8", "--duration", "2h", "--seed", "2", "--report", str(report), "--state-dir", str(tmp_path / "state")])
    output = capsys.readouterr().out
    assert status == 0, output
    assert "verification 8 of 8 app profiles checked, 0 mismatches" in output
    summary = json.loads(report.read_text())
    assert summary["devices"]["total"] == 8
    assert summary["verification"]["mismatches"] == 0
    chart = ElementTree.parse(report.with_suffix(".svg")).getroot()
    assert chart.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(chart.findall("{http://www.w3.org/2000/svg}polyline")) == 4


def test_simulate_command_fails_on_mismatch(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "agent.fleet.verify.compare_profile",
        lambda device_id, expected, stored: [{"device_id": device_id, "attribute": "timezone", "problem": "differs"}],
    )
    status = main(["simulate", "--devices", "3", "--duration", "30m", "--state-dir", str(tmp_path / "state")])
    captured = capsys.readouterr()
    assert status == 1
    assert "3 attributes in the store differ" in captured.err


def test_simulate_command_rejects_bad_mix(capsys):
    assert main(["simulate", "--mix", "android:2.11=many"]) == 1
    assert "invalid weight" in capsys.readouterr().err


def test_delivery_process_matches_threads(run_fleet):
    threads = run_fleet(devices=20, duration="3h", seed=10, device_prefix="threads")
    process = run_fleet(devices=20, duration="3h", seed=10, device_prefix="process", delivery="process")
    assert process["delivery"]["delivered"] == process["events"]["total"]
    assert process["delivery"]["pending"] == 0
    assert process["events"]["by_attribute"] == threads["events"]["by_attribute"]
    assert process["latency"]["wall_seconds"]["max"] >= process["latency"]["wall_seconds"]["p50"]
    assert process["verification"]["mismatches"] == 0, process["verification"]["examples"]


def test_delivery_process_rides_through_outage(run_fleet, fleet_store):
    def stop(fleet):
        fleet_store.stop()

    def start(fleet):
        time.sleep(0.5)
        fleet_store.start()

    summary = run_fleet(devices=10, duration="2h", seed=11, delivery="process", hooks=[(3600, stop), (5400, start)])
    assert summary["delivery"]["retried"] > 0
    assert summary["delivery"]["pending"] == 0
    assert summary["verification"]["mismatches"] == 0, summary["verification"]["examples"]


@pytest.mark.parametrize(
    ("mix", "message"),
    [("android:two=1", "'two' is not a version"), ("symbian:1.0=1", "unknown platform 'symbian'")],
)
def test_simulate_command_rejects_unknown_target(tmp_path, capsys, mix, message):
    assert main(["simulate", "--devices", "2", "--duration", "10m", "--mix", mix, "--state-dir", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err
