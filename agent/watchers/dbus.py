"""D-Bus signals for modem, power and session attributes.

ModemManager, UPower and logind emit PropertiesChanged (and their own
signals) on the system bus whenever a property changes, so one match
rule per service replaces polling them. Signals are mapped to attributes
by object path, because every object of these services lives under the
service's own path. A service that starts, stops or restarts
(NameOwnerChanged) may have changed all of its attributes.
"""

from agent.watchers.base import Watcher, WatcherError

SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"
CONNECT_TIMEOUT_SECONDS = 2.0

# service name -> (object path prefix, attributes read from that service)
SERVICES = {
    "org.freedesktop.ModemManager1": (
        "/org/freedesktop/ModemManager1",
        frozenset(("telco", "mcc", "mnc", "roaming", "cell_id", "signal_strength", "imsi")),
    ),
    "org.freedesktop.UPower": ("/org/freedesktop/UPower", frozenset(("battery_level",))),
    "org.freedesktop.login1": ("/org/freedesktop/login1", frozenset(("idle_screen",))),
}

# NOTE: location and geofence come from a GeoClue client that the
# location collector creates per capture, so no signal outlives it and
# they are polled.
ATTRIBUTES = frozenset(attribute for _, attributes in SERVICES.values() for attribute in attributes)


class DBusWatcher(Watcher):
    name = "dbus"
    watchable = ATTRIBUTES

    def __init__(self, source, attributes):
        super().__init__(set(attributes) & ATTRIBUTES)
        try:
            from jeepney import MessageType, message_bus
            from jeepney.bus_messages import MatchRule
            from jeepney.io.blocking import open_dbus_connection
            from jeepney.low_level import HeaderFields
        except ImportError:
            raise WatcherError("the jeepney package is not installed") from None
        self._signal_type = MessageType.signal
        self._fields = HeaderFields
        self.address = system_bus_address(source)
        try:
            self._connection = open_dbus_connection(self.address, auth_timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, RuntimeError, ValueError) as error:
            raise WatcherError(f"cannot connect to the D-Bus system bus at {self.address}: {error}") from None
        self._services = {service: spec for service, spec in SERVICES.items() if spec[1] & self.attributes}
        try:
            for service in self._services:
                self._add_match(message_bus, MatchRule(type="signal", sender=service))
                owner_changed = MatchRule(type="signal", sender="org.freedesktop.DBus", interface="org.freedesktop.DBus", member="NameOwnerChanged")
                owner_changed.add_arg_condition(0, service)
                self._add_match(message_bus, owner_changed)
        except (OSError, TimeoutError, RuntimeError) as error:
            self._connection.close()
            raise WatcherError(f"cannot subscribe to signals on the D-Bus system bus at {self.address}: {error}") from None

    def _add_match(self, message_bus, rule):
        self._connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=CONNECT_TIMEOUT_SECONDS)

    def fileno(self):
        return self._connection.sock.fileno()

    def read(self):
        changed = set()
        while True:
            try:
                # timeout=0 returns buffered or readable messages and raises TimeoutError when none are left.
                message = self._connection.receive(timeout=0)
            except TimeoutError:
                return changed
            changed |= self._attributes_of(message)

    def close(self):
        self._connection.close()

    def _attributes_of(self, message):
        header = message.header
        if header.message_type is not self._signal_type:
            return set()
        fields = header.fields
        if fields.get(self._fields.member) == "NameOwnerChanged" and fields.get(self._fields.interface) == "org.freedesktop.DBus":
            spec = self._services.get(message.body[0] if message.body else None)
            return set(spec[1] & self.attributes) if spec else set()
        path = fields.get(self._fields.path, "")
        for prefix, attributes in self._services.values():
            if path == prefix or path.startswith(prefix + "/"):
                return set(attributes & self.attributes)
        return set()


def system_bus_address(source):
    """Return the system bus address the source's collectors use."""
    address = getattr(source, "system_bus", None)
    if address:
        return address
    if getattr(source, "is_real_root", False):
        return source.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or f"unix:path={SYSTEM_BUS_SOCKET}"
    # A fake root has its own bus socket, never the host's.
    return f"unix:path={source.path(SYSTEM_BUS_SOCKET)}"

