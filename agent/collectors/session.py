"""idle_screen, time_spent and list_account: the device's user sessions and accounts.

The screen is the one of seat0, the seat logind gives the built-in
display and input devices. Its active session is the one on screen:
idle_screen is whether that session is locked or idle, time_spent how
long ago it started. A headless device has no seat0 and so no screen.

list_account reads /etc/passwd: human accounts are those with a UID in
the range /etc/login.defs gives them (UID_MIN to UID_MAX, by default 1000
to 60000) and a login shell.
"""

import time

from agent.errors import NotSupported, Unavailable

SERVICE = "org.freedesktop.login1"
SEAT0 = "/org/freedesktop/login1/seat/seat0"
SEAT = "org.freedesktop.login1.Seat"
SESSION = "org.freedesktop.login1.Session"

DEFAULT_UID_MIN = 1000
DEFAULT_UID_MAX = 60000
NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync")


def idle_screen(source):
    session = active_session(source)
    return bool(session.get("LockedHint") or session.get("IdleHint"))


def time_spent(source):
    """Return the seconds since the session on seat0 started."""
    session = active_session(source)
    started = session.get("Timestamp", 0) / 1_000_000
    if started <= 0:
        raise Unavailable("logind reports no start time for the active session on seat0")
    return max(0, int(time.time() - started))


def active_session(source):
    """Return the properties of the active session on seat0."""
    with source.bus() as bus:
        try:
            seat = bus.properties(SERVICE, SEAT0, SEAT)
        except NotSupported:
            raise NotSupported("logind has no seat0, so the device has no local screen") from None
        _session_id, path = seat.get("ActiveSession", ("", "/"))
        if path in ("", "/"):
            raise Unavailable("no user session is active on seat0")
        return bus.properties(SERVICE, path, SESSION)


def list_account(source):
    """Return the sorted login names of human accounts."""
    uid_min, uid_max = uid_range(source)
    accounts = set()
    for line in source.read_text("/etc/passwd").splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[2].isdigit():
            continue
        name, uid, shell = fields[0], int(fields[2]), fields[6].strip()
        if uid_min <= uid <= uid_max and shell and shell not in NO_LOGIN_SHELLS:
            accounts.add(name)
    return sorted(accounts)


def uid_range(source):
    """Return (UID_MIN, UID_MAX) from /etc/login.defs, with shadow-utils' defaults."""
    settings = {}
    for line in source.read_text("/etc/login.defs", fallback="").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("UID_MIN", "UID_MAX") and fields[1].isdigit():
            settings[fields[0]] = int(fields[1])
    return settings.get("UID_MIN", DEFAULT_UID_MIN), settings.get("UID_MAX", DEFAULT_UID_MAX)
