"""serial_number and wifi_mac_address: identifiers of the hardware.

serial_number is the firmware's: DMI product_serial on PCs, then the
board serial, then the device tree's serial-number on boards such as
the Raspberry Pi, then the Serial line of /proc/cpuinfo. Firmware often
carries placeholders ("To Be Filled By O.E.M.", "Default string"); those
are no serial and are skipped.

wifi_mac_address is the permanent address of the first wireless
interface. A locally administered address (bit 0x02 of the first octet
set) is a randomised one, so then the permanent address comes from
NetworkManager's PermHwAddress, or there is none to report.
"""

import re

from agent.errors import AccessDenied, NotSupported, Unavailable

SERIAL_FILES = (
    "/sys/class/dmi/id/product_serial",
    "/sys/class/dmi/id/board_serial",
    "/sys/class/dmi/id/chassis_serial",
    "/proc/device-tree/serial-number",
    "/sys/firmware/devicetree/base/serial-number",
)
# Compared after lowercasing and removing spaces, dots, dashes and underscores.
PLACEHOLDER_SERIALS = {
    "tobefilledbyoem",
    "defaultstring",
    "systemserialnumber",
    "chassisserialnumber",
    "boardserialnumber",
    "type2boardserialnumber",
    "serialnumber",
    "notspecified",
    "notapplicable",
    "notavailable",
    "none",
    "na",
    "oem",
    "invalid",
    "unknown",
    "empty",
    "default",
    "0123456789",
    "123456789",
    "1234567890",
}

NETWORK_MANAGER = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
NM_DEVICE = "org.freedesktop.NetworkManager.Device"
NM_WIRELESS = "org.freedesktop.NetworkManager.Device.Wireless"
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def serial_number(source):
    denied = []
    for name in SERIAL_FILES:
        try:
            text = source.read_text(name, fallback="")
        except AccessDenied:
            # product_serial is readable by root only on most distributions.
            denied.append(name)
            continue
        serial = text.strip("\x00").strip()
        if serial and not is_placeholder(serial):
            return serial
    serial = _cpuinfo_serial(source)
    if serial:
        return serial
    if denied:
        raise AccessDenied(f"permission denied reading {', '.join(denied)}; run the agent as root to read the serial number")
    raise NotSupported("the firmware reports no serial number, or only a placeholder")


def is_placeholder(serial):
    folded = re.sub(r"[\s.\-_]", "", serial.lower())
    if folded in PLACEHOLDER_SERIALS:
        return True
    # All zeros, all F's or one repeated character ("00000000", "xxxxxxxx").
    return len(set(folded)) <= 1


def _cpuinfo_serial(source):
    for line in source.read_text("/proc/cpuinfo", fallback="").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Serial" and value.strip() and not is_placeholder(value.strip()):
            return value.strip()
    return None


def wifi_mac_address(source):
    interfaces = wireless_interfaces(source)
    if not interfaces:
        raise NotSupported("no wireless interface in /sys/class/net")
    for interface in interfaces:
        address = source.read_text(f"/sys/class/net/{interface}/address", fallback="").lower()
        # addr_assign_type 1 is a random address and 3 one set from user space.
        assigned = source.read_text(f"/sys/class/net/{interface}/addr_assign_type", fallback="0") in ("1", "3")
        if _MAC.match(address) and not is_randomised(address) and not assigned:
            return address
    permanent = _network_manager_permanent_addresses(source)
    for interface in interfaces:
        if interface in permanent:
            return permanent[interface]
    raise Unavailable(f"{', '.join(interfaces)} use randomised MAC addresses and NetworkManager reports no permanent one")


def wireless_interfaces(source):
    found = []
    for name in source.list_dir("/sys/class/net"):
        base = f"/sys/class/net/{name}"
        if source.path(f"{base}/wireless").exists() or source.path(f"{base}/phy80211").exists():
            found.append(name)
    return found


def is_randomised(address):
    """Return whether a MAC address is locally administered, as randomised ones are."""
    return bool(int(address.split(":")[0], 16) & 0x02)


def _network_manager_permanent_addresses(source):
    """Return {interface: permanent MAC} for NetworkManager's Wi-Fi devices; {} without NetworkManager."""
    try:
        with source.bus() as bus:
            (devices,) = bus.call(NETWORK_MANAGER, NM_PATH, NETWORK_MANAGER, "GetDevices")
            found = {}
            for path in devices:
                device = bus.properties(NETWORK_MANAGER, path, NM_DEVICE)
                if device.get("DeviceType") != 2:  # NM_DEVICE_TYPE_WIFI
                    continue
                address = bus.property(NETWORK_MANAGER, path, NM_WIRELESS, "PermHwAddress").lower()
                if _MAC.match(address) and not is_randomised(address):
                    found[device.get("Interface", "")] = address
            return found
    except (Unavailable, NotSupported):
        return {}
