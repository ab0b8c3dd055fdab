"""A JSON Schema (draft 2020-12) of agent.yaml, for editors that complete and check YAML.

The schema catches the shape of the file: keys, types, attribute names and
value ranges. Checks that need the catalog row of the device's platform
and SDK version, or the file system, are left to device-agent config check.
"""

from agent.catalog import Kind, load_catalog
from agent.config import (
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_GEOFENCE_RADIUS_METRES,
    MIN_MAX_OUTBOX_BYTES,
    MIN_MAX_OUTBOX_EVENTS,
    PRIVACY_CHOICES,
    StoreConfig,
)

DURATION_PATTERN = r"^\s*-?\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$|^\s*\d+(\.\d+)?\s*$"


def config_schema(catalog=None):
    catalog = catalog or load_catalog()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "device-agent agent.yaml",
        "type": "object",
        "additionalProperties": False,
        "required": ["device", "monitors"],
        "properties": {
            "device": _device(catalog),
            "monitors": _monitors(catalog),
            "geofences": _geofences(),
            "store": _store(),
            "state_dir": {"type": "string", "pattern": "^/", "description": "Absolute path of the agent's state: agent.db and the embedded store.", "default": "/var/lib/device-agent"},
            "logging": _logging(),
            "heartbeat": _duration("How often the full profile is sent even when nothing changed; default 15d, at least 1m, at most 30d."),
        },
    }


def _device(catalog):
    needs_version = [platform for platform in catalog.platforms if not catalog.covers_missing_version(platform)]
    identifier = {"type": ["string", "integer"], "minLength": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["platform", "app_id"],
        "properties": {
            "platform": {"enum": catalog.platforms, "description": "Which catalog platform the device is."},
            "sdk_version": {
                "type": "string",
                "pattern": r"^\d+(\.\d+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z.-]+)?$",
                "description": "The Webex Connect SDK version, quoted so YAML keeps it text: \"2.12.0\".",
            },
            "app_id": identifier | {"description": "The app whose profiles this device keeps."},
            "user_id": identifier | {"description": "Generated once and kept when left out."},
            "customer_id": identifier,
            "device_id": identifier | {"description": "Derived from /etc/machine-id and app_id when left out."},
            "email": {"type": "string", "description": "The device user's e-mail address, reported as email_id."},
            "app_unit": {"type": "string", "description": "The systemd unit that runs the app, which defines foreground and foreground_app."},
        },
        "allOf": [
            {
                "if": {"properties": {"platform": {"enum": needs_version}}, "required": ["platform"]},
                "then": {"required": ["sdk_version"]},
            }
        ],
    }


def _monitors(catalog):
    properties = {}
    for kind in Kind:
        names = sorted({name for rows in catalog.rows.values() for row in rows for name in row.attributes(kind)})
        attribute = {"anyOf": [{"const": name, "description": catalog.attributes[name].description} for name in names]}
        options = _monitor_options(kind)
        if kind is Kind.INTERVAL:
            properties[kind.value] = {
                "type": "object",
                "description": "Attribute to interval, such as battery_level: 5m.",
                "propertyNames": {"enum": names},
                "additionalProperties": {"anyOf": [_duration("Capture every this long."), options]},
            }
            continue
        entry = {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": names}, "additionalProperties": options}
        properties[kind.value] = {"type": "array", "description": f"Attributes captured {_captured(kind)}.", "items": {"anyOf": [attribute, entry]}}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _captured(kind):
    return {Kind.ONE_TIME: "once after registration", Kind.EVENT: "whenever their value changes", Kind.INTERVAL: "every interval"}[kind]


def _monitor_options(kind):
    properties = {"privacy": {"enum": list(PRIVACY_CHOICES), "default": "send", "description": "send the value, a keyed hash of it, or nothing."}}
    required = []
    if kind is Kind.EVENT:
        properties["poll_interval"] = _duration("How often to read the value when no change notification exists. Default 30s, at least 1s.")
    if kind is Kind.INTERVAL:
        properties["every"] = _duration("Capture every this long; at least 10s.")
        properties["jitter"] = _duration("Random delay up to this long added to each run; shorter than every.")
        required = ["every"]
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": required}


def _duration(description):
    return {
        "description": description + " A number with ms, s, m, h or d, such as 30s, 15m, 1h30m; a bare number is seconds.",
        "anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number", "exclusiveMinimum": 0}],
    }


def _geofences():
    return {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "latitude", "longitude", "radius"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "latitude": {"type": "number", "minimum": -90, "maximum": 90, "description": "Degrees, WGS 84."},
                "longitude": {"type": "number", "minimum": -180, "maximum": 180, "description": "Degrees, WGS 84."},
                "radius": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_GEOFENCE_RADIUS_METRES, "description": "Metres."},
            },
        },
    }


def _store():
    defaults = StoreConfig()
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Where events go. Without url the agent runs its own profile store in state_dir.",
        "properties": {
            "url": {"type": "string", "pattern": "^https?://", "description": "Base URL of the profile store."},
            "key_file": {"type": "string", "description": "File holding the profile key, mode 0600."},
            "key_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "default": defaults.key_env},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": defaults.batch_size},
            "flush_interval": _duration("How long events may wait before a delivery."),
            "connect_timeout": _duration("Timeout for connecting to the store."),
            "read_timeout": _duration("Timeout for the store's response."),
            "ca_bundle": {"type": "string", "description": "PEM file of CA certificates for an https url."},
            "max_outbox_events": {"type": "integer", "minimum": MIN_MAX_OUTBOX_EVENTS, "default": defaults.max_outbox_events, "description": "Events the outbox keeps."},
            "max_outbox_bytes": {"type": "integer", "minimum": MIN_MAX_OUTBOX_BYTES, "default": defaults.max_outbox_bytes, "description": "Bytes of event bodies the outbox keeps."},
        },
    }


def _logging():
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "level": {"enum": list(LOG_LEVELS), "default": "info"},
            "format": {"enum": list(LOG_FORMATS), "default": "text"},
        },
    }
