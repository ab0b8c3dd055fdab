"""The user's agent.yaml: parsed, validated as a whole, and frozen.

Every problem in a file is gathered before anything starts, each with
file:line:column, the offending value and what is allowed.
"""

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from agent.catalog import Kind, Version, load_catalog
from agent.durations import format_duration, parse_duration
from agent.errors import CatalogError, ConfigError
from agent.store.records import ID_PATTERN, MAX_TEXT_CHARS
from agent.yamlsource import DocumentError, load_document

DEFAULT_STATE_DIR = "/var/lib/device-agent"
# Floors and ceiling for monitor timing. Below 10s an interval monitor costs
# more wake-ups and events than the profile store needs, and a value that
# changes faster belongs under event. Above 30 days timers get no better,
# and the store deletes profiles that stay silent for 40 days.
MIN_INTERVAL_SECONDS = 10.0
MIN_POLL_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 30 * 86400.0
DEFAULT_POLL_INTERVAL_SECONDS = 30.0
# Stores delete profiles silent for 40 days; 15 days leaves room for two misses.
DEFAULT_HEARTBEAT_SECONDS = 15 * 86400.0
MIN_HEARTBEAT_SECONDS = 60.0
# The outbox keeps at most this many events and bytes of event bodies while the store is unreachable.
DEFAULT_MAX_OUTBOX_EVENTS = 10_000
DEFAULT_MAX_OUTBOX_BYTES = 8 * 1024 * 1024
MIN_MAX_OUTBOX_EVENTS = 100
MIN_MAX_OUTBOX_BYTES = 64 * 1024
PRIVACY_CHOICES = ("send", "hash", "omit")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class DeviceConfig:
    platform: str
    sdk_version: str | None
    app_id: str
    user_id: str | None = None
    customer_id: str | None = None
    device_id: str | None = None
    # Sources for attributes Linux keeps nowhere: email_id, and foreground from the app's unit.
    email: str | None = None
    app_unit: str | None = None


@dataclass(frozen=True)
class Monitor:
    """One enabled attribute with its kind and settings; seconds throughout."""

    attribute: str
    kind: Kind
    interval: float | None = None
    poll_interval: float | None = None
    jitter: float = 0.0
    privacy: str = "send"


@dataclass(frozen=True)
class Geofence:
    name: str
    latitude: float
    longitude: float
    radius: float


@dataclass(frozen=True)
class StoreConfig:
    """Where events go; url None means the embedded store in the state directory."""

    url: str | None = None
    key_file: str | None = None
    key_env: str = "DEVICE_AGENT_PROFILE_KEY"
    batch_size: int = 100
    flush_interval: float = 5.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    ca_bundle: str | None = None
    max_outbox_events: int = DEFAULT_MAX_OUTBOX_EVENTS
    max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"
    format: str = "text"


@dataclass(frozen=True)
class AgentConfig:
    path: str
    device: DeviceConfig
    monitors: tuple
    geofences: tuple = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    state_dir: str = DEFAULT_STATE_DIR
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    heartbeat: float = DEFAULT_HEARTBEAT_SECONDS

    def monitor(self, attribute):
        return next((monitor for monitor in self.monitors if monitor.attribute == attribute), None)


def load_config(path, catalog=None):
    """Parse and validate agent.yaml; raise ConfigError listing every problem, sorted by position."""
    try:
        document = load_document(path)
    except DocumentError as error:
        raise ConfigError(_sorted(error.problems)) from None
    checker = _Checker(document, catalog or load_catalog())
    config = checker.config()
    if checker.problems:
        raise ConfigError(_sorted(checker.problems))
    return config


def _sorted(problems):
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


_TOP_KEYS = ("device", "monitors", "geofences", "store", "state_dir", "logging", "heartbeat")
_DEVICE_KEYS = ("platform", "sdk_version", "app_id", "user_id", "customer_id", "device_id", "email", "app_unit")
_STORE_KEYS = (
    "url", "key_file", "key_env", "batch_size", "flush_interval", "connect_timeout", "read_timeout", "ca_bundle",
    "max_outbox_events", "max_outbox_bytes",
)
_GEOFENCE_KEYS = ("name", "latitude", "longitude", "radius")
_MONITOR_OPTION_KEYS = {
    Kind.ONE_TIME: ("privacy",),
    Kind.EVENT: ("privacy", "poll_interval"),
    Kind.INTERVAL: ("every", "privacy", "jitter"),
}
_MISSING_HINTS = {
    "device": "; add a device mapping with at least platform and app_id",
    "monitors": "; add a monitors mapping with one_time, event or interval",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_GEOFENCE_RADIUS_METRES = 20_000_000


class _Checker:
    """Walks the document once, building the config and gathering problems."""

    def __init__(self, document, catalog):
        self.document = document
        self.catalog = catalog
        self.problems = []
        # Locations of required keys written with a typo: the did-you-mean covers them, so "missing" is not reported too.
        self.misspelled = set()

    def report(self, location, message, at_key=False):
        self.problems.append(self.document.problem(location, message, at_key))

    def config(self):
        data = self.document.data
        if not isinstance(data, dict):
            self.report((), f"the top level must be a mapping with keys {', '.join(_TOP_KEYS)}, not a {_type_name(data)}")
            return None
        self.unknown_keys(data, (), _TOP_KEYS)
        device, offer = self.device(data.get("device"))
        geofences = self.geofences(data.get("geofences"))
        monitors = self.monitors(data.get("monitors"), device, offer)
        if any(monitor.attribute == "geofence" for monitor in monitors) and not data.get("geofences"):
            self.report(("monitors",), "the geofence monitor is enabled but no geofences are defined; add a geofences list or remove the monitor", at_key=True)
        return AgentConfig(
            path=self.document.path,
            device=device,
            monitors=monitors,
            geofences=geofences,
            store=self.store(data.get("store")),
            state_dir=self.state_dir(data),
            logging=self.logging(data.get("logging")),
            heartbeat=self.heartbeat(data),
        )

    # device identity

    def device(self, section):
        """Return the device config and its catalog row, or None for the row when platform or version is invalid."""
        location = ("device",)
        if not self.mapping(section, location, required=True):
            return DeviceConfig(platform="linux", sdk_version=None, app_id=""), None
        self.unknown_keys(section, location, _DEVICE_KEYS)
        platform = self.platform(section, location)
        sdk_version, version_valid = self.sdk_version(section, location, platform)
        device = DeviceConfig(
            platform=platform or "linux",
            sdk_version=sdk_version,
            app_id=self.identifier(self.required_string(section, location, "app_id"), location, "app_id") or "",
            user_id=self.profile_text(self.optional_string(section, location, "user_id"), location, "user_id"),
            customer_id=self.profile_text(self.optional_string(section, location, "customer_id"), location, "customer_id"),
            device_id=self.identifier(self.optional_string(section, location, "device_id"), location, "device_id"),
            email=self.profile_text(self.optional_string(section, location, "email"), location, "email"),
            app_unit=self.optional_string(section, location, "app_unit"),
        )
        if platform is None or not version_valid:
            return device, None
        try:
            return device, self.catalog.offer(platform, sdk_version)
        except CatalogError as error:
            self.report(location + ("sdk_version",) if "sdk_version" in section else location, str(error))
            return device, None

    def platform(self, section, location):
        platform = self.required_string(section, location, "platform")
        if platform is None:
            return None
        if platform not in self.catalog.rows:
            self.report(location + ("platform",), f"unknown platform {platform!r}; use one of {', '.join(self.catalog.platforms)}{_did_you_mean(platform, self.catalog.platforms)}")
            return None
        return platform

    def sdk_version(self, section, location, platform):
        """Return (sdk_version text or None, whether it is usable to pick a catalog row)."""
        value = section.get("sdk_version")
        at = location + ("sdk_version",)
        if value is None:
            if platform is not None and not self.catalog.covers_missing_version(platform):
                self.report(location, f"device.sdk_version is missing; platform {platform} needs the SDK version the device runs, such as \"2.12.0\"")
                return None, False
            return None, True
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.report(at, f"sdk_version must be a string such as \"2.12.0\", not a {_type_name(value)}")
            return None, False
        if not isinstance(value, str):
            # YAML reads 2.10 as the number 2.1, which is a different version.
            written = self.document.scalar_text(at) or str(value)
            self.report(at, f"sdk_version {written} is read by YAML as a number ({value!r}); quote it: sdk_version: \"{written}\"")
            return written, False
        try:
            Version.parse(value)
        except ValueError as error:
            self.report(at, f"sdk_version {error}")
            return value, False
        return value.strip(), True

    # monitors

    def monitors(self, section, device, offer):
        location = ("monitors",)
        if not self.mapping(section, location, required=True):
            return ()
        self.unknown_keys(section, location, tuple(kind.value for kind in Kind))
        monitors = []
        seen = {}
        for kind in Kind:
            entries = section.get(kind.value)
            if entries is None:
                continue
            for attribute, options, entry_location in self.monitor_entries(entries, location + (kind.value,), kind):
                monitor = self.monitor(attribute, kind, options, entry_location, offer, device)
                if monitor is None:
                    continue
                if attribute in seen:
                    self.report(entry_location, f"{attribute} is enabled twice (also as {seen[attribute].label}); keep one", at_key=True)
                    continue
                seen[attribute] = kind
                monitors.append(monitor)
        return tuple(monitors)

    def monitor_entries(self, entries, location, kind):
        """Yield (attribute, options, location) from a kind's list or mapping."""
        if kind is Kind.INTERVAL:
            yield from self.interval_entries(entries, location)
            return
        if not isinstance(entries, list):
            self.report(location, f"monitors.{kind.value} must be a list of attributes, such as [timezone, language], not a {_type_name(entries)}")
            return
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                yield entry, {}, location + (index,)
            elif isinstance(entry, dict) and len(entry) == 1:
                attribute, options = next(iter(entry.items()))
                # "- timezone:" with nothing after the colon means no options.
                options = {} if options is None else options
                if not isinstance(options, dict):
                    self.report(location + (index, attribute), f"options of {attribute} must be a mapping, such as {{privacy: hash}}, not {options!r}")
                    options = {}
                yield str(attribute), options, location + (index, attribute)
            else:
                self.report(location + (index,), f"a monitor entry must be an attribute name or 'name: {{options}}', not {entry!r}")

    def interval_entries(self, entries, location):
        if not isinstance(entries, dict):
            example = f"{entries[0]}: 5m" if isinstance(entries, list) and entries and isinstance(entries[0], str) else "battery_level: 5m"
            self.report(location, f"monitors.interval must be a mapping from attribute to interval, such as '{example}', not a {_type_name(entries)}")
            return
        for attribute, options in entries.items():
            if not isinstance(options, dict):
                options = {"every": options}
            yield str(attribute), options, location + (attribute,)

    def monitor(self, attribute, kind, options, location, offer, device):
        if attribute not in self.catalog.attributes:
            self.report(location, f"unknown attribute {attribute!r}{_did_you_mean(attribute, self.catalog.attributes)}; run 'device-agent monitors' to list them", at_key=True)
            return None
        if offer is not None and not self.offered(attribute, kind, offer, device, location):
            return None
        self.unknown_keys(options, location, _MONITOR_OPTION_KEYS[kind])
        privacy = self.privacy(options, location, attribute)
        interval = poll_interval = None
        jitter = 0.0
        if kind is Kind.INTERVAL:
            every_location = location + ("every",) if "every" in options else location
            interval = self.duration(options.get("every"), every_location, f"interval of {attribute}", MIN_INTERVAL_SECONDS, required=True)
            jitter = self.jitter(options, location, attribute, interval)
        if kind is Kind.EVENT:
            poll_interval = self.duration(
                options.get("poll_interval", DEFAULT_POLL_INTERVAL_SECONDS), location + ("poll_interval",), f"poll_interval of {attribute}", MIN_POLL_INTERVAL_SECONDS
            )
        return Monitor(attribute, kind, interval, poll_interval, jitter, privacy)

    def privacy(self, options, location, attribute):
        privacy = options.get("privacy", "send")
        if privacy not in PRIVACY_CHOICES:
            self.report(
                location + ("privacy",),
                f"privacy {privacy!r} of {attribute} is not one of {', '.join(PRIVACY_CHOICES)}{_did_you_mean(str(privacy), PRIVACY_CHOICES)}",
            )
            return "send"
        return privacy

    def jitter(self, options, location, attribute, interval):
        if "jitter" not in options:
            return 0.0
        jitter = self.duration(options["jitter"], location + ("jitter",), f"jitter of {attribute}", 0.0, allow_zero=True)
        if jitter is None:
            return 0.0
        if interval is not None and jitter >= interval:
            self.report(location + ("jitter",), f"jitter of {attribute} is {options['jitter']!r}; it must be shorter than the interval ({format_duration(interval)})")
            return 0.0
        return jitter

    def identifier(self, value, location, key):
        """Check an id that travels in the store's URLs and event records."""
        if value is not None and not ID_PATTERN.fullmatch(value):
            self.report(location + (key,), f"{key} {value[:60]!r} is invalid; use 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'")
            return None
        return value

    def profile_text(self, value, location, key):
        if value is not None and len(value) > MAX_TEXT_CHARS:
            self.report(location + (key,), f"{key} is {len(value)} characters long; the profile store takes at most {MAX_TEXT_CHARS}")
            return None
        return value

    def offered(self, attribute, kind, offer, device, location):
        offered_kind = offer.kind_of(attribute)
        if offered_kind is kind:
            return True
        where = f"platform {device.platform}" + (f" SDK {device.sdk_version}" if device.sdk_version else "")
        if offered_kind is not None:
            self.report(location, f"{attribute} is {offered_kind.label} on {where}, not {kind.label}; move it under monitors.{offered_kind.value}", at_key=True)
            return False
        others = "; ".join(f"{platform} {_sdk_text(sdk)} as {row_kind.label}" for platform, sdk, row_kind in self.catalog.offers_of(attribute))
        self.report(location, f"{attribute} is not offered on {where}; it is offered on {others}", at_key=True)
        return False

    def duration(self, value, location, what, floor, required=False, allow_zero=False):
        """Return seconds, or None after reporting a value that is missing, unparsable or out of range."""
        if value is None:
            if required:
                self.report(location, f"{what} is missing; write one such as 30s, 15m or 1h")
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            self.report(location, f"{what}: {error}")
            return None
        if not math.isfinite(seconds):
            self.report(location, f"{what} is {value!r}; write a finite duration such as 15m")
        elif seconds < 0:
            self.report(location, f"{what} is {value!r}; it must not be negative")
        elif seconds == 0 and not allow_zero:
            self.report(location, f"{what} is {value!r}; it must be longer than zero, at least {format_duration(floor)}")
        elif seconds < floor:
            self.report(location, f"{what} is {value!r}; it must be at least {format_duration(floor)}")
        elif seconds > MAX_INTERVAL_SECONDS:
            self.report(location, f"{what} is {value!r}; it must be at most {format_duration(MAX_INTERVAL_SECONDS)}")
        else:
            return seconds
        return None

    # geofences, store, state_dir, logging

    def geofences(self, section):
        location = ("geofences",)
        if section is None:
            return ()
        if not isinstance(section, list):
            self.report(location, f"geofences must be a list of {{name, latitude, longitude, radius}}, not a {_type_name(section)}")
            return ()
        fences = []
        names = {}
        for index, entry in enumerate(section):
            fence = self.geofence(entry, location + (index,))
            if fence is None:
                continue
            if fence.name in names:
                self.report(location + (index, "name"), f"geofence name {fence.name!r} is used twice (also entry {names[fence.name] + 1}); names must be unique")
                continue
            names[fence.name] = index
            fences.append(fence)
        return tuple(fences)

    def geofence(self, entry, location):
        if not self.mapping(entry, location, required=True):
            return None
        self.unknown_keys(entry, location, _GEOFENCE_KEYS)
        name = self.required_string(entry, location, "name")
        latitude = self.number(entry, location, "latitude", -90, 90, "degrees")
        longitude = self.number(entry, location, "longitude", -180, 180, "degrees")
        radius = self.number(entry, location, "radius", 0, MAX_GEOFENCE_RADIUS_METRES, "metres")
        if radius == 0:
            self.report(location + ("radius",), "radius 0 would never contain the device; give the radius in metres, such as 150")
            radius = None
        if None in (name, latitude, longitude, radius):
            return None
        return Geofence(name, latitude, longitude, radius)

    def store(self, section):
        location = ("store",)
        if section is None or not self.mapping(section, location, required=True):
            return StoreConfig()
        self.unknown_keys(section, location, _STORE_KEYS)
        defaults = StoreConfig()
        return StoreConfig(
            url=self.store_url(section, location),
            key_file=self.key_file(section, location),
            key_env=self.key_env(section, location) or defaults.key_env,
            batch_size=self.batch_size(section, location, defaults.batch_size),
            flush_interval=self.store_duration(section, location, "flush_interval", defaults.flush_interval),
            connect_timeout=self.store_duration(section, location, "connect_timeout", defaults.connect_timeout),
            read_timeout=self.store_duration(section, location, "read_timeout", defaults.read_timeout),
            ca_bundle=self.optional_string(section, location, "ca_bundle"),
            max_outbox_events=self.whole_number(section, location, "max_outbox_events", "events", MIN_MAX_OUTBOX_EVENTS, DEFAULT_MAX_OUTBOX_EVENTS),
            max_outbox_bytes=self.whole_number(section, location, "max_outbox_bytes", "bytes", MIN_MAX_OUTBOX_BYTES, DEFAULT_MAX_OUTBOX_BYTES),
        )

    def store_url(self, section, location):
        url = self.optional_string(section, location, "url")
        if url is None:
            return None
        problem = store_url_problem(url)
        if problem is not None:
            self.report(location + ("url",), problem)
            return None
        return url

    def key_file(self, section, location):
        key_file = self.optional_string(section, location, "key_file")
        if key_file is None:
            return None
        at = location + ("key_file",)
        path = Path(os.path.expanduser(key_file))
        try:
            status = path.stat()
        except FileNotFoundError:
            self.report(at, f"key file {key_file!r} not found; create it with the profile key and mode 0600")
            return None
        except PermissionError:
            self.report(at, f"key file {key_file!r} cannot be reached: permission denied on a parent directory")
            return None
        except OSError as error:
            self.report(at, f"key file {key_file!r} cannot be read: {error.strerror or error}")
            return None
        if not stat.S_ISREG(status.st_mode):
            self.report(at, f"key file {key_file!r} is not a regular file")
            return None
        if status.st_mode & 0o077:
            self.report(at, f"key file {key_file!r} is readable or writable by other users (mode {status.st_mode & 0o777:04o}); run: chmod 600 {key_file}")
            return None
        return key_file

    def key_env(self, section, location):
        name = self.optional_string(section, location, "key_env")
        if name is not None and not _ENV_NAME.match(name):
            self.report(location + ("key_env",), f"key_env {name!r} is not an environment variable name; use letters, digits and _, such as DEVICE_AGENT_PROFILE_KEY")
            return None
        return name

    def batch_size(self, section, location, default):
        batch_size = section.get("batch_size", default)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 100:
            self.report(location + ("batch_size",), f"batch_size {batch_size!r} must be a whole number from 1 to 100, the store's batch limit")
            return default
        return batch_size

    def whole_number(self, section, location, key, unit, floor, default):
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < floor:
            self.report(location + (key,), f"{key} {value!r} must be a whole number of {unit}, at least {floor}")
            return default
        return value

    def store_duration(self, section, location, key, default):
        if key not in section:
            return default
        seconds = self.duration(section[key], location + (key,), f"store.{key}", 0.1)
        return default if seconds is None else seconds

    def heartbeat(self, data):
        if "heartbeat" not in data:
            return DEFAULT_HEARTBEAT_SECONDS
        seconds = self.duration(data["heartbeat"], ("heartbeat",), "heartbeat", MIN_HEARTBEAT_SECONDS)
        return DEFAULT_HEARTBEAT_SECONDS if seconds is None else seconds

    def state_dir(self, data):
        state_dir = self.optional_string(data, (), "state_dir")
        if state_dir is None:
            return DEFAULT_STATE_DIR
        if not os.path.isabs(state_dir):
            self.report(("state_dir",), f"state_dir {state_dir!r} must be an absolute path, such as {DEFAULT_STATE_DIR}, because a service's working directory is not fixed")
            return DEFAULT_STATE_DIR
        return state_dir

    def logging(self, section):
        location = ("logging",)
        if section is None or not self.mapping(section, location, required=True):
            return LoggingConfig()
        self.unknown_keys(section, location, ("level", "format"))
        level = self.choice(section, location, "level", LOG_LEVELS, "info")
        log_format = self.choice(section, location, "format", LOG_FORMATS, "text")
        return LoggingConfig(level, log_format)

    # shared checks

    def choice(self, section, location, key, choices, default):
        value = section.get(key, default)
        text = value.lower() if isinstance(value, str) else value
        if text not in choices:
            self.report(location + (key,), f"{key} {value!r} is not one of {', '.join(choices)}{_did_you_mean(str(value), choices)}")
            return default
        return text

    def mapping(self, value, location, required):
        if value is None and (not required or location in self.misspelled):
            return False
        if not isinstance(value, dict):
            name = ".".join(str(part) for part in location) or "the top level"
            if value is None:
                self.report(location, f"{name} is missing{_MISSING_HINTS.get(name, '')}")
            else:
                self.report(location, f"{name} must be a mapping, not a {_type_name(value)}")
            return False
        return True

    def unknown_keys(self, section, location, allowed):
        for key in section:
            if key in allowed:
                continue
            self.report(location + (key,), f"unknown key {key!r}; allowed here: {', '.join(allowed)}{_did_you_mean(str(key), allowed)}", at_key=True)
            closest = _closest(str(key), allowed)
            if closest is not None:
                self.misspelled.add(location + (closest,))

    def required_string(self, section, location, key):
        if section.get(key) is None and location + (key,) in self.misspelled:
            return None
        if section.get(key) is None:
            self.report(location, f"{'.'.join(str(part) for part in location + (key,))} is missing")
            return None
        return self.optional_string(section, location, key)

    def optional_string(self, section, location, key):
        value = section.get(key)
        if value is None:
            return None
        if isinstance(value, (dict, list, bool)):
            self.report(location + (key,), f"{key} must be a string, not a {_type_name(value)}")
            return None
        if not isinstance(value, str):
            # An id such as 0012 is kept as written; YAML would read it as the octal number 10.
            value = self.document.scalar_text(location + (key,)) or str(value)
        if not value.strip():
            self.report(location + (key,), f"{key} is empty")
            return None
        if "\0" in value:
            # Paths and ids end at a NUL in every system call, so the value would silently mean something else.
            self.report(location + (key,), f"{key} contains a NUL character; remove it")
            return None
        return value

    def number(self, section, location, key, low, high, unit):
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.report(location + (key,) if key in section else location, f"{key} must be a number from {low} to {high} {unit}, not {value!r}")
            return None
        if not low <= value <= high:
            self.report(location + (key,), f"{key} {value!r} is out of range; it must lie from {low} to {high} {unit}")
            return None
        return float(value)


def store_url_problem(url):
    """Return what is wrong with a store URL, or None; the message never repeats a password."""
    try:
        parts = urlsplit(url)
        # urlsplit checks the port only when it is read.
        parts.port
    except ValueError as error:
        return f"store url is invalid: {error}"
    if parts.username or parts.password:
        return "store url must not contain a user name or password; put the profile key in store.key_file"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"store url {url!r} must be an http:// or https:// URL with a host, such as https://profiles.example.com"
    return None


def _sdk_text(sdk):
    text = str(sdk)
    return "(any SDK version)" if text == "any" else f"SDK {text}"


def _type_name(value):
    return {dict: "mapping", list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}.get(type(value), type(value).__name__)


def _did_you_mean(word, choices):
    closest = _closest(word, choices)
    return f" (did you mean {closest!r}?)" if closest else ""


def _closest(word, choices):
    """Return the choice a word is a near miss of (a small typo, or contained in one choice), or None."""
    choices = [str(choice) for choice in choices]
    import difflib  # only a config with a near miss pays for it

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    containing = [choice for choice in choices if word.lower() in choice]
    if len(word) >= 3 and len(containing) == 1:
        return containing[0]
    return None
