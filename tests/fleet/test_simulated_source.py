import dataclasses
import ipaddress
import re

import pytest

from agent.catalog import load_catalog
from agent.errors import CollectorError, NotSupported, Unavailable
from agent.scenarios import distance_m, load_scenario
from agent.sources.simulated import SimulatedSource, luhn_check_digit

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0


class Clock:
    def __init__(self, now=START):
        self.now = now


def device(platform="android", sdk="2.11", seed=7, index=0, scenario=None):
    clock = Clock()
    source = SimulatedSource(platform, sdk, scenario or load_scenario("default"), seed, index, clock, START)
    return source, clock


def read(source, attribute):
    try:
        return ("ok", source.collect(attribute))
    except CollectorError as error:
        return (error.status, error.reason)


def timeline(source, clock, attributes, hours=24, step=600.0):
    values = []
    moment = START
    while moment <= START + hours * HOUR:
        clock.now = moment
        values.append({attribute: read(source, attribute) for attribute in attributes})
        moment += step
    return values


ANDROID_211 = list(load_catalog().offer("android", "2.11").kinds)


def test_same_seed_gives_same_device():
    first, first_clock = device(seed=11, index=4)
    second, second_clock = device(seed=11, index=4)
    assert first.machine_id() == second.machine_id()
    assert timeline(first, first_clock, ANDROID_211) == timeline(second, second_clock, ANDROID_211)


def test_other_index_gives_other_device():
    first, first_clock = device(seed=11, index=4)
    second, second_clock = device(seed=11, index=5)
    assert first.machine_id() != second.machine_id()
    assert timeline(first, first_clock, ANDROID_211) != timeline(second, second_clock, ANDROID_211)


@pytest.mark.parametrize("index", range(12))
def test_values_have_catalog_types_and_units(index):
    source, clock = device(index=index)
    for values in timeline(source, clock, ANDROID_211, step=1800.0):
        for attribute, (status, value) in values.items():
            if status == "ok":
                check_value(attribute, value)


def check_value(attribute, value):
    if attribute == "mcc":
        assert re.fullmatch(r"\d{3}", value), value
    elif attribute == "mnc":
        assert re.fullmatch(r"\d{2,3}", value), value
    elif attribute == "location":
        assert set(value) == {"latitude", "longitude", "accuracy"}
        assert -90 <= value["latitude"] <= 90
        assert -180 <= value["longitude"] <= 180
        assert value["accuracy"] > 0
    elif attribute == "device_ip":
        assert isinstance(value, list) and value
        for address in value:
            assert str(ipaddress.ip_address(address)) == address
    elif attribute in ("battery_level", "signal_strength"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        assert 0 <= value <= 100
    elif attribute == "resolution":
        assert re.fullmatch(r"\d+x\d+", value), value
    elif attribute == "imei":
        assert re.fullmatch(r"\d{15}", value), value
        assert int(value[-1]) == luhn_check_digit([int(digit) for digit in value[:-1]])
    elif attribute == "imsi":
        assert re.fullmatch(r"\d{15}", value), value
    elif attribute in ("ram", "internal_storage", "time_spent"):
        assert isinstance(value, int) and value >= 0
    elif attribute in ("roaming", "idle_screen", "foreground", "bluetooth_support", "nfc_support"):
        assert isinstance(value, bool)
    elif attribute == "connect_type":
        assert value in ("wifi", "cellular", "none")
    elif attribute == "phone_mode":
        assert value in ("normal", "airplane")
    elif attribute in ("geofence", "list_account", "external_storage"):
        assert isinstance(value, list)
    else:
        assert isinstance(value, str) and value, (attribute, value)


def test_luhn_check_digit_of_known_imei():
    # 49015420323751 is the IMEI example of the GSM Association, check digit 8.
    assert luhn_check_digit([int(digit) for digit in "49015420323751"]) == 8


def test_device_without_modem_reports_radio_unsupported():
    scenario = dataclasses.replace(load_scenario("default"), no_modem=1.0)
    source, _ = device(scenario=scenario)
    for attribute in ("imei", "imsi", "telco", "mcc", "mnc", "roaming", "cell_id", "signal_strength"):
        with pytest.raises(NotSupported):
            source.collect(attribute)
    assert source.collect("connect_type") in ("wifi", "none")


def test_airplane_mode_makes_radio_unavailable():
    scenario = dataclasses.replace(load_scenario("default"), network_weights={"none": 1.0}, airplane=1.0, no_modem=0.0)
    source, _ = device(scenario=scenario)
    assert source.collect("phone_mode") == "airplane"
    assert source.collect("connect_type") == "none"
    with pytest.raises(Unavailable):
        source.collect("telco")
    with pytest.raises(Unavailable):
        source.collect("device_ip")


def test_traveller_roams_with_the_visited_network():
    scenario = load_scenario("travellers")
    attributes = ["timezone", "mcc", "mnc", "telco", "roaming"]
    zones = set()
    roamed = False
    for index in range(5):
        source, clock = device(scenario=dataclasses.replace(scenario, no_modem=0.0, network_weights={"wifi": 1.0}), index=index)
        for values in timeline(source, clock, attributes, step=900.0):
            zones.add(values["timezone"][1])
            country = next(c for c in scenario.countries.values() if c.timezone == values["timezone"][1])
            assert values["mcc"][1] == country.mcc
            assert values["roaming"][1] == (country.code != source.home)
            roamed = roamed or values["roaming"][1]
    assert len(zones) > 2
    assert roamed


def test_language_switches():
    scenario = dataclasses.replace(load_scenario("default"), language_rate=12 / 86400)
    source, clock = device(scenario=scenario)
    languages = {values["language"][1] for values in timeline(source, clock, ["language"])}
    assert len(languages) > 1


def test_battery_drains_and_charges():
    scenario = dataclasses.replace(
        load_scenario("default"), battery_level=(50, 50), battery_drain=(10, 10), battery_charge=(40, 40),
        charge_below=(20, 20), charge_until=(90, 90),
    )
    source, clock = device(scenario=scenario)
    levels = [values["battery_level"][1] for values in timeline(source, clock, ["battery_level"], hours=12)]
    assert levels[0] == 50.0
    assert min(levels) >= 20.0 - 1e-9
    assert max(levels[1:]) <= 90.0 + 1e-9
    falling = any(later < earlier for earlier, later in zip(levels, levels[1:]))
    rising = any(later > earlier for earlier, later in zip(levels, levels[1:]))
    assert falling and rising


@pytest.mark.parametrize("index", range(6))
def test_geofence_lists_the_fences_around_the_location(index):
    scenario = dataclasses.replace(load_scenario("busy"), fence_visits=0.8)
    source, clock = device(scenario=scenario, index=index)
    entered = 0
    for values in timeline(source, clock, ["location", "geofence"], step=900.0):
        location = values["location"][1]
        inside = sorted(
            fence.name for fence in scenario.geofences
            if distance_m(location["latitude"], location["longitude"], fence.latitude, fence.longitude) <= fence.radius
        )
        assert values["geofence"][1] == inside
        entered += bool(inside)
    assert entered > 0


def test_screen_and_foreground_change():
    source, clock = device()
    values = timeline(source, clock, ["idle_screen", "foreground_app", "foreground", "time_spent"])
    assert {entry["idle_screen"][1] for entry in values} == {True, False}
    assert len({entry["foreground_app"][1] for entry in values}) > 1
    for entry in values:
        if entry["foreground"][1]:
            assert entry["idle_screen"][1] is False
            assert entry["foreground_app"][1] == "com.example.shop"


def test_network_moves_between_wifi_cellular_and_none():
    scenario = dataclasses.replace(load_scenario("busy"), no_modem=0.0, network_weights={"wifi": 1, "cellular": 1, "none": 1})
    source, clock = device(scenario=scenario)
    types = {values["connect_type"][1] for values in timeline(source, clock, ["connect_type"], step=300.0)}
    assert types == {"wifi", "cellular", "none"}


@pytest.mark.parametrize("attribute", ["timezone", "location", "connect_type", "idle_screen", "foreground", "telco"])
def test_next_change_bounds_constant_stretches(attribute):
    scenario = dataclasses.replace(load_scenario("busy"), travellers=1.0)
    source, clock = device(scenario=scenario)
    moment = START
    changes = 0
    for _ in range(20):
        clock.now = moment
        value = read(source, attribute)
        following = source.next_change(attribute, moment)
        assert following is not None and following > moment
        clock.now = moment + (following - moment) / 2
        assert read(source, attribute) == value
        clock.now = following
        changes += read(source, attribute) != value
        moment = following
    assert changes > 0


def test_constant_attribute_has_no_next_change():
    source, _ = device()
    assert source.next_change("ram", START) is None


def test_attribute_missing_from_simulation_is_unsupported():
    source, _ = device()
    with pytest.raises(NotSupported):
        source.collect("no_such_attribute")
