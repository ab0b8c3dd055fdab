"""rtnetlink for device_ip and connect_type.

The kernel multicasts a message for every link, address and route
change to the groups this socket joins, so a new DHCP lease, a cable
pulled or a modem coming up is noticed at once. Any such message means
both attributes may have changed; the change tracker drops the captures
that found the same value.
"""

import errno
import socket
import struct

from agent.watchers.base import Watcher, WatcherError

# From <linux/rtnetlink.h>.
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE

RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
CHANGE_TYPES = frozenset((RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE))

_HEADER = struct.Struct("=IHHII")

ATTRIBUTES = frozenset(("device_ip", "connect_type"))


class NetlinkWatcher(Watcher):
    name = "netlink"
    watchable = ATTRIBUTES

    def __init__(self, source, attributes):
        super().__init__(set(attributes) & ATTRIBUTES)
        try:
            self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        except (AttributeError, OSError) as error:
            raise WatcherError(f"cannot open an rtnetlink socket: {error}") from None
        try:
            self._socket.bind((0, GROUPS))
        except OSError as error:
            self._socket.close()
            raise WatcherError(f"cannot join the rtnetlink link, address and route groups: {error}") from None

    def fileno(self):
        return self._socket.fileno()

    def read(self):
        changed = False
        while True:
            try:
                data = self._socket.recv(64 * 1024)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                # The receive buffer overflowed and messages were lost.
                changed = True
                continue
            if not data:
                break
            changed = changed or _has_change(data)
        return set(self.attributes) if changed else set()

    def close(self):
        self._socket.close()


def _has_change(data):
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, message_type, _flags, _sequence, _port = _HEADER.unpack_from(data, offset)
        if message_type in CHANGE_TYPES:
            return True
        if length < _HEADER.size:
            break
        # Messages are aligned to 4 bytes.
        offset += (length + 3) & ~3
    return False

