"""Scenarios: YAML files that describe how simulated devices change over a day.

A scenario is looked up by name under config/scenarios/ or read from a
path. "extends: NAME" starts from another scenario and deep-merges the
file over it, so a user's scenario states only what it changes. Every
problem in a file is reported at once, each with its key path.
"""

from dataclasses import dataclass
from pathlib import Path

import math

import yaml

from agent.durations import parse_duration
from agent.errors import ConfigError

# NOTE: this is the source tree's config/scenarios. A wheel does not package it yet,
# so an installed (not editable) agent finds only scenarios given by path.
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "config" / "scenarios"
DEFAULT_SCENARIO = "default"
EARTH_RADIUS_M = 6_371_000.0
# Geofences this close to a country's centre count as that country's.
FENCE_REACH_KM = 100.0
EVENT_CAPTURE_MODES = ("watch", "poll")
CONNECT_TYPES = ("wifi", "cellular", "none")
PRIVACY_CHOICES = ("send", "hash", "omit")


@dataclass(frozen=True)
class Country:
    code: str
    timezone: str
    language: str
    mcc: str
    latitude: float
    longitude: float
    networks: tuple  # of (telco, mnc)


@dataclass(frozen=True)
class Fence:
    name: str
    latitude: float
    longitude: float
    radius: float  # metres


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; rates are per second, durations in seconds, ranges are (low, high)."""

    name: str
    description: str
    source: str
    app: str
    countries: dict
    home: dict
    geofences: tuple
    travellers: float
    trip_rate: float
    stay: tuple
    language_rate: float
    languages: tuple
    battery_level: tuple
    battery_drain: tuple  # percent per hour
    battery_charge: tuple
    charge_below: tuple
    charge_until: tuple
    network_rate: float
    network_weights: dict
    airplane: float
    movement_rate: float
    radius_km: float
    fence_visits: float
    screen_rate: float
    foreground_rate: float
    apps: tuple
    signal_rate: float
    no_modem: float
    sd_card: float
    nfc: float
    intervals: dict
    event_capture: str
    poll_interval: float
    jitter: float
    privacy: dict
    country_fences: dict  # country code to the geofences within FENCE_REACH_KM of its centre


def scenario_names(directory=SCENARIO_DIR):
    return sorted(path.stem for path in Path(directory).glob("*.yaml"))


def load_scenario(name_or_path=DEFAULT_SCENARIO, directory=SCENARIO_DIR):
    """Load a scenario by name or path; raise ConfigError listing every problem."""
    data, source = _merged(str(name_or_path), Path(directory), seen=())
    checker = _Checker(source)
    scenario = checker.scenario(data)
    if checker.problems:
        raise ConfigError(checker.problems)
    return scenario


def _merged(name_or_path, directory, seen):
    path = _resolve(name_or_path, directory)
    if str(path) in seen:
        chain = " -> ".join(seen + (str(path),))
        raise ConfigError([f"{path}: extends forms a loop: {chain}"])
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: invalid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: a scenario must be a mapping of sections, such as 'travel:' and 'battery:'"])
    parent = data.pop("extends", None)
    if parent is None:
        return data, str(path)
    base, _ = _merged(str(parent), directory, seen + (str(path),))
    return _deep_merge(base, data), str(path)


def _resolve(name_or_path, directory):
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if not candidate.exists():
            raise ConfigError([f"scenario file {name_or_path} not found"])
        return candidate
    path = directory / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(scenario_names(directory))
        raise ConfigError([f"unknown scenario {name_or_path!r}; use one of {known}, or the path of a YAML file"])
    return path


def _deep_merge(base, override):
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_SECTIONS = {
    "name": None, "description": None, "app": None, "countries": None, "home": None, "geofences": None,
    "travel": ("travellers", "trips_per_day", "stay"),
    "language": ("switches_per_day", "choices"),
    "battery": ("level", "drain_per_hour", "charge_per_hour", "charge_below", "charge_until"),
    "network": ("moves_per_day", "weights", "airplane"),
    "movement": ("moves_per_day", "radius_km", "fence_visits"),
    "screen": ("idle_changes_per_day",),
    "foreground": ("switches_per_day", "apps"),
    "signal": ("changes_per_day",),
    "hardware": ("no_modem", "sd_card", "nfc"),
    "monitors": ("intervals", "event_capture", "poll_interval", "jitter", "privacy"),
}
_DAY = 86400.0


class _Checker:
    """Builds a Scenario from merged YAML data, gathering every problem with its key path."""

    def __init__(self, source):
        self.source = source
        self.problems = []

    def report(self, path, message):
        self.problems.append(f"{self.source}: {'.'.join(path)}: {message}")

    def scenario(self, data):
        for key in data:
            if key not in _SECTIONS:
                self.report((str(key),), f"unknown section; allowed: {', '.join(_SECTIONS)}")
        for section, keys in _SECTIONS.items():
            if keys and section in data:
                self.section_keys(data, section, keys)
        countries = self.countries(data.get("countries"))
        geofences = self.geofences(data.get("geofences"))
        section = lambda name: data.get(name) if isinstance(data.get(name), dict) else {}  # noqa: E731
        travel, language, battery = section("travel"), section("language"), section("battery")
        network, movement, hardware, monitors = section("network"), section("movement"), section("hardware"), section("monitors")
        return Scenario(
            name=str(data.get("name") or Path(self.source).stem),
            description=str(data.get("description") or ""),
            source=self.source,
            app=self.text(data, ("app",)),
            countries=countries,
            home=self.weights(data.get("home"), ("home",), countries),
            geofences=geofences,
            travellers=self.share(travel, ("travel", "travellers")),
            trip_rate=self.rate(travel, ("travel", "trips_per_day")),
            stay=self.range(travel, ("travel", "stay"), duration=True),
            language_rate=self.rate(language, ("language", "switches_per_day")),
            languages=self.strings(language, ("language", "choices")),
            battery_level=self.range(battery, ("battery", "level"), high=100),
            battery_drain=self.range(battery, ("battery", "drain_per_hour")),
            battery_charge=self.range(battery, ("battery", "charge_per_hour"), low=0.1),
            charge_below=self.range(battery, ("battery", "charge_below"), high=100),
            charge_until=self.range(battery, ("battery", "charge_until"), high=100),
            network_rate=self.rate(network, ("network", "moves_per_day")),
            network_weights=self.weights(network.get("weights"), ("network", "weights"), CONNECT_TYPES),
            airplane=self.share(network, ("network", "airplane")),
            movement_rate=self.rate(movement, ("movement", "moves_per_day")),
            radius_km=self.number(movement, ("movement", "radius_km")),
            fence_visits=self.share(movement, ("movement", "fence_visits")),
            screen_rate=self.rate(section("screen"), ("screen", "idle_changes_per_day")),
            foreground_rate=self.rate(section("foreground"), ("foreground", "switches_per_day")),
            apps=self.strings(section("foreground"), ("foreground", "apps")),
            signal_rate=self.rate(section("signal"), ("signal", "changes_per_day")),
            no_modem=self.share(hardware, ("hardware", "no_modem")),
            sd_card=self.share(hardware, ("hardware", "sd_card")),
            nfc=self.share(hardware, ("hardware", "nfc")),
            intervals=self.intervals(monitors.get("intervals")),
            event_capture=self.choice(monitors, ("monitors", "event_capture"), EVENT_CAPTURE_MODES),
            poll_interval=self.duration(monitors.get("poll_interval"), ("monitors", "poll_interval"), floor=1.0),
            jitter=self.duration(monitors.get("jitter", 0), ("monitors", "jitter"), floor=0.0),
            privacy=self.privacy(monitors.get("privacy")),
            country_fences={code: _fences_near(country, geofences) for code, country in countries.items()},
        )

    # sections

    def section_keys(self, data, section, keys):
        value = data[section]
        if not isinstance(value, dict):
            self.report((section,), f"must be a mapping with keys {', '.join(keys)}")
            return
        for key in value:
            if key not in keys:
                self.report((section, str(key)), f"unknown key; allowed here: {', '.join(keys)}")

    def countries(self, value):
        if not isinstance(value, dict) or not value:
            self.report(("countries",), "must map country codes to {timezone, language, mcc, centre, networks}")
            return {}
        countries = {}
        for code, entry in value.items():
            path = ("countries", str(code))
            if not isinstance(entry, dict):
                self.report(path, "must be a mapping with timezone, language, mcc, centre and networks")
                continue
            centre = entry.get("centre")
            if not (isinstance(centre, list) and len(centre) == 2 and all(_is_number(part) for part in centre)):
                self.report(path + ("centre",), f"must be [latitude, longitude] in degrees, not {centre!r}")
                centre = (0.0, 0.0)
            # YAML reads an unquoted 001 as the number 1, losing the leading zeros.
            mcc = entry.get("mcc")
            if not (isinstance(mcc, str) and len(mcc) == 3 and mcc.isdigit()):
                self.report(path + ("mcc",), f"must be a quoted string of 3 digits, such as \"262\", not {entry.get('mcc')!r}")
            networks = tuple(self.networks(entry.get("networks"), path + ("networks",)))
            countries[str(code)] = Country(
                str(code), self.text(entry, path + ("timezone",)), self.text(entry, path + ("language",)),
                str(mcc), float(centre[0]), float(centre[1]), networks,
            )
        return countries

    def networks(self, value, path):
        if not isinstance(value, list) or not value:
            self.report(path, "must be a list of {telco, mnc}")
            return
        for index, entry in enumerate(value):
            mnc = entry.get("mnc") if isinstance(entry, dict) else None
            if not (isinstance(mnc, str) and 2 <= len(mnc) <= 3 and mnc.isdigit()):
                self.report(path + (str(index),), "needs telco and mnc, the MNC a quoted string of 2 or 3 digits such as \"01\"")
                continue
            yield str(entry.get("telco") or ""), mnc

    def geofences(self, value):
        if value is None:
            return ()
        if not isinstance(value, list):
            self.report(("geofences",), "must be a list of {name, latitude, longitude, radius}")
            return ()
        fences = []
        for index, entry in enumerate(value):
            keys = ("name", "latitude", "longitude", "radius")
            if not isinstance(entry, dict) or any(key not in entry for key in keys) or not all(_is_number(entry[key]) for key in keys[1:]):
                self.report(("geofences", str(index)), "needs name, latitude and longitude in degrees, and radius in metres")
                continue
            fences.append(Fence(str(entry["name"]), float(entry["latitude"]), float(entry["longitude"]), float(entry["radius"])))
        return tuple(fences)

    def intervals(self, value):
        if not isinstance(value, dict):
            self.report(("monitors", "intervals"), "must map interval-based attributes to a duration, such as 'battery_level: 30m'")
            return {}
        return {str(name): self.duration(every, ("monitors", "intervals", str(name)), floor=10.0) for name, every in value.items()}

    def privacy(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.report(("monitors", "privacy"), "must map attributes to send, hash or omit")
            return {}
        for name, choice in value.items():
            if choice not in PRIVACY_CHOICES:
                self.report(("monitors", "privacy", str(name)), f"{choice!r} is not one of {', '.join(PRIVACY_CHOICES)}")
        return {str(name): str(choice) for name, choice in value.items()}

    # values

    def text(self, section, path):
        value = section.get(path[-1])
        if not isinstance(value, str) or not value:
            self.report(path, f"must be a non-empty string, not {value!r}")
            return ""
        return value

    def strings(self, section, path):
        value = section.get(path[-1])
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            self.report(path, f"must be a non-empty list of strings, not {value!r}")
            return ("",)
        return tuple(value)

    def number(self, section, path, low=0.0, high=None):
        value = section.get(path[-1])
        if not _is_number(value) or value < low or (high is not None and value > high):
            limits = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
            self.report(path, f"must be a number {limits}, not {value!r}")
            return low
        return float(value)

    def share(self, section, path):
        return self.number(section, path, 0.0, 1.0)

    def rate(self, section, path):
        return self.number(section, path) / _DAY

    def range(self, section, path, low=0.0, high=None, duration=False):
        value = section.get(path[-1])
        if not isinstance(value, list):
            value = [value, value]
        if len(value) != 2:
            self.report(path, f"must be a value or a pair [low, high], not {value!r}")
            return (low, low)
        if duration:
            pair = tuple(self.duration(item, path, floor=0.0) for item in value)
        else:
            pair = tuple(self.number({path[-1]: item}, path, low, high) for item in value)
        if pair[0] > pair[1]:
            self.report(path, f"low {value[0]!r} is above high {value[1]!r}")
        return pair

    def weights(self, value, path, allowed):
        if not isinstance(value, dict) or not value:
            self.report(path, f"must map {', '.join(allowed)} to weights")
            return {}
        weights = {}
        for name, weight in value.items():
            if name not in allowed:
                self.report(path + (str(name),), f"unknown; use one of {', '.join(allowed)}")
            elif not _is_number(weight) or weight < 0:
                self.report(path + (str(name),), f"weight must be a number of at least 0, not {weight!r}")
            else:
                weights[name] = float(weight)
        if weights and sum(weights.values()) <= 0:
            self.report(path, "at least one weight must be above 0")
        return weights

    def choice(self, section, path, choices):
        value = section.get(path[-1])
        if value not in choices:
            self.report(path, f"{value!r} is not one of {', '.join(choices)}")
            return choices[0]
        return value

    def duration(self, value, path, floor):
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            self.report(path, str(error))
            return floor
        if seconds < floor:
            self.report(path, f"{value!r} is shorter than the minimum of {floor:g}s")
            return floor
        return seconds


def distance_m(latitude1, longitude1, latitude2, longitude2):
    """Return the great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(latitude1), math.radians(latitude2)
    dphi, dlambda = phi2 - phi1, math.radians(longitude2 - longitude1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _fences_near(country, geofences):
    return tuple(
        fence for fence in geofences
        if distance_m(country.latitude, country.longitude, fence.latitude, fence.longitude) <= FENCE_REACH_KM * 1000
    )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
