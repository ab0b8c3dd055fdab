"""sd_notify without libsystemd: datagrams to the socket named by $NOTIFY_SOCKET.

The protocol is newline-separated KEY=VALUE assignments in one datagram
to a unix socket. A name starting with '@' is in the abstract namespace,
where the '@' stands for a leading NUL byte. When $NOTIFY_SOCKET is unset,
as outside systemd or under Type=simple, every call does nothing.
"""

import logging
import os
import socket
import time

log = logging.getLogger("agent.notify")


class Notifier:
    """Sends state changes to the service manager; does nothing without a socket."""

    def __init__(self, address=None):
        self.address = _socket_address(address) if address else None
        self._socket = None
        self._failed = False

    @classmethod
    def from_environment(cls, environ=None):
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET") or None
        try:
            return cls(address)
        except ValueError as error:
            # systemd 254 and later may pass a vsock address, which this module does not speak.
            log.warning("Not notifying the service manager: %s", error)
            return cls(None)

    @property
    def enabled(self):
        return self.address is not None

    def notify(self, **fields):
        """Send KEY=VALUE fields in one datagram; return True when it was sent."""
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()) + "\n"
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message.encode("utf-8"), self.address)
        except OSError as error:
            # A lost notification is not worth stopping the agent for. systemd notices a missing READY=1 or WATCHDOG=1 itself.
            if not self._failed:
                log.warning("Cannot send %s to the service manager at %s: %s; check NotifyAccess= in the unit", ",".join(fields), _printable(self.address), error)
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status=None):
        return self.notify(READY=1, **_status(status))

    def reloading(self, status=None):
        # MONOTONIC_USEC lets systemd 253 and later (Type=notify-reload) match this reload to its request. Older versions ignore it.
        return self.notify(RELOADING=1, MONOTONIC_USEC=time.monotonic_ns() // 1000, **_status(status))

    def stopping(self, status=None):
        return self.notify(STOPPING=1, **_status(status))

    def watchdog(self):
        return self.notify(WATCHDOG=1)

    def status(self, text):
        return self.notify(STATUS=text)

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval(environ=None, pid=None):
    """Return the watchdog timeout in seconds that systemd set for this process, or None.

    WATCHDOG_PID, when set, names the process the timeout is meant for, so a
    child that inherited the environment does not ping for its parent.
    """
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(pid or os.getpid()):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        log.warning("Ignoring WATCHDOG_USEC=%r: it is not a whole number of microseconds", usec)
        return None
    return seconds if seconds > 0 else None


def _socket_address(address):
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    raise ValueError(f"NOTIFY_SOCKET={address!r} is not a unix socket path or an abstract name starting with '@'")


def _status(text):
    return {"STATUS": text} if text else {}


def _printable(address):
    return "@" + address[1:] if address.startswith("\0") else address
