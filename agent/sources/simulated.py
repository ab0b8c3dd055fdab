"""SimulatedSource: a scripted virtual device for fleet simulation.

It has the interface of HostSource (collect, machine_id, os_name) and
reads its simulated time from a clock object's `now` attribute, in epoch
seconds. Each behaviour of the scenario (travel, language, battery,
network, movement, screen, foreground app, signal) is a process that
keeps a value for a random time and then switches. Everything is drawn
from random.Random(seed ^ index), so the same seed gives the same device.

Values have the types and units of the host collectors and the catalog:
MCC and MNC as digit strings with leading zeros, location as {latitude,
longitude, accuracy} in degrees and metres, device_ip as a list of
strings, battery_level as a percent, resolution as "WIDTHxHEIGHT".
"""

import hashlib
import math
import random

from agent import __version__
from agent.errors import NotSupported, Unavailable
from agent.scenarios import distance_m

_NEVER = math.inf
_KM_PER_DEGREE = 111.32

_OS_NAMES = {
    "android": ("Android 12", "Android 13", "Android 14"),
    "ios": ("iOS 16.7", "iOS 17.1", "iOS 17.2"),
    "linux": ("Debian GNU/Linux 12 (bookworm)", "Ubuntu 22.04.3 LTS"),
}
_RESOLUTIONS = {
    "android": ("1080x2400", "1080x2340", "1440x3200", "720x1600", "1600x2560"),
    "ios": ("1170x2532", "1179x2556", "1284x2778", "750x1334", "2048x2732"),
    "linux": ("1920x1080", "1280x800", "1024x600"),
}
_GIB = 1 << 30
_RAM_GIB = (2, 3, 4, 6, 8, 12)
_STORAGE_GB = (32, 64, 128, 256)


class _Process:
    """A value that holds for a random time, then switches; it only moves forward in time."""

    __slots__ = ("rng", "value", "next_at", "_switch", "_hold")

    def __init__(self, rng, start, value, switch, hold):
        self.rng = rng
        self.value = value
        self._switch = switch
        self._hold = hold
        self.next_at = start + hold(rng, value)

    def at(self, moment):
        # NOTE: asking for a time before an earlier request returns the later state;
        # the fleet's clock never steps backwards, so this never happens there.
        while self.next_at <= moment:
            self.value = self._switch(self.rng, self.value, self.next_at)
            self.next_at += self._hold(self.rng, self.value)
        return self.value


def _poisson(rate):
    if rate <= 0:
        return lambda rng, value: _NEVER
    return lambda rng, value: rng.expovariate(rate)


class _Battery:
    """Charge in percent: drains at a steady rate, charges once under a threshold."""

    def __init__(self, rng, start, scenario):
        self.level = rng.uniform(*scenario.battery_level)
        self.drain = rng.uniform(*scenario.battery_drain) / 3600.0
        self.charge = rng.uniform(*scenario.battery_charge) / 3600.0
        self.below = rng.uniform(*scenario.charge_below)
        self.until = max(self.below, rng.uniform(*scenario.charge_until))
        self.charging = self.level < self.below
        self.since = start

    def _phase_end(self):
        if self.charging:
            return self.since + max(0.0, self.until - self.level) / self.charge
        if self.drain <= 0:
            return _NEVER
        return self.since + max(0.0, self.level - self.below) / self.drain

    def at(self, moment):
        end = self._phase_end()
        while end <= moment:
            self.level = self.until if self.charging else self.below
            self.charging = not self.charging
            self.since = end
            end = self._phase_end()
        rate = self.charge if self.charging else -self.drain
        return round(min(100.0, max(0.0, self.level + rate * (moment - self.since))), 1)

    def next_change(self, moment):
        # The level moves continuously; a watcher would report each whole percent.
        self.at(moment)
        rate = self.charge if self.charging else self.drain
        return moment + 1.0 / rate if rate > 0 else _NEVER


class SimulatedSource:
    """A virtual device: platform, SDK version and a scenario, deterministic from seed and index."""

    def __init__(self, platform, sdk_version, scenario, seed, index=0, clock=None, start=0.0):
        self.platform = platform
        self.sdk_version = sdk_version
        self.scenario = scenario
        self.index = index
        self.clock = clock if clock is not None else _FixedClock(start)
        rng = random.Random(seed ^ index)
        # One generator per behaviour, so changing one rate leaves the others' draws alone.
        streams = [random.Random(rng.getrandbits(64)) for _ in range(10)]
        self._machine_id = "%032x" % rng.getrandbits(128)
        self._os_name = rng.choice(_OS_NAMES.get(platform, _OS_NAMES["linux"]))

        self._build_identity(streams[0])
        self._travel = self._travel_process(streams[1], start)
        self._language = self._language_process(streams[2], start)
        self._battery = _Battery(streams[3], start, scenario)
        self._network = self._network_process(streams[4], start)
        self._movement = self._movement_process(streams[5], start)
        self._screen = self._screen_process(streams[6], start)
        self._foreground = self._foreground_process(streams[7], start)
        self._signal = _Process(streams[8], start, _signal_level(streams[8]), lambda r, v, t: _signal_level(r), _poisson(scenario.signal_rate))
        self._constants = self._hardware(streams[9])

    # the HostSource interface

    def machine_id(self):
        return self._machine_id

    def os_name(self):
        return self._os_name

    def collect(self, attribute):
        """Return the attribute's value at the clock's time, or raise a CollectorError saying why there is none."""
        if attribute in self._constants:
            value = self._constants[attribute]
            if isinstance(value, Exception):
                raise value
            return value
        reader = _READERS.get(attribute)
        if reader is None:
            raise NotSupported(f"the simulated {self.platform} device has no {attribute}")
        return reader(self, self.clock.now)

    def next_change(self, attribute, after):
        """Return the first time after `after` at which the attribute may change, or None.

        This is the simulated device's watcher: the fleet captures an
        event-based monitor at these times instead of polling it.
        """
        processes = _DEPENDS_ON.get(attribute)
        if not processes:
            return None
        if processes == ("battery",):
            return self._battery.next_change(after)
        moment = min(self._advanced(name, after) for name in processes)
        return None if moment == _NEVER else moment

    def _advanced(self, name, moment):
        process = getattr(self, "_" + name)
        process.at(moment)
        return process.next_at

    # set-up of the behaviours

    def _build_identity(self, rng):
        scenario = self.scenario
        codes = list(scenario.home)
        self.home = rng.choices(codes, weights=[scenario.home[code] for code in codes])[0]
        country = scenario.countries[self.home]
        self.home_network = rng.randrange(len(country.networks))
        self.has_modem = rng.random() >= scenario.no_modem
        self.traveller = rng.random() < scenario.travellers

    def _travel_process(self, rng, start):
        scenario = self.scenario
        abroad = [code for code in scenario.countries if code != self.home]
        trip_rate = scenario.trip_rate if self.traveller and abroad else 0.0
        leave = _poisson(trip_rate)

        def switch(rng, value, moment):
            if value[0] != self.home:
                return (self.home, self.home_network)
            code = rng.choice(abroad)
            return (code, rng.randrange(len(scenario.countries[code].networks)))

        def hold(rng, value):
            return rng.uniform(*scenario.stay) if value[0] != self.home else leave(rng, value)

        return _Process(rng, start, (self.home, self.home_network), switch, hold)

    def _language_process(self, rng, start):
        choices = self.scenario.languages
        home_language = self.scenario.countries[self.home].language
        first = home_language if rng.random() < 0.9 else rng.choice(choices)

        def switch(rng, value, moment):
            others = [language for language in choices if language != value]
            return rng.choice(others) if others else value

        return _Process(rng, start, first, switch, _poisson(self.scenario.language_rate))

    def _network_process(self, rng, start):
        weights = dict(self.scenario.network_weights)
        if not self.has_modem:
            weights.pop("cellular", None)
        if sum(weights.values()) <= 0:
            weights = {"wifi": 1.0}
        types, shares = list(weights), list(weights.values())

        def switch(rng, value, moment):
            connect_type = rng.choices(types, weights=shares)[0]
            airplane = connect_type == "none" and self.has_modem and rng.random() < self.scenario.airplane
            return (connect_type, _addresses(rng, connect_type), airplane)

        return _Process(rng, start, switch(rng, None, start), switch, _poisson(self.scenario.network_rate))

    def _movement_process(self, rng, start):
        scenario = self.scenario

        def switch(rng, value, moment):
            # A place is a fence pick or a wander offset, resolved against the country of the moment.
            inside = rng.random() < scenario.fence_visits
            angle, share = rng.uniform(0, 2 * math.pi), math.sqrt(rng.random())
            return (inside, rng.random(), angle, share, round(rng.uniform(5, 50), 1), rng.getrandbits(28))

        return _Process(rng, start, switch(rng, None, start), switch, _poisson(scenario.movement_rate))

    def _screen_process(self, rng, start):
        # Value: (idle, session start, length of the last finished session in seconds).
        def switch(rng, value, moment):
            idle, since, last = value
            if idle:
                return (False, moment, last)
            return (True, moment, int(moment - since))

        return _Process(rng, start, (rng.random() < 0.5, start, 0), switch, _poisson(self.scenario.screen_rate))

    def _foreground_process(self, rng, start):
        apps = self.scenario.apps

        def switch(rng, value, moment):
            others = [app for app in apps if app != value]
            return rng.choice(others) if others else value

        return _Process(rng, start, rng.choice(apps), switch, _poisson(self.scenario.foreground_rate))

    def _hardware(self, rng):
        """Return the attributes that never change, each a value or the error a collector would raise."""
        scenario = self.scenario
        country = scenario.countries[self.home]
        no_modem = NotSupported("this device has no modem")
        email = f"user{self.index}@example.com"
        constants = {
            "resolution": rng.choice(_RESOLUTIONS.get(self.platform, _RESOLUTIONS["linux"])),
            "ram": rng.choice(_RAM_GIB) * _GIB,
            "internal_storage": rng.choice(_STORAGE_GB) * 1_000_000_000,
            "bluetooth_support": True,
            "nfc_support": rng.random() < scenario.nfc,
            "user_agent": f"device-agent/{__version__} ({self._os_name}; {'arm64' if self.platform != 'linux' else 'x86_64'})",
            "serial_number": "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12)),
            "wifi_mac_address": ":".join(f"{rng.randrange(256):02x}" for _ in range(6)),
            "email_id": email,
            "list_account": [email],
            "external_storage": _external_storage(rng, self.platform, scenario.sd_card),
            "imei": _imei(rng) if self.has_modem else no_modem,
        }
        mnc = country.networks[self.home_network][1]
        msin_digits = 15 - len(country.mcc) - len(mnc)
        constants["imsi"] = country.mcc + mnc + "".join(str(rng.randrange(10)) for _ in range(msin_digits)) if self.has_modem else no_modem
        return constants

    # readers of changing attributes

    def _radio(self, moment):
        if not self.has_modem:
            raise NotSupported("this device has no modem")
        if self._network.at(moment)[2]:
            raise Unavailable("airplane mode is on, so the modem is off")
        code, network = self._travel.at(moment)
        return self.scenario.countries[code], network

    def _place(self, moment):
        """Return (latitude, longitude, accuracy, fences of the country) at the moment."""
        code = self._travel.at(moment)[0]
        country = self.scenario.countries[code]
        inside, pick, angle, share, accuracy, _ = self._movement.at(moment)
        fences = self.scenario.country_fences[code]
        if inside and fences:
            fence = fences[int(pick * len(fences))]
            distance_km = share * fence.radius * 0.7 / 1000.0
            latitude, longitude = _offset(fence.latitude, fence.longitude, distance_km, angle)
        else:
            latitude, longitude = _offset(country.latitude, country.longitude, share * self.scenario.radius_km, angle)
        return round(latitude, 6), round(longitude, 6), accuracy, fences


def _read_timezone(source, moment):
    return source.scenario.countries[source._travel.at(moment)[0]].timezone


def _read_language(source, moment):
    return source._language.at(moment)


def _read_telco(source, moment):
    country, network = source._radio(moment)
    return country.networks[network][0]


def _read_mcc(source, moment):
    return source._radio(moment)[0].mcc


def _read_mnc(source, moment):
    country, network = source._radio(moment)
    return country.networks[network][1]


def _read_roaming(source, moment):
    return source._radio(moment)[0].code != source.home


def _read_cell_id(source, moment):
    country, network = source._radio(moment)
    return f"{country.mcc}{country.networks[network][1]}-{source._movement.at(moment)[5]}"


def _read_signal_strength(source, moment):
    source._radio(moment)
    return source._signal.at(moment)


def _read_connect_type(source, moment):
    return source._network.at(moment)[0]


def _read_device_ip(source, moment):
    connect_type, addresses, _ = source._network.at(moment)
    if not addresses:
        raise Unavailable("no default route, so the device has no primary address")
    return list(addresses)


def _read_phone_mode(source, moment):
    return "airplane" if source._network.at(moment)[2] else "normal"


def _read_location(source, moment):
    latitude, longitude, accuracy, _ = source._place(moment)
    return {"latitude": latitude, "longitude": longitude, "accuracy": accuracy}


def _read_geofence(source, moment):
    latitude, longitude, _, fences = source._place(moment)
    return sorted(fence.name for fence in fences if distance_m(latitude, longitude, fence.latitude, fence.longitude) <= fence.radius)


def _read_idle_screen(source, moment):
    return source._screen.at(moment)[0]


def _read_time_spent(source, moment):
    # The length of the last finished session: the SDK reports it when the screen goes idle.
    return source._screen.at(moment)[2]


def _read_foreground_app(source, moment):
    return source._foreground.at(moment)


def _read_foreground(source, moment):
    return not source._screen.at(moment)[0] and source._foreground.at(moment) == source.scenario.app


def _read_battery_level(source, moment):
    return source._battery.at(moment)


_READERS = {
    "timezone": _read_timezone,
    "language": _read_language,
    "telco": _read_telco,
    "mcc": _read_mcc,
    "mnc": _read_mnc,
    "roaming": _read_roaming,
    "cell_id": _read_cell_id,
    "signal_strength": _read_signal_strength,
    "connect_type": _read_connect_type,
    "device_ip": _read_device_ip,
    "phone_mode": _read_phone_mode,
    "location": _read_location,
    "geofence": _read_geofence,
    "idle_screen": _read_idle_screen,
    "time_spent": _read_time_spent,
    "foreground_app": _read_foreground_app,
    "foreground": _read_foreground,
    "battery_level": _read_battery_level,
}

# The behaviours each changing attribute reads; its watcher fires when any of them switches.
_DEPENDS_ON = {
    "timezone": ("travel",),
    "language": ("language",),
    "telco": ("travel", "network"),
    "mcc": ("travel", "network"),
    "mnc": ("travel", "network"),
    "roaming": ("travel", "network"),
    "cell_id": ("travel", "network", "movement"),
    "signal_strength": ("signal", "network"),
    "connect_type": ("network",),
    "device_ip": ("network",),
    "phone_mode": ("network",),
    "location": ("travel", "movement"),
    "geofence": ("travel", "movement"),
    "idle_screen": ("screen",),
    "time_spent": ("screen",),
    "foreground_app": ("foreground",),
    "foreground": ("screen", "foreground"),
    "battery_level": ("battery",),
}


class _FixedClock:
    def __init__(self, now):
        self.now = now


def _signal_level(rng):
    return int(rng.triangular(5, 100, 75))


def _addresses(rng, connect_type):
    if connect_type == "wifi":
        return (f"192.168.{rng.randrange(256)}.{rng.randrange(2, 255)}",)
    if connect_type == "cellular":
        ipv4 = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        ipv6 = f"2a02:{rng.randrange(1, 0x10000):x}:{rng.randrange(1, 0x10000):x}::{rng.randrange(1, 0x10000):x}"
        return (ipv4, ipv6)
    return ()


def _external_storage(rng, platform, sd_card):
    if platform != "android" or rng.random() >= sd_card:
        return []
    label = f"{rng.randrange(0x10000):04X}-{rng.randrange(0x10000):04X}"
    return [{"mount_point": f"/storage/{label}", "size": rng.choice((32, 64, 128)) * 1_000_000_000}]


def _imei(rng):
    """Return a 15-digit IMEI whose last digit is the Luhn check digit."""
    digits = [rng.randrange(10) for _ in range(14)]
    return "".join(map(str, digits)) + str(luhn_check_digit(digits))


def luhn_check_digit(digits):
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def _offset(latitude, longitude, distance_km, angle):
    north, east = distance_km * math.cos(angle), distance_km * math.sin(angle)
    latitude2 = latitude + north / _KM_PER_DEGREE
    longitude2 = longitude + east / (_KM_PER_DEGREE * max(0.01, math.cos(math.radians(latitude))))
    return latitude2, longitude2


def privacy_key(seed, index):
    """Return the HMAC key a simulated device uses for hashed attributes, stable per seed and index."""
    return hashlib.sha256(f"device-agent fleet {seed} {index}".encode()).digest()
