"""serial_number and wifi_mac_address on fake /sys and /proc trees."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hosttree import Symlink

from agent.capture import capture
from agent.collectors import identity
from agent.errors import AccessDenied
from agent.samples import Status
from agent.sources.host import HostSource

NM_DEVICE_PATH = "/org/freedesktop/NetworkManager/Devices/3"


@pytest.mark.parametrize(
    "placeholder",
    ["To Be Filled By O.E.M.", "Default string", "System Serial Number", "0123456789", "00000000", "Not Specified", "None", "  ", "xxxxxxxxxxxx", "Chassis Serial Number"],
)
def test_emulate_placeholder_serials(host, placeholder):
    source = host({"/sys/class/dmi/id/product_serial": placeholder + "\n", "/sys/class/dmi/id/board_serial": "L1HF84A00E5\n"})

    assert capture(source, "serial_number").value == "L1HF84A00E5"


def test_emulate_only_placeholders(host):
    source = host({"/sys/class/dmi/id/product_serial": "To Be Filled By O.E.M.\n", "/sys/class/dmi/id/board_serial": "Default string\n"})
    sample = capture(source, "serial_number")

    assert sample.status is Status.UNSUPPORTED
    assert "placeholder" in sample.reason


def test_emulate_device_tree_serial(host):
    source = host({"/proc/device-tree/serial-number": b"10000000a3b4c5d6\x00"})

    assert capture(source, "serial_number").value == "10000000a3b4c5d6"


def test_emulate_raspberry_pi_cpuinfo(host):
    cpuinfo = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n\nHardware\t: BCM2835\nRevision\t: a02082\nSerial\t\t: 00000000b8e5f1a2\n"

    assert capture(host({"/proc/cpuinfo": cpuinfo}), "serial_number").value == "00000000b8e5f1a2"


def test_emulate_root_only_serial(host, monkeypatch):
    source = host({"/sys/class/dmi/id/product_serial": "ABC123\n"})
    read_text = source.read_text

    def denied(name, **options):
        # Root reads any file whatever its mode, so the permission error is raised here instead of by chmod.
        if name.endswith("product_serial"):
            raise AccessDenied(f"permission denied reading {name}")
        return read_text(name, **options)

    monkeypatch.setattr(source, "read_text", denied)
    sample = capture(source, "serial_number")

    assert sample.status is Status.DENIED
    assert "run the agent as root" in sample.reason


def wireless(address, assign_type="0"):
    return {"address": address + "\n", "addr_assign_type": assign_type + "\n", "wireless": None, "phy80211": None}


def test_wifi_mac_permanent(host):
    source = host({"/sys/class/net/wlp2s0": wireless("3C:A9:F4:12:34:56"), "/sys/class/net/eth0/address": "00:16:3e:00:00:01\n"})

    assert capture(source, "wifi_mac_address").value == "3c:a9:f4:12:34:56"


def test_emulate_randomised_mac_without_network_manager(host):
    sample = capture(host({"/sys/class/net/wlan0": wireless("a6:1b:22:33:44:55", "1")}), "wifi_mac_address")

    assert sample.status is Status.UNAVAILABLE
    assert "randomised" in sample.reason


def test_emulate_randomised_mac_permanent_from_network_manager(bus_host, service):
    fake = service(identity.NETWORK_MANAGER)
    fake.method(identity.NM_PATH, identity.NETWORK_MANAGER, "GetDevices", lambda body: ("ao", ([NM_DEVICE_PATH],)))
    fake.add(NM_DEVICE_PATH, identity.NM_DEVICE, Interface=("s", "wlan0"), DeviceType=("u", 2))
    fake.add(NM_DEVICE_PATH, identity.NM_WIRELESS, PermHwAddress=("s", "3C:A9:F4:AA:BB:CC"), HwAddress=("s", "A6:1B:22:33:44:55"))
    fake.start()
    source = bus_host({"/sys/class/net/wlan0": wireless("a6:1b:22:33:44:55", "1")})

    assert capture(source, "wifi_mac_address").value == "3c:a9:f4:aa:bb:cc"


def test_emulate_no_wireless_interface(host):
    sample = capture(host({"/sys/class/net/eth0/address": "00:16:3e:00:00:01\n"}), "wifi_mac_address")

    assert sample.status is Status.UNSUPPORTED


def test_emulate_wireless_through_symlinked_class(host, tmp_path):
    device = "/sys/devices/pci0000:00/0000:00:14.3/net/wlan0"
    source = host({device: wireless("3c:a9:f4:12:34:56"), "/sys/class/net/wlan0": Symlink(str(tmp_path / "root" / device.lstrip("/")))})

    assert capture(source, "wifi_mac_address").value == "3c:a9:f4:12:34:56"


def test_against_ip_link():
    if shutil.which("ip") is None:
        pytest.skip("ip is not installed (Debian package iproute2)")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    source = HostSource()
    interfaces = identity.wireless_interfaces(source)
    sample = capture(source, "wifi_mac_address")
    if not interfaces:
        assert sample.status is Status.UNSUPPORTED
        return
    if sample.ok:
        assert re.search(rf"link/ether {sample.value}", links)


def test_against_dmidecode():
    product_serial = Path("/sys/class/dmi/id/product_serial")
    if shutil.which("dmidecode") is None or os.geteuid() != 0 or not product_serial.exists():
        pytest.skip("dmidecode (Debian package dmidecode), root and DMI tables are all needed")
    expected = subprocess.run(["dmidecode", "-s", "system-serial-number"], capture_output=True, text=True).stdout.strip()
    sample = capture(HostSource(), "serial_number")
    if identity.is_placeholder(expected):
        assert sample.value != expected
    else:
        assert sample.value == expected
