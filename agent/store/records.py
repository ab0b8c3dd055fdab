"""Validation of profile update events as the store receives them.

Each validator returns a normalised record or raises InvalidRecord with a reason
that names the field, the problem and the fix, because the store sends that
reason back to the agent verbatim.
"""

import json
import math
import re
from json.encoder import encode_basestring
from typing import NamedTuple
from datetime import datetime, timezone

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ATTRIBUTE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
RFC3339_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)

RECORD_TYPES = ("registration", "update")
KINDS = ("one_time", "event", "interval", "heartbeat")
ATTRIBUTE_STATUSES = ("ok", "unsupported", "unavailable", "denied", "error")

MAX_SEQUENCE = (1 << 63) - 1  # SQLite's INTEGER is a signed 64-bit value
MAX_VALUE_BYTES = 64 * 1024
MAX_TEXT_CHARS = 1024
MAX_ATTRIBUTES = 256
MAX_NESTING = 32

RECORD_KEYS = frozenset(
    ("event_id", "device_id", "sequence", "type", "kind", "captured_at", "attributes", "profile")
)
ATTRIBUTE_KEYS = frozenset(("status", "value", "reason"))
PROFILE_REQUIRED_TEXT = ("userId", "os", "platform")
PROFILE_OPTIONAL_TEXT = ("customerId", "sdkVersion", "pushId", "language", "timezone")
PROFILE_KEYS = frozenset(PROFILE_REQUIRED_TEXT + PROFILE_OPTIONAL_TEXT + ("createdOn",))


# One shared encoder, because json.dumps() with options builds a new one per call.
VALUE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class InvalidRecord(ValueError):
    """A record the store rejects; the message is the reason sent to the agent."""


# Named tuples, not frozen dataclasses, because one is built per record and
# attribute on the ingest path, and on Python 3.11 a frozen dataclass takes
# about twice as long to build.
class Attribute(NamedTuple):
    name: str
    value_json: str
    status: str
    reason: str | None


class Record(NamedTuple):
    """A validated event with its capture time normalised to UTC and clamped to now."""

    event_id: str
    device_id: str
    sequence: int
    type: str
    kind: str | None
    captured_at: str
    captured_at_clamped: bool
    attributes: tuple[Attribute, ...]
    profile: dict | None


def validate_id(value, field):
    """Return value if it is a valid app, device or event id, else raise InvalidRecord."""
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be a string, got {type_name(value)}")
    if ID_PATTERN.fullmatch(value) is None or value in (".", ".."):
        raise InvalidRecord(
            f"{field} {shorten(value)} is invalid: use 1 to 128 characters of "
            "A-Z, a-z, 0-9, '.', '_', ':' and '-', other than '.' or '..'"
        )
    return value


def validate_record(raw, now, value_level=0):
    """Validate one record from a request body and return it as a Record.

    now is the store's current time as an aware datetime. value_level is how
    deep in the request body an attribute's value sits, so that the body as a
    whole nests at most MAX_NESTING levels.
    """
    if not isinstance(raw, dict):
        raise InvalidRecord(f"record must be a JSON object, got {type_name(raw)}")
    check_fields(raw, RECORD_KEYS, "record")
    for field in ("event_id", "device_id", "sequence", "type", "captured_at", "attributes"):
        if field not in raw:
            raise InvalidRecord(f"{field} is missing; every record needs it")

    event_id = validate_id(raw["event_id"], "event_id")
    device_id = validate_id(raw["device_id"], "device_id")
    sequence = validate_sequence(raw["sequence"])

    record_type = raw["type"]
    if not isinstance(record_type, str) or record_type not in RECORD_TYPES:
        raise InvalidRecord(
            f"type must be 'registration' or 'update', got {shorten(record_type)}"
        )
    kind = raw.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
        raise InvalidRecord(
            f"kind must be null or one of {', '.join(KINDS)}, got {shorten(kind)}"
        )

    captured = parse_timestamp(raw["captured_at"], "captured_at")
    clamped = captured > now
    if clamped:
        captured = now

    attributes = validate_attributes(raw["attributes"], record_type, value_level)

    profile = None
    if record_type == "registration":
        if raw.get("profile") is None:
            raise InvalidRecord("profile is missing; a registration record needs it")
        profile = validate_profile(raw["profile"])
    # An update's profile is ignored: registration fields change only by registering again.

    return Record(
        event_id=event_id,
        device_id=device_id,
        sequence=sequence,
        type=record_type,
        kind=kind,
        captured_at=format_timestamp(captured),
        captured_at_clamped=clamped,
        attributes=attributes,
        profile=profile,
    )


def check_fields(raw, allowed, where):
    """Raise InvalidRecord naming the first field of the object raw that is not in allowed."""
    if allowed.issuperset(raw):
        return
    unknown = sorted(raw.keys() - allowed)
    raise InvalidRecord(
        f"unknown field {shorten(unknown[0])} in {where}; allowed fields are "
        + ", ".join(sorted(allowed))
    )


def validate_sequence(value):
    # bool is a subclass of int, but true is not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRecord(f"sequence must be an integer, got {shorten(value)}")
    if value < 1 or value > MAX_SEQUENCE:
        raise InvalidRecord(
            f"sequence must be between 1 and {MAX_SEQUENCE}, got {shorten(value)}"
        )
    return value


def validate_attributes(raw, record_type, value_level):
    if not isinstance(raw, dict):
        raise InvalidRecord(f"attributes must be a JSON object, got {type_name(raw)}")
    if not raw and record_type == "update":
        raise InvalidRecord("attributes is empty; an update must carry at least one attribute")
    if len(raw) > MAX_ATTRIBUTES:
        raise InvalidRecord(
            f"attributes has {len(raw)} entries, more than the maximum of {MAX_ATTRIBUTES}; "
            "split them over several records"
        )
    return tuple([validate_attribute(name, entry, value_level) for name, entry in raw.items()])


def validate_attribute(name, entry, value_level):
    if ATTRIBUTE_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidRecord(
            f"attribute name {shorten(name)} is invalid: use snake_case, a lowercase "
            "letter followed by up to 63 lowercase letters, digits or '_'"
        )
    # Field names for messages are built only on error, as this runs for every attribute.
    if not isinstance(entry, dict):
        raise InvalidRecord(f"attributes.{name} must be a JSON object, got {type_name(entry)}")
    if not ATTRIBUTE_KEYS.issuperset(entry):
        check_fields(entry, ATTRIBUTE_KEYS, f"attributes.{name}")

    status = entry.get("status")
    if not isinstance(status, str) or status not in ATTRIBUTE_STATUSES:
        raise InvalidRecord(
            f"attributes.{name}.status must be one of {', '.join(ATTRIBUTE_STATUSES)}, "
            f"got {shorten(status)}"
        )
    reason = entry.get("reason")
    if reason is not None:
        reason = validate_text(reason, f"attributes.{name}.reason", required=False)

    value_json = encode_value(entry.get("value"), f"attributes.{name}.value", value_level)
    return Attribute(name=name, value_json=value_json, status=status, reason=reason)


def encode_value(value, field, value_level):
    """Return value as compact JSON text, or raise InvalidRecord if it breaks a limit."""
    # Scalars take a shortcut around the encoder, because most attribute values are scalars.
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)

    if type(value) is str:
        text = encode_basestring(value)
    else:
        if isinstance(value, (dict, list)):
            check_nesting(value, MAX_NESTING - value_level, field)
        try:
            text = VALUE_ENCODER.encode(value)
        except ValueError:
            raise InvalidRecord(f"{field} contains NaN or Infinity, which JSON does not allow") from None

    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidRecord(
                f"{field} contains an unpaired UTF-16 surrogate; send valid Unicode text"
            ) from None
    if size > MAX_VALUE_BYTES:
        raise InvalidRecord(
            f"{field} is {size} bytes as JSON, more than the maximum of "
            f"{MAX_VALUE_BYTES}; send a smaller value"
        )
    return text


def check_nesting(value, max_levels, field):
    """Raise InvalidRecord if value nests more than max_levels arrays or objects.

    Walks with an explicit stack, so deep input cannot exhaust the call stack.
    """
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > max_levels:
            raise InvalidRecord(
                f"{field} nests deeper than {max_levels} levels of arrays and objects "
                f"(the whole body may nest at most {MAX_NESTING}); flatten the value"
            )
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))


def validate_profile(raw):
    if not isinstance(raw, dict):
        raise InvalidRecord(f"profile must be a JSON object, got {type_name(raw)}")
    check_fields(raw, PROFILE_KEYS, "profile")
    profile = {}
    for field in PROFILE_REQUIRED_TEXT:
        profile[field] = validate_text(raw.get(field), f"profile.{field}", required=True)
    for field in PROFILE_OPTIONAL_TEXT:
        profile[field] = validate_text(raw.get(field), f"profile.{field}", required=False)
    if raw.get("createdOn") is None:
        raise InvalidRecord("profile.createdOn is missing; send the registration time")
    created = parse_timestamp(raw["createdOn"], "profile.createdOn")
    profile["createdOn"] = format_timestamp(created)
    return profile


def validate_text(value, field, required):
    if value is None:
        if required:
            raise InvalidRecord(f"{field} is missing; a registration record needs it")
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be a string, got {type_name(value)}")
    if required and not value:
        raise InvalidRecord(f"{field} is empty; send a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidRecord(
            f"{field} has {len(value)} characters, more than the maximum of {MAX_TEXT_CHARS}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(
            f"{field} contains an unpaired UTF-16 surrogate; send valid Unicode text"
        ) from None
    return value


def parse_timestamp(value, field):
    """Parse an RFC 3339 timestamp with an offset into an aware datetime."""
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be an RFC 3339 string, got {type_name(value)}")
    if RFC3339_PATTERN.fullmatch(value) is None:
        raise InvalidRecord(
            f"{field} {shorten(value)} is not an RFC 3339 timestamp with an offset; "
            "send e.g. 2026-12-04T19:00:00.123+00:00"
        )
    try:
        # fromisoformat in Python 3.11 rejects a lowercase 'z' or 't'.
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise InvalidRecord(
            f"{field} {shorten(value)} is not a valid date and time; check its fields"
        ) from None
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        # 0001-01-01 with a positive offset, or 9999-12-31 with a negative one, has no UTC equivalent.
        raise InvalidRecord(f"{field} {shorten(value)} lies outside the years 1 to 9999 in UTC") from None


def format_timestamp(moment):
    """Format an aware datetime as RFC 3339 in UTC with milliseconds."""
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def type_name(value):
    """Name value's JSON type for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shorten(value, limit=60):
    """Render value for an error message, cut to limit characters."""
    text = repr(value) if isinstance(value, str) else json_preview(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_preview(value):
    if isinstance(value, (dict, list)):
        return type_name(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return "a number with more than 30 digits"
    return json.dumps(value)
