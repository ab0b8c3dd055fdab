"""connect_type and device_ip, both about the link that carries the default route.

Container and virtualisation links (docker0, veth, bridges) never carry
the device's own connection, so they are skipped even when a default
route points at them, and so are links that are up without carrier.

On the real root, addresses come from psutil (getifaddrs). Under another
root they come from /proc/net/fib_trie (IPv4 local addresses, assigned
to the interface whose subnet route contains them) and /proc/net/if_inet6.
"""

import ipaddress

from agent.errors import Unavailable

_VIRTUAL_PREFIXES = ("lo", "docker", "veth", "br-", "virbr", "vnet", "cni", "flannel", "cali", "tap", "ifb", "dummy")
_RTF_UP = 0x1
_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40
_ARPHRD_ETHER = 1
_CELLULAR_TYPES = {519, 530}  # ARPHRD_RAWIP and ARPHRD_NONE used by wwan and qmi drivers
_CELLULAR_PREFIXES = ("wwan", "rmnet", "ppp", "usb", "cdc-wdm")


def connect_type(source):
    interface = primary_interface(source)
    if interface is None:
        return "none"
    return link_type(source, interface)


def device_ip(source):
    interface = primary_interface(source)
    if interface is None:
        raise Unavailable("no default route, so the device has no primary address")
    addresses = interface_addresses(source, interface)
    if not addresses:
        raise Unavailable(f"interface {interface} carries the default route but has no global address")
    return addresses


def primary_interface(source):
    """Return the interface of the lowest-metric IPv4 or IPv6 default route, skipping virtual links."""
    routes = _ipv4_default_routes(source) + _ipv6_default_routes(source)
    routes = [(metric, name) for metric, name in routes if not is_virtual(source, name) and _has_carrier(source, name)]
    return min(routes)[1] if routes else None


def is_virtual(source, name):
    """Return whether a link is a container, virtual machine or bridge link."""
    if name.startswith(_VIRTUAL_PREFIXES):
        return True
    # A bridge of any name has a bridge directory and DEVTYPE=bridge in its uevent.
    if source.path(f"/sys/class/net/{name}/bridge").exists():
        return True
    return "DEVTYPE=bridge" in source.read_text(f"/sys/class/net/{name}/uevent", fallback="")


def link_type(source, interface):
    base = f"/sys/class/net/{interface}"
    if source.path(f"{base}/wireless").exists() or source.path(f"{base}/phy80211").exists():
        return "wifi"
    uevent = source.read_text(f"{base}/uevent", fallback="")
    if "DEVTYPE=wwan" in uevent or interface.startswith(_CELLULAR_PREFIXES):
        return "cellular"
    link = source.read_text(f"{base}/type", fallback="")
    if link.isdigit() and int(link) in _CELLULAR_TYPES:
        return "cellular"
    if link.isdigit() and int(link) == _ARPHRD_ETHER:
        return "ethernet"
    return "other"


def interface_addresses(source, interface):
    """Return the interface's global and site addresses, IPv4 first."""
    if source.is_real_root:
        import psutil

        texts = [entry.address.split("%")[0] for entry in psutil.net_if_addrs().get(interface, [])]
    else:
        texts = proc_addresses(source, interface)
    found = set()
    for text in texts:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified:
            continue
        found.add(address)
    return [str(address) for address in sorted(found, key=lambda address: (address.version, address))]


def proc_addresses(source, interface):
    """Return an interface's addresses as text, read from /proc/net files alone."""
    return _ipv4_proc_addresses(source, interface) + _ipv6_proc_addresses(source, interface)


def _ipv4_proc_addresses(source, interface):
    subnets = []
    for line in source.read_text("/proc/net/route", fallback="").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[0] == interface and fields[7] != "00000000":
            # /proc/net/route prints addresses as little-endian hexadecimal.
            network = ipaddress.IPv4Address(bytes.fromhex(fields[1])[::-1])
            mask = ipaddress.IPv4Address(bytes.fromhex(fields[7])[::-1])
            subnets.append(ipaddress.IPv4Network(f"{network}/{mask}", strict=False))
    found = []
    # The trie lists each local address in both its Main and Local tables.
    for address in dict.fromkeys(_fib_local_addresses(source)):
        if any(address in subnet for subnet in subnets):
            found.append(str(address))
    return found


def _fib_local_addresses(source):
    """Yield the addresses /proc/net/fib_trie marks "/32 host LOCAL"."""
    last = None
    for line in source.read_text("/proc/net/fib_trie", fallback="").splitlines():
        text = line.strip()
        if text.startswith("|--"):
            last = text[3:].strip()
        elif text.startswith("/32 host LOCAL") and last:
            yield ipaddress.IPv4Address(last)


def _ipv6_proc_addresses(source, interface):
    found = []
    for line in source.read_text("/proc/net/if_inet6", fallback="").splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[5] != interface:
            continue
        flags = int(fields[4], 16)
        if flags & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
            continue
        found.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return found


def _ipv4_default_routes(source):
    routes = []
    for line in source.read_text("/proc/net/route", fallback="").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        name, destination, flags, metric, mask = fields[0], fields[1], int(fields[3], 16), int(fields[6]), fields[7]
        if destination == "00000000" and mask == "00000000" and flags & _RTF_UP:
            routes.append((metric, name))
    return routes


def _ipv6_default_routes(source):
    routes = []
    for line in source.read_text("/proc/net/ipv6_route", fallback="").splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        destination, prefix, metric, flags, name = fields[0], fields[1], int(fields[5], 16), int(fields[8], 16), fields[9]
        if destination == "0" * 32 and prefix == "00" and flags & _RTF_UP and name != "lo":
            routes.append((metric, name))
    return routes


def _has_carrier(source, interface):
    # An interface that is up without carrier keeps its routes but carries nothing.
    if source.read_text(f"/sys/class/net/{interface}/carrier", fallback="1") == "0":
        return False
    return source.read_text(f"/sys/class/net/{interface}/operstate", fallback="unknown") not in ("down", "lowerlayerdown", "notpresent")
