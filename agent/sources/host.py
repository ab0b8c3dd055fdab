"""HostSource: the real Linux machine, read through files under a root path and the system bus.

Tests and diagnosis point the root at a fake tree of /etc, /sys, /proc and
/run, the way psutil and Telegraf fake the kernel with data, and the
system bus at a private dbus-daemon.

Every collector call runs in a worker thread under a timeout, so a hung
D-Bus call or a stuck file read costs one sample and nothing else.
"""

import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agent.errors import AccessDenied, CollectorError, Unavailable

log = logging.getLogger("agent.sources.host")

_MISSING = object()
DEFAULT_COLLECT_TIMEOUT = 10.0
SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"


@dataclass(frozen=True)
class HostSettings:
    """Collector settings taken from the agent configuration.

    geofences: Geofence tuples for the geofence attribute.
    email: the device user's e-mail address, the only source of email_id.
    app_unit: the systemd unit running the app the profile belongs to,
    which defines foreground and foreground_app.
    """

    geofences: tuple = ()
    email: str | None = None
    app_unit: str | None = None


def settings_from_config(config):
    """Build HostSettings from an AgentConfig; fields the config lacks stay unset."""
    device = config.device
    return HostSettings(
        geofences=tuple(config.geofences),
        email=device.email,
        app_unit=device.app_unit,
    )


class HostSource:
    def __init__(self, root="/", environ=None, system_bus=None, settings=None, timeout=DEFAULT_COLLECT_TIMEOUT, bus_timeout=2.0):
        self.root = Path(root)
        self.environ = dict(os.environ if environ is None else environ)
        self.system_bus = system_bus or self._default_system_bus()
        self.settings = settings or HostSettings()
        self.timeout = timeout
        self.bus_timeout = bus_timeout
        # Failures per attribute and kind ("timeout", "error", "busy"), for status reports.
        self.failures = {}
        # Per-source collector state, such as which geofences the device is inside.
        self.state = {}
        self._lock = threading.Lock()
        self._running = {}
        self._logged = set()

    def _default_system_bus(self):
        if self.is_real_root:
            return self.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or f"unix:path={SYSTEM_BUS_SOCKET}"
        # A fake root never reaches the host's own bus, so its values stay its own.
        return f"unix:path={self.path(SYSTEM_BUS_SOCKET)}"

    def bus(self):
        """Return a SystemBus to use as `with source.bus() as bus:`."""
        from agent.sources.bus import SystemBus

        return SystemBus(self.system_bus, timeout=self.bus_timeout)

    @property
    def is_real_root(self):
        return self.root.resolve() == Path("/")

    def path(self, name):
        """Return the host path under the root: path('/etc/timezone')."""
        return self.root / str(name).lstrip("/")

    def read_text(self, name, fallback=_MISSING):
        """Return a file's text, stripped; the fallback when it is missing, if one is given."""
        try:
            return self.path(name).read_text(encoding="utf-8", errors="replace").strip()
        except (FileNotFoundError, NotADirectoryError):
            if fallback is not _MISSING:
                return fallback
            raise Unavailable(f"{name} not found") from None
        except PermissionError:
            raise AccessDenied(f"permission denied reading {name}") from None
        except OSError as error:
            # Some sysfs attributes raise EIO or ENODATA while a device is absent.
            if fallback is not _MISSING:
                return fallback
            raise Unavailable(f"cannot read {name}: {error.strerror}") from None

    def list_dir(self, name):
        """Return the sorted entry names of a directory, or [] when it does not exist."""
        try:
            return sorted(os.listdir(self.path(name)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except PermissionError:
            raise AccessDenied(f"permission denied listing {name}") from None

    def machine_id(self):
        return self.read_text("/etc/machine-id", fallback="") or None

    def os_name(self):
        """Return PRETTY_NAME from os-release, the name the distribution gives itself."""
        for name in ("/etc/os-release", "/usr/lib/os-release"):
            for line in self.read_text(name, fallback="").splitlines():
                key, _, value = line.partition("=")
                if key == "PRETTY_NAME":
                    return value.strip().strip("\"'")
        return "Linux"

    def collect(self, attribute):
        """Read one attribute's current value, or raise a CollectorError saying why there is none.

        The collector runs in a worker thread. One that outlasts the timeout
        is abandoned and not started again until it returns, so hung calls
        cannot pile up threads.
        """
        call = self._start(attribute)
        if not call.done.wait(self.timeout):
            self._count(attribute, "timeout")
            self._log_once(attribute, "timeout", "Reading %s timed out after %g s; later timeouts are counted, not logged", attribute, self.timeout)
            raise CollectorError(f"timed out after {self.timeout:g} s")
        if call.error is not None:
            raise self._failure(attribute, call.error)
        return call.value

    def _start(self, attribute):
        """Start the attribute's collector in a thread, unless its previous call is still running."""
        from agent.collectors import collector_for

        with self._lock:
            busy = attribute in self._running
            if not busy:
                call = _Call(collector_for(attribute), self)
                self._running[attribute] = call
        if busy:
            self._count(attribute, "busy")
            raise Unavailable(f"the previous read of {attribute} has not returned after more than {self.timeout:g} s; it is not started again until it does")
        call.start(f"collect-{attribute}", lambda: self._finished(attribute))
        return call

    def _failure(self, attribute, error):
        """Return the CollectorError to raise for a collector's exception, logging and counting it."""
        if isinstance(error, CollectorError):
            failure_kind = getattr(error, "failure_kind", None)
            if failure_kind:
                self._count(attribute, failure_kind)
                self._log_once(attribute, failure_kind, "Reading %s failed: %s; later failures of this kind are counted, not logged", attribute, error.reason)
            return error
        kind = type(error).__name__
        self._count(attribute, "error")
        # An exception's text may quote the value it failed on, which a personal attribute must not log.
        detail = "details withheld because the attribute is personal" if self._is_personal(attribute) else str(error)
        self._log_once(attribute, kind, "Collector for %s failed with %s: %s; later failures of this kind are counted, not logged", attribute, kind, detail)
        return CollectorError(f"collector failed: {kind}: {error}")

    def _is_personal(self, attribute):
        from agent.catalog import load_catalog

        spec = load_catalog().attributes.get(attribute)
        return spec is None or spec.personal

    def _finished(self, attribute):
        with self._lock:
            self._running.pop(attribute, None)

    def _count(self, attribute, kind):
        with self._lock:
            self.failures.setdefault(attribute, Counter())[kind] += 1

    def _log_once(self, attribute, kind, message, *args):
        with self._lock:
            if (attribute, kind) in self._logged:
                return
            self._logged.add((attribute, kind))
        log.warning(message, *args)


class _Call:
    """One collector call in a daemon thread, which the caller may abandon."""

    def __init__(self, collector, source):
        self.collector = collector
        self.source = source
        self.value = None
        self.error = None
        self.done = threading.Event()

    def start(self, name, on_return):
        def run():
            try:
                self.value = self.collector(self.source)
            except Exception as error:  # noqa: BLE001 - handed to the caller, which translates it
                self.error = error
            finally:
                on_return()
                self.done.set()

        threading.Thread(target=run, name=name, daemon=True).start()
