"""timezone: the device's IANA zone name.

Precedence is glibc's: the TZ variable wins, then /etc/localtime. TZ may
name a zone (Europe/Berlin, :Europe/Berlin), a zone file
(/usr/share/zoneinfo/Europe/Berlin, :/etc/localtime), or a POSIX rule
(UTC0, JST-9, CET-1CEST,M3.5.0,M10.5.0/3); an empty TZ means UTC.

/etc/localtime is usually a symlink into the zone database, whose target
names the zone even when tzdata is missing, as in slim containers. A
plain copy is matched by content against the zone database, preferring
the name /etc/timezone gives. Without a match, /etc/timezone or
timedated names the zone. Without /etc/localtime, glibc runs in UTC.

The value is read fresh on every capture, never cached at start.
"""

import os
import re

from agent.errors import NotSupported, Unavailable

ZONEINFO = "/usr/share/zoneinfo"
UTC_NAMES = {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "UCT", "Etc/UCT", "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "GMT-0", "Etc/GMT+0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich"}
# Entries of the zone database that are no zone of their own.
NOT_ZONES = {"posixrules", "localtime", "Factory", "leapseconds", "leap-seconds.list", "tzdata.zi", "zone.tab", "zone1970.tab", "iso3166.tab", "zonenow.tab", "SECURITY"}
_AREA_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)+$")
# Any tzdata name, including single words such as Japan; real names are far shorter than the limit.
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
MAX_ZONE_NAME = 64
# A POSIX rule without daylight saving time: name, then offset hours west of UTC.
_FIXED_RULE = re.compile(r"^(?:[A-Za-z]{3,}|<[A-Za-z0-9+\-]{1,}>)([+-]?\d{1,2})(?::00)?$")

TIMEDATE = "org.freedesktop.timedate1"
TIMEDATE_PATH = "/org/freedesktop/timedate1"


def timezone(source):
    if "TZ" in source.environ:
        zone = zone_from_tz_variable(source, source.environ["TZ"])
        if zone:
            return zone
    return zone_from_file(source, "/etc/localtime")


def zone_from_tz_variable(source, tz):
    """Return the zone a TZ value names; None when it defers to /etc/localtime."""
    tz = tz.strip()
    if tz == "":
        return "Etc/UTC"
    if tz.startswith(":"):
        tz = tz[1:]
        if not tz:
            return None
    if tz.startswith("/"):
        return zone_from_file(source, tz)
    name = normalise_zone(tz)
    if name == "Etc/UTC" or _zone_file_exists(source, name):
        return name
    fixed = _FIXED_RULE.match(tz)
    if fixed:
        return _fixed_offset_zone(tz, int(fixed.group(1)))
    if _database_missing(source) and _AREA_NAME.match(name):
        # Without tzdata the name cannot be checked, but it is what the user set.
        return name
    if "," in tz or re.search(r"\d", tz):
        raise NotSupported(f"TZ is the POSIX rule {tz!r}, which names no IANA zone")
    raise Unavailable(f"TZ names {tz!r}, which is not in the zone database, so glibc runs in UTC")


def zone_from_file(source, name):
    """Return the zone of a zone file: /etc/localtime, or a path TZ names."""
    link = _link_target(source, name)
    if link is not None and "zoneinfo/" in link:
        zone = normalise_zone(link.split("zoneinfo/", 1)[1])
        if len(zone) > MAX_ZONE_NAME or not _ZONE_NAME.match(zone):
            raise Unavailable(f"{name} is a link to {link[:200]}, which names no zone in the zone database")
        return zone
    path = source.path(name)
    if not path.exists():
        if link is not None:
            raise Unavailable(f"{name} is a link to {link}, which is outside the zone database")
        # glibc runs in UTC when its zone file is missing.
        return "Etc/UTC"
    configured = _etc_timezone(source)
    matched = _match_zone_content(source, path.read_bytes(), configured)
    if matched:
        return matched
    if configured:
        return configured
    zone = _timedated_zone(source)
    if zone:
        return zone
    raise Unavailable(f"{name} is a copied zone file that matches no zone in {ZONEINFO}, and /etc/timezone is missing")


def normalise_zone(name):
    name = name.strip().strip("/")
    for prefix in ("posix/", "right/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name in UTC_NAMES:
        return "Etc/UTC"
    return name


def _link_target(source, name):
    """Follow a chain of symlinks under the root; return the last target, or None when name is no link."""
    target = None
    current = name
    for _ in range(8):
        try:
            following = os.readlink(source.path(current))
        except OSError:
            break
        target = following
        if "zoneinfo/" in following:
            break
        current = following if following.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(current), following))
    return target


def _etc_timezone(source):
    zone = source.read_text("/etc/timezone", fallback="").split("\n")[0].strip()
    return normalise_zone(zone) if zone else None


def _match_zone_content(source, content, preferred):
    """Return the name of the zone whose file has this content, preferring the given name."""
    if preferred and _zone_bytes(source, preferred) == content:
        return preferred
    database = source.path(ZONEINFO)
    if not database.is_dir():
        return None
    matches = []
    for directory, subdirectories, files in os.walk(database):
        subdirectories[:] = [entry for entry in subdirectories if entry not in ("posix", "right")]
        for file_name in files:
            if file_name in NOT_ZONES or file_name.endswith(".tab"):
                continue
            path = os.path.join(directory, file_name)
            if os.path.getsize(path) == len(content) and _read_bytes(path) == content:
                matches.append(os.path.relpath(path, database))
    if not matches:
        return None
    canonical = _canonical_zones(source)
    # Canonical names (from zone1970.tab) first, then Area/Location names, then the shortest.
    matches.sort(key=lambda zone: (zone not in canonical, "/" not in zone, len(zone), zone))
    return normalise_zone(matches[0])


def _canonical_zones(source):
    zones = set()
    for table in ("zone1970.tab", "zone.tab"):
        for line in source.read_text(f"{ZONEINFO}/{table}", fallback="").splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and not line.startswith("#"):
                zones.add(fields[2])
    return zones


def _zone_bytes(source, zone):
    return _read_bytes(source.path(f"{ZONEINFO}/{zone}"))


def _read_bytes(path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def _zone_file_exists(source, name):
    return ".." not in name and source.path(f"{ZONEINFO}/{name}").is_file()


def _database_missing(source):
    return not source.path(ZONEINFO).is_dir()


def _fixed_offset_zone(rule, hours_west):
    if hours_west == 0:
        return "Etc/UTC"
    if not -14 <= hours_west <= 12:
        raise NotSupported(f"TZ is the POSIX rule {rule!r}, whose offset has no IANA zone")
    # Etc/GMT+5 is five hours west of UTC, the same sign as POSIX offsets.
    return f"Etc/GMT{hours_west:+d}"


def _timedated_zone(source):
    try:
        with source.bus() as bus:
            zone = bus.property(TIMEDATE, TIMEDATE_PATH, TIMEDATE, "Timezone")
    except (Unavailable, NotSupported):
        return None
    return normalise_zone(zone) if zone else None
