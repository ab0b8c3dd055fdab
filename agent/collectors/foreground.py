"""foreground, foreground_app and email_id: attributes Linux has no notion of.

The agent defines them from its configuration:

- foreground: whether the app the profile belongs to runs. On a kiosk the
  app is the only thing on screen, so running is being in the
  foreground. The app is the systemd unit named by app_unit, and it runs
  when its cgroup has a process.
- foreground_app: the app_unit's name while it runs; otherwise the desktop
  (XDG_SESSION_DESKTOP, such as "gnome") of the session logind shows on
  seat0.
- email_id: the e-mail address configured for the device's user; Linux
  keeps none.
"""

from agent.collectors.session import active_session
from agent.errors import NotSupported, Unavailable

# cgroup v2 (unified), then the cgroup v1 systemd hierarchy.
CGROUP_ROOTS = ("/sys/fs/cgroup", "/sys/fs/cgroup/systemd")


def foreground(source):
    unit = _app_unit(source)
    return bool(unit_processes(source, unit))


def foreground_app(source):
    unit = source.settings.app_unit
    if unit and unit_processes(source, unit):
        return unit
    desktop = active_session(source).get("Desktop", "")
    if desktop:
        return desktop
    if unit:
        raise Unavailable(f"app unit {unit} is not running and the session on seat0 names no desktop")
    raise Unavailable("the session on seat0 names no desktop, and no app_unit is configured")


def email_id(source):
    email = source.settings.email
    if not email:
        raise NotSupported("Linux keeps no e-mail address for a device; set device.email in agent.yaml to report one")
    return email


def unit_processes(source, unit):
    """Return the process ids in a systemd unit's cgroup, system or user."""
    for root in CGROUP_ROOTS:
        for directory in _unit_directories(source, root, unit):
            text = source.read_text(f"{directory}/cgroup.procs", fallback="")
            pids = [int(line) for line in text.split() if line.isdigit()]
            if pids:
                return pids
    return []


def _unit_directories(source, root, unit):
    yield f"{root}/system.slice/{unit}"
    # User units live in user.slice/user-UID.slice/user@UID.service/app.slice.
    for user_slice in source.list_dir(f"{root}/user.slice"):
        for manager in source.list_dir(f"{root}/user.slice/{user_slice}"):
            if manager.startswith("user@"):
                yield f"{root}/user.slice/{user_slice}/{manager}/app.slice/{unit}"


def _app_unit(source):
    unit = source.settings.app_unit
    if not unit:
        raise NotSupported("Linux has no foreground app; set device.app_unit in agent.yaml to the systemd unit that runs the app")
    return unit
