"""timezone: the device's IANA zone name.

Precedence is libc's: the TZ variable wins, then /etc/localtime, then the
Debian-style /etc/timezone. The value is read fresh on every capture,
never cached at start.
"""

import os

from agent.errors import NotSupported, Unavailable

_ZONEINFO_MARKERS = ("/zoneinfo/", "/zoneinfo-posix/", "/zoneinfo-leaps/")


def timezone(source):
    zone = zone_from_tz_variable(source.environ.get("TZ"))
    if zone:
        return zone
    zone = zone_from_localtime_link(source)
    if zone:
        return zone
    zone = source.read_text("/etc/timezone", fallback="").split("\n")[0].strip()
    if zone:
        return normalise_zone(zone)
    if source.path("/etc/localtime").exists():
        raise Unavailable("/etc/localtime is a copied zone file and /etc/timezone is missing, so the zone name is unknown")
    raise NotSupported("no time zone is configured: TZ is unset and /etc/localtime and /etc/timezone are missing")


def zone_from_tz_variable(tz):
    """Return the IANA name a TZ value names, or None when TZ names no zone file."""
    if not tz:
        return None
    tz = tz.strip()
    if tz.startswith(":"):
        tz = tz[1:]
    for marker in _ZONEINFO_MARKERS:
        if marker in tz:
            return normalise_zone(tz.split(marker, 1)[1])
    if "/" in tz or tz in ("UTC", "GMT", "Etc/UTC"):
        return normalise_zone(tz)
    # A POSIX rule such as CET-1CEST,M3.5.0 names no IANA zone.
    return None


def zone_from_localtime_link(source):
    link = source.path("/etc/localtime")
    try:
        target = os.readlink(link)
    except OSError:
        return None
    for marker in _ZONEINFO_MARKERS:
        if marker in target:
            return normalise_zone(target.split(marker, 1)[1])
    return None


def normalise_zone(name):
    name = name.strip().strip("/")
    if name in ("UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "UCT", "Etc/UCT"):
        return "Etc/UTC"
    return name
