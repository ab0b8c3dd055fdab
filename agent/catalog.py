"""The catalog: which attributes a platform and SDK version offer, and in which kind."""

import enum
import re
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path

from agent.errors import CatalogError

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")

_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$")


class Kind(str, enum.Enum):
    """How a monitor captures its attribute; values are the config's section names."""

    ONE_TIME = "one_time"
    EVENT = "event"
    INTERVAL = "interval"

    @property
    def label(self):
        return {"one_time": "one-time", "event": "event-based", "interval": "interval-based"}[self.value]


@total_ordering
@dataclass(frozen=True)
class Version:
    """An SDK version compared by number, with pre-releases before their release.

    Ordering follows Semantic Versioning 2.0.0: missing parts count as zero
    (2.12 == 2.12.0), 2.11.10 > 2.11.9, 2.12.0-beta.1 < 2.12.0, and build
    metadata after + is ignored. So a pre-release of 2.12.0 falls in the
    "2.11.x and lower" row.
    """

    release: tuple
    prerelease: tuple | None
    text: str

    @classmethod
    def parse(cls, text):
        match = _VERSION.match(str(text).strip())
        if match is None:
            raise ValueError(f"{text!r} is not a version; write it as numbers separated by dots, such as 2.11.4")
        release = tuple(int(part) for part in match.group(1).split("."))
        while len(release) > 1 and release[-1] == 0:
            release = release[:-1]
        prerelease = None
        if match.group(2):
            prerelease = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in match.group(2).split("."))
        return cls(release, prerelease, str(text).strip())

    def _key(self):
        # A release sorts after all of its pre-releases.
        return (self.release, self.prerelease is None, self.prerelease or ())

    def __lt__(self, other):
        return self._key() < other._key()

    def __eq__(self, other):
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self.text


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    type: str
    unit: str | None
    personal: bool
    description: str


@dataclass(frozen=True)
class SdkRange:
    """SDK versions from min (inclusive) up to max_below (exclusive); either may be open."""

    min: Version | None
    max_below: Version | None

    def covers(self, version):
        if self.min is not None and (version is None or version < self.min):
            return False
        if self.max_below is not None and (version is None or not version < self.max_below):
            return False
        return True

    def __str__(self):
        if self.min and self.max_below:
            return f">= {self.min}, < {self.max_below}"
        if self.min:
            return f">= {self.min}"
        if self.max_below:
            return f"< {self.max_below}"
        return "any"


@dataclass(frozen=True)
class Offer:
    """What one catalog row offers: attribute name to kind."""

    platform: str
    sdk: SdkRange
    kinds: dict

    def kind_of(self, attribute):
        return self.kinds.get(attribute)

    def attributes(self, kind):
        return [name for name, row_kind in self.kinds.items() if row_kind is kind]


class Catalog:
    def __init__(self, attributes, rows):
        self.attributes = attributes
        self.rows = rows

    @property
    def platforms(self):
        return sorted(self.rows)

    def covers_missing_version(self, platform):
        """Return True when the platform has a row for devices that give no SDK version (linux)."""
        return any(row.sdk.covers(None) for row in self.rows.get(platform, ()))

    def offer(self, platform, sdk_version=None):
        """Return the row for this platform and SDK version, or raise CatalogError naming the covered ranges."""
        if platform not in self.rows:
            raise CatalogError(f"unknown platform {platform!r}; use one of {', '.join(self.platforms)}")
        version = Version.parse(sdk_version) if sdk_version is not None else None
        for row in self.rows[platform]:
            if row.sdk.covers(version):
                return row
        ranges = "; ".join(str(row.sdk) for row in self.rows[platform])
        shown = sdk_version if sdk_version is not None else "(none)"
        raise CatalogError(f"platform {platform!r} has no catalog row for SDK version {shown}; covered ranges: {ranges}")

    def offers_of(self, attribute):
        """Return (platform, sdk range, kind) for every row that offers the attribute."""
        return [
            (platform, row.sdk, row.kinds[attribute])
            for platform, rows in sorted(self.rows.items())
            for row in rows
            if attribute in row.kinds
        ]


_ATTRIBUTE_KEYS = {"type", "unit", "personal", "description"}
_ROW_KEYS = {"sdk", "one_time", "event", "interval"}


def load_catalog(path=CATALOG_PATH):
    """Load and check the catalog; raise CatalogError when the file is invalid."""
    from agent.yamlsource import DocumentError, load_document

    try:
        data = load_document(path).data
    except DocumentError as error:
        raise CatalogError(f"invalid catalog: {error}") from None
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CatalogError(f"{path}: invalid catalog: {error}") from None


VALUE_TYPES = ("string", "integer", "number", "boolean", "list", "object")


def _build(data):
    attributes = {name: _build_attribute(name, spec) for name, spec in data["attributes"].items()}
    rows = {}
    for platform, platform_rows in data["platforms"].items():
        rows[platform] = [_build_row(platform, row, attributes) for row in platform_rows]
    return Catalog(attributes, rows)


def _build_attribute(name, spec):
    if set(spec) != _ATTRIBUTE_KEYS:
        raise ValueError(f"attribute {name} has keys {sorted(spec)}; it needs exactly {sorted(_ATTRIBUTE_KEYS)}")
    if spec["type"] not in VALUE_TYPES:
        raise ValueError(f"attribute {name} has type {spec['type']!r}; use one of {', '.join(VALUE_TYPES)}")
    if not isinstance(spec["personal"], bool):
        raise ValueError(f"attribute {name} has personal {spec['personal']!r}; use true or false")
    if not spec.get("description"):
        raise ValueError(f"attribute {name} has no description")
    return AttributeSpec(name, spec["type"], spec.get("unit"), spec["personal"], spec["description"])


def _build_row(platform, row, attributes):
    if not set(row) <= _ROW_KEYS:
        raise ValueError(f"a row of platform {platform} has unknown keys {sorted(set(row) - _ROW_KEYS)}")
    sdk = row.get("sdk") or {}
    sdk_range = SdkRange(
        Version.parse(sdk["min"]) if "min" in sdk else None,
        Version.parse(sdk["max_below"]) if "max_below" in sdk else None,
    )
    kinds = {}
    for kind in Kind:
        for name in row.get(kind.value) or []:
            if name not in attributes:
                raise ValueError(f"platform {platform} lists unknown attribute {name!r}")
            if name in kinds:
                raise ValueError(f"platform {platform} lists {name!r} under two kinds")
            kinds[name] = kind
    return Offer(platform, sdk_range, kinds)
