"""The D-Bus system bus as collectors see it: blocking calls with a timeout.

jeepney speaks the protocol in pure Python, so a call that never gets a
reply ends with TimeoutError instead of blocking a thread forever. Each
collector call opens its own connection: a hung service then holds only
that connection, and nothing is shared between threads.

Bus errors are translated here, once, into the collector error tree.
"""

from jeepney import DBusAddress, DBusErrorResponse, MessageType, Properties, new_method_call
from jeepney.io.blocking import open_dbus_connection

from agent.errors import AccessDenied, NotSupported, Unavailable

DEFAULT_CALL_TIMEOUT = 2.0

_SERVICE_GONE = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner")
_DENIED = ("org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.AuthFailed")
_NOT_THERE = (
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.UnknownProperty",
    "org.freedesktop.DBus.Error.InvalidArgs",
)


class NoReply(Unavailable):
    """A service that sent no reply in time; the host source logs it once and counts it."""

    failure_kind = "timeout"


class SystemBus:
    """One connection to the system bus, opened by `with`, closed on exit."""

    def __init__(self, address, timeout=DEFAULT_CALL_TIMEOUT):
        self.address = address
        self.timeout = timeout
        self._connection = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        try:
            self._connection = open_dbus_connection(self.address, auth_timeout=self.timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise Unavailable(f"no D-Bus system bus is listening at {self.address}") from None
        except PermissionError:
            raise AccessDenied(f"permission denied connecting to the D-Bus system bus at {self.address}") from None
        except TimeoutError:
            raise Unavailable(f"the D-Bus system bus at {self.address} did not authenticate within {self.timeout:g} s") from None
        except (OSError, RuntimeError, ValueError) as error:
            raise Unavailable(f"cannot connect to the D-Bus system bus at {self.address}: {error}") from None
        return self

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def call(self, service, path, interface, method, signature=None, body=()):
        """Call a method and return its reply body as a tuple."""
        message = new_method_call(DBusAddress(path, service, interface), method, signature, body)
        return self._send(message, service, f"{interface}.{method} on {path}")

    def properties(self, service, path, interface):
        """Return every property of one interface of an object, variants unwrapped."""
        message = Properties(DBusAddress(path, service, interface)).get_all()
        (values,) = self._send(message, service, f"properties of {interface} on {path}")
        return unwrap_properties(values)

    def property(self, service, path, interface, name):
        message = Properties(DBusAddress(path, service, interface)).get(name)
        (value,) = self._send(message, service, f"{interface}.{name} on {path}")
        return unwrap_variant(value)

    def set_property(self, service, path, interface, name, signature, value):
        message = Properties(DBusAddress(path, service, interface)).set(name, signature, value)
        self._send(message, service, f"setting {interface}.{name} on {path}")

    def managed_objects(self, service, path):
        """Return {object path: {interface: {property: value}}} from an ObjectManager."""
        (objects,) = self.call(service, path, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        return {name: {interface: unwrap_properties(values) for interface, values in interfaces.items()} for name, interfaces in objects.items()}

    def _send(self, message, service, what):
        try:
            reply = self._connection.send_and_get_reply(message, timeout=self.timeout)
        except TimeoutError:
            raise NoReply(f"{service} sent no reply to {what} within {self.timeout:g} s") from None
        except (ConnectionError, OSError) as error:
            raise Unavailable(f"the D-Bus connection broke while asking {service} for {what}: {error}") from None
        if reply.header.message_type is MessageType.error:
            raise translate(DBusErrorResponse(reply), service, what)
        return reply.body


def translate(error, service, what):
    """Return the collector error for a D-Bus error reply."""
    detail = error.data[0] if error.data and isinstance(error.data[0], str) else error.name
    if error.name in _SERVICE_GONE:
        return Unavailable(f"{service} is not running on the system bus")
    if error.name in _DENIED:
        return AccessDenied(f"{service} denied {what}: {detail}")
    if error.name in _NOT_THERE:
        return NotSupported(f"{service} has no {what}: {detail}")
    return Unavailable(f"{service} failed {what}: {detail}")


def unwrap_properties(values):
    """Return a property map a{sv} with jeepney's (signature, value) variant pairs unwrapped."""
    return {name: unwrap_variant(variant) for name, variant in values.items()}


def unwrap_variant(variant):
    signature, value = variant
    if signature == "v":
        return unwrap_variant(value)
    if signature.startswith("a{") and signature.endswith("v}"):
        return {key: unwrap_variant(item) for key, item in value.items()}
    return value
