"""The user's agent.yaml: parsed, validated as a whole, and frozen.

Every problem in a file is gathered before anything starts, each with
file:line:column, the offending value and what is allowed.
"""

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from agent.catalog import Kind, Version, load_catalog
from agent.durations import parse_duration
from agent.errors import CatalogError, ConfigError
from agent.yamlsource import DocumentError, load_document

DEFAULT_STATE_DIR = "/var/lib/device-agent"
MIN_INTERVAL_SECONDS = 10.0
MIN_POLL_INTERVAL_SECONDS = 1.0
DEFAULT_POLL_INTERVAL_SECONDS = 30.0
# Stores delete profiles silent for 40 days; 15 days leaves room for two misses.
DEFAULT_HEARTBEAT_SECONDS = 15 * 86400.0
MIN_HEARTBEAT_SECONDS = 60.0
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
    """Parse and validate agent.yaml; raise ConfigError listing every problem."""
    try:
        document = load_document(path)
    except DocumentError as error:
        raise ConfigError(error.problems) from None
    checker = _Checker(document, catalog or load_catalog())
    config = checker.config()
    if checker.problems:
        raise ConfigError(checker.problems)
    return config


_TOP_KEYS = ("device", "monitors", "geofences", "store", "state_dir", "logging", "heartbeat")
_DEVICE_KEYS = ("platform", "sdk_version", "app_id", "user_id", "customer_id", "device_id")
_STORE_KEYS = ("url", "key_file", "key_env", "batch_size", "flush_interval", "connect_timeout", "read_timeout", "ca_bundle")
_MONITOR_OPTION_KEYS = {
    Kind.ONE_TIME: ("privacy",),
    Kind.EVENT: ("privacy", "poll_interval"),
    Kind.INTERVAL: ("every", "privacy", "jitter"),
}


class _Checker:
    """Walks the document once, building the config and gathering problems."""

    def __init__(self, document, catalog):
        self.document = document
        self.catalog = catalog
        self.problems = []

    def report(self, location, message, at_key=False):
        self.problems.append(self.document.problem(location, message, at_key))

    def config(self):
        data = self.document.data
        if not isinstance(data, dict):
            self.report((), f"the top level must be a mapping with keys {', '.join(_TOP_KEYS)}, not a {_type_name(data)}")
            return None
        self.unknown_keys(data, (), _TOP_KEYS)
        device = self.device(data.get("device"))
        offer = self.offer(device)
        return AgentConfig(
            path=self.document.path,
            device=device,
            monitors=self.monitors(data.get("monitors"), device, offer),
            geofences=self.geofences(data.get("geofences")),
            store=self.store(data.get("store")),
            state_dir=self.optional_string(data, (), "state_dir") or DEFAULT_STATE_DIR,
            logging=self.logging(data.get("logging")),
            heartbeat=self.duration(data.get("heartbeat", DEFAULT_HEARTBEAT_SECONDS), ("heartbeat",), "heartbeat", MIN_HEARTBEAT_SECONDS) or DEFAULT_HEARTBEAT_SECONDS,
        )

    # device identity

    def device(self, section):
        location = ("device",)
        if not self.mapping(section, location, required=True):
            return DeviceConfig(platform="linux", sdk_version=None, app_id="")
        self.unknown_keys(section, location, _DEVICE_KEYS)
        platform = self.required_string(section, location, "platform")
        if platform is not None and platform not in self.catalog.rows:
            self.report(location + ("platform",), f"unknown platform {platform!r}; use one of {', '.join(self.catalog.platforms)}{_did_you_mean(platform, self.catalog.platforms)}")
        sdk_version = section.get("sdk_version")
        if sdk_version is not None:
            sdk_version = str(sdk_version)
            try:
                Version.parse(sdk_version)
            except ValueError as error:
                self.report(location + ("sdk_version",), f"sdk_version: {error}")
        elif platform in ("ios", "android"):
            self.report(location, f"sdk_version is missing; platform {platform} needs the SDK version the device runs, such as 2.12.0", at_key=False)
        return DeviceConfig(
            platform=platform or "linux",
            sdk_version=sdk_version,
            app_id=self.required_string(section, location, "app_id") or "",
            user_id=self.optional_string(section, location, "user_id"),
            customer_id=self.optional_string(section, location, "customer_id"),
            device_id=self.optional_string(section, location, "device_id"),
        )

    def offer(self, device):
        if self.problems:
            return None
        try:
            return self.catalog.offer(device.platform, device.sdk_version)
        except (CatalogError, ValueError) as error:
            self.report(("device", "sdk_version"), str(error))
            return None

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
                    self.report(entry_location, f"{attribute} is enabled twice (also as {seen[attribute].label}); keep one")
                    continue
                seen[attribute] = kind
                monitors.append(monitor)
        return tuple(monitors)

    def monitor_entries(self, entries, location, kind):
        """Yield (attribute, options, location) from a kind's list or mapping."""
        if kind is Kind.INTERVAL:
            if not isinstance(entries, dict):
                self.report(location, f"interval must be a mapping from attribute to interval, such as 'battery_level: 5m', not a {_type_name(entries)}")
                return
            for attribute, options in entries.items():
                if not isinstance(options, dict):
                    options = {"every": options}
                yield str(attribute), options, location + (attribute,)
            return
        if not isinstance(entries, list):
            self.report(location, f"{kind.value} must be a list of attributes, such as '[timezone, language]', not a {_type_name(entries)}")
            return
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                yield entry, {}, location + (index,)
            elif isinstance(entry, dict) and len(entry) == 1:
                attribute, options = next(iter(entry.items()))
                if not isinstance(options, dict):
                    self.report(location + (index, attribute), f"options of {attribute} must be a mapping, such as '{{privacy: hash}}'")
                    options = {}
                yield str(attribute), options, location + (index, attribute)
            else:
                self.report(location + (index,), f"a monitor entry must be an attribute name or 'name: {{options}}', not {entry!r}")

    def monitor(self, attribute, kind, options, location, offer, device):
        if attribute not in self.catalog.attributes:
            self.report(location, f"unknown attribute {attribute!r}{_did_you_mean(attribute, self.catalog.attributes)}", at_key=True)
            return None
        if offer is not None and not self.offered(attribute, kind, offer, device, location):
            return None
        self.unknown_keys(options, location, _MONITOR_OPTION_KEYS[kind])
        privacy = options.get("privacy", "send")
        if privacy not in PRIVACY_CHOICES:
            self.report(location + ("privacy",), f"privacy {privacy!r} is not one of {', '.join(PRIVACY_CHOICES)}{_did_you_mean(str(privacy), PRIVACY_CHOICES)}")
        interval = poll_interval = None
        jitter = 0.0
        if kind is Kind.INTERVAL:
            interval = self.duration(options.get("every"), location + ("every",) if "every" in options else location, f"interval of {attribute}", MIN_INTERVAL_SECONDS, required=True)
            jitter = self.duration(options.get("jitter", 0), location + ("jitter",), f"jitter of {attribute}", 0.0) or 0.0
        if kind is Kind.EVENT:
            poll_interval = self.duration(options.get("poll_interval", DEFAULT_POLL_INTERVAL_SECONDS), location + ("poll_interval",), f"poll_interval of {attribute}", MIN_POLL_INTERVAL_SECONDS)
        return Monitor(attribute, kind, interval, poll_interval, jitter, privacy)

    def offered(self, attribute, kind, offer, device, location):
        offered_kind = offer.kind_of(attribute)
        if offered_kind is kind:
            return True
        where = f"platform {device.platform}" + (f" SDK {device.sdk_version}" if device.sdk_version else "")
        if offered_kind is not None:
            self.report(location, f"{attribute} is {offered_kind.label} on {where}, not {kind.label}; move it under monitors.{offered_kind.value}", at_key=True)
            return False
        others = "; ".join(f"{platform} SDK {sdk}: {row_kind.label}" for platform, sdk, row_kind in self.catalog.offers_of(attribute))
        self.report(location, f"{attribute} is not offered on {where}; it is offered on {others}", at_key=True)
        return False

    def duration(self, value, location, what, floor, required=False):
        if value is None:
            if required:
                self.report(location, f"{what} is missing; write one such as 30s, 15m or 1h")
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            self.report(location, f"{what}: {error}")
            return None
        if floor and seconds < floor:
            self.report(location, f"{what} is {value!r}; it must be at least {floor:g}s")
            return None
        if seconds < 0:
            self.report(location, f"{what} is {value!r}; it must not be negative")
            return None
        return seconds

    # geofences, store, logging

    def geofences(self, section):
        location = ("geofences",)
        if section is None:
            return ()
        if not isinstance(section, list):
            self.report(location, f"geofences must be a list of {{name, latitude, longitude, radius}}, not a {_type_name(section)}")
            return ()
        fences = []
        for index, entry in enumerate(section):
            fence = self.geofence(entry, location + (index,))
            if fence is not None:
                fences.append(fence)
        return tuple(fences)

    def geofence(self, entry, location):
        if not self.mapping(entry, location, required=True):
            return None
        self.unknown_keys(entry, location, ("name", "latitude", "longitude", "radius"))
        name = self.required_string(entry, location, "name")
        latitude = self.number(entry, location, "latitude", -90, 90)
        longitude = self.number(entry, location, "longitude", -180, 180)
        radius = self.number(entry, location, "radius", 0, 20_000_000, unit="metres")
        if None in (name, latitude, longitude, radius):
            return None
        return Geofence(name, latitude, longitude, radius)

    def store(self, section):
        location = ("store",)
        if section is None:
            return StoreConfig()
        if not self.mapping(section, location, required=True):
            return StoreConfig()
        self.unknown_keys(section, location, _STORE_KEYS)
        url = self.optional_string(section, location, "url")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.report(location + ("url",), f"store url {url!r} must be an http:// or https:// URL with a host")
        key_file = self.optional_string(section, location, "key_file")
        if key_file is not None:
            self.check_key_file(key_file, location + ("key_file",))
        defaults = StoreConfig()
        batch_size = section.get("batch_size", defaults.batch_size)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 100:
            self.report(location + ("batch_size",), f"batch_size {batch_size!r} must be a whole number from 1 to 100, the store's batch limit")
            batch_size = defaults.batch_size
        return StoreConfig(
            url=url,
            key_file=key_file,
            key_env=self.optional_string(section, location, "key_env") or defaults.key_env,
            batch_size=batch_size,
            flush_interval=self.duration(section.get("flush_interval", defaults.flush_interval), location + ("flush_interval",), "flush_interval", 0.1) or defaults.flush_interval,
            connect_timeout=self.duration(section.get("connect_timeout", defaults.connect_timeout), location + ("connect_timeout",), "connect_timeout", 0.1) or defaults.connect_timeout,
            read_timeout=self.duration(section.get("read_timeout", defaults.read_timeout), location + ("read_timeout",), "read_timeout", 0.1) or defaults.read_timeout,
            ca_bundle=self.optional_string(section, location, "ca_bundle"),
        )

    def check_key_file(self, key_file, location):
        path = Path(os.path.expanduser(key_file))
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            self.report(location, f"key file {key_file!r} not found; create it with the profile key and mode 0600")
            return
        except PermissionError:
            self.report(location, f"key file {key_file!r} cannot be read: permission denied")
            return
        if mode & 0o077:
            self.report(location, f"key file {key_file!r} is readable by other users (mode {mode & 0o777:04o}); run: chmod 600 {key_file}")

    def logging(self, section):
        location = ("logging",)
        if section is None or not self.mapping(section, location, required=True):
            return LoggingConfig()
        self.unknown_keys(section, location, ("level", "format"))
        level = str(section.get("level", "info")).lower()
        if level not in LOG_LEVELS:
            self.report(location + ("level",), f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}{_did_you_mean(level, LOG_LEVELS)}")
        log_format = str(section.get("format", "text")).lower()
        if log_format not in LOG_FORMATS:
            self.report(location + ("format",), f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
        return LoggingConfig(level, log_format)

    # shared checks

    def mapping(self, value, location, required):
        if value is None and not required:
            return False
        if not isinstance(value, dict):
            name = ".".join(str(part) for part in location) or "the top level"
            self.report(location, f"{name} must be a mapping, not {'missing' if value is None else 'a ' + _type_name(value)}")
            return False
        return True

    def unknown_keys(self, section, location, allowed):
        for key in section:
            if key not in allowed:
                self.report(location + (key,), f"unknown key {key!r}; allowed here: {', '.join(allowed)}{_did_you_mean(str(key), allowed)}", at_key=True)

    def required_string(self, section, location, key):
        if section.get(key) is None:
            self.report(location, f"{'.'.join(location + (key,))} is missing")
            return None
        return self.optional_string(section, location, key)

    def optional_string(self, section, location, key):
        value = section.get(key)
        if value is None:
            return None
        if isinstance(value, (dict, list, bool)):
            self.report(location + (key,), f"{key} must be a string, not a {_type_name(value)}")
            return None
        text = str(value)
        if not text.strip():
            self.report(location + (key,), f"{key} is empty")
            return None
        return text

    def number(self, section, location, key, low, high, unit="degrees"):
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.report(location + (key,) if key in section else location, f"{key} must be a number from {low} to {high} {unit}, not {value!r}")
            return None
        if not low <= value <= high:
            self.report(location + (key,), f"{key} {value!r} is out of range; it must lie from {low} to {high} {unit}")
            return None
        return float(value)


def _type_name(value):
    return {dict: "mapping", list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}.get(type(value), type(value).__name__)


def _did_you_mean(word, choices):
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
