"""Test services on a private dbus-daemon, replying from plain dicts.

A FakeService owns one well-known name and exports objects: properties
per interface, org.freedesktop.DBus.Properties, ObjectManager and any
methods a test adds. A method handler that returns HANG never replies,
which is how tests make a service hang.
"""

import threading
import time

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from agent.collectors import session

HANG = object()
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"


class FakeService:
    def __init__(self, address, name):
        self.address = address
        self.name = name
        # path -> interface -> property -> (signature, value)
        self.objects = {}
        # (path, interface, member) -> handler(body) returning (signature, body), HANG, or raising ServiceError
        self.methods = {}
        self.calls = []
        self._stop = threading.Event()
        self._thread = None
        self._connection = None

    def add(self, path, interface, **properties):
        self.objects.setdefault(path, {}).setdefault(interface, {}).update(properties)
        return self

    def remove(self, path):
        self.objects.pop(path, None)

    def method(self, path, interface, member, handler):
        self.methods[(path, interface, member)] = handler
        return self

    def start(self):
        self._connection = open_dbus_connection(self.address)
        reply = self._connection.send_and_get_reply(message_bus.RequestName(self.name), timeout=5)
        assert reply.body[0] == 1, f"could not own {self.name} on the test bus: {reply.body}"
        self._thread = threading.Thread(target=self._serve, name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._connection is not None:
            self._connection.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                message = self._connection.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type is MessageType.method_call:
                reply = self._answer(message)
                if reply is not None:
                    self._connection.send(reply)

    def _answer(self, message):
        fields = message.header.fields
        path, interface, member = fields[HeaderFields.path], fields.get(HeaderFields.interface), fields[HeaderFields.member]
        self.calls.append((path, interface, member, message.body))
        try:
            if interface == PROPERTIES:
                return self._properties(message, path, member)
            if interface == OBJECT_MANAGER and member == "GetManagedObjects":
                return new_method_return(message, "a{oa{sa{sv}}}", (self._managed(path),))
            handler = self.methods.get((path, interface, member))
            if handler is None:
                return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no {interface}.{member} on {path}",))
            result = handler(message.body)
            if result is HANG:
                return None
            signature, body = result if result else (None, ())
            return new_method_return(message, signature, body)
        except ServiceError as error:
            return new_error(message, error.name, "s", (error.text,))

    def _properties(self, message, path, member):
        interfaces = self.objects.get(path)
        if interfaces is None:
            raise ServiceError("org.freedesktop.DBus.Error.UnknownObject", f"no object {path}")
        name = message.body[0]
        values = interfaces.get(name)
        if values is None:
            raise ServiceError("org.freedesktop.DBus.Error.UnknownInterface", f"no interface {name} on {path}")
        if member == "GetAll":
            return new_method_return(message, "a{sv}", (dict(values),))
        if member == "Get":
            prop = message.body[1]
            if prop not in values:
                raise ServiceError("org.freedesktop.DBus.Error.UnknownProperty", f"no property {prop}")
            handler = self.methods.get((path, PROPERTIES, f"Get:{prop}"))
            if handler is not None and handler(message.body) is HANG:
                return None
            return new_method_return(message, "v", (values[prop],))
        if member == "Set":
            values[message.body[1]] = message.body[2]
            return new_method_return(message)
        raise ServiceError("org.freedesktop.DBus.Error.UnknownMethod", f"no Properties.{member}")

    def _managed(self, root):
        prefix = root.rstrip("/") + "/"
        return {path: {interface: dict(values) for interface, values in interfaces.items()} for path, interfaces in self.objects.items() if path.startswith(prefix)}


class ServiceError(Exception):
    def __init__(self, name, text):
        self.name = name
        self.text = text
        super().__init__(f"{name}: {text}")


def emitter(path, interface):
    return DBusAddress(path, interface=interface)


LOGIND_SESSION_PATH = "/org/freedesktop/login1/session/_32"


def fake_logind(service, locked=False, idle=False, started=None, active=LOGIND_SESSION_PATH, desktop="gnome"):
    """Return an unstarted fake logind whose seat0 shows one session."""
    fake = service(session.SERVICE)
    fake.add(session.SEAT0, session.SEAT, ActiveSession=("(so)", ("2", active)))
    fake.add(
        LOGIND_SESSION_PATH,
        session.SESSION,
        LockedHint=("b", locked),
        IdleHint=("b", idle),
        Timestamp=("t", int((started or time.time() - 3600) * 1_000_000)),
        Desktop=("s", desktop),
        Active=("b", True),
    )
    return fake
