"""resolution, bluetooth_support, nfc_support, phone_mode and user_agent on fake trees."""

import os
import platform
import re
import shutil
import subprocess

import pytest

from agent import __version__
from agent.capture import capture
from agent.collectors import radios
from agent.samples import Status
from agent.sources.host import HostSource


def connector(status, modes=""):
    return {"status": status + "\n", "modes": modes}


def test_resolution_of_builtin_panel(host):
    source = host({
        "/sys/class/drm/card0-HDMI-A-1": connector("connected", "3840x2160\n1920x1080\n"),
        "/sys/class/drm/card0-eDP-1": connector("connected", "2560x1600\n1920x1200\n"),
        "/sys/class/drm/card0": {"dev": "226:0\n"},
    })

    assert capture(source, "resolution").value == "2560x1600"


def test_emulate_disconnected_connectors_skipped(host):
    source = host({
        "/sys/class/drm/card0-DP-1": connector("disconnected"),
        "/sys/class/drm/card0-HDMI-A-2": connector("connected", "1920x1080i\n1280x720\n"),
    })

    assert capture(source, "resolution").value == "1920x1080"


def test_emulate_framebuffer_only(host):
    source = host({"/sys/class/graphics/fb0/virtual_size": "800,480\n"})

    assert capture(source, "resolution").value == "800x480"


def test_emulate_headless(host):
    sample = capture(host({"/sys/class/drm/card0-DP-1": connector("disconnected")}), "resolution")

    assert sample.status is Status.UNSUPPORTED


def test_emulate_connected_without_modes(host):
    sample = capture(host({"/sys/class/drm/card0-DSI-1": connector("connected", "")}), "resolution")

    assert sample.status is Status.UNAVAILABLE
    assert "card0-DSI-1" in sample.reason


def test_against_xrandr():
    if shutil.which("xrandr") is None or not os.environ.get("DISPLAY"):
        pytest.skip("xrandr (Debian package x11-xserver-utils) and an X display are needed")
    output = subprocess.run(["xrandr", "--current"], capture_output=True, text=True).stdout
    sample = capture(HostSource(), "resolution")

    assert sample.value in re.findall(r"(\d+x\d+)", output)


def rfkill(kind, soft="0", hard="0"):
    return {"type": kind + "\n", "soft": soft + "\n", "hard": hard + "\n", "name": kind + "0\n"}


def test_bluetooth_from_hci(host):
    assert capture(host({"/sys/class/bluetooth/hci0": None}), "bluetooth_support").value is True


def test_bluetooth_hard_blocked_adapter(host):
    assert capture(host({"/sys/class/rfkill/rfkill1": rfkill("bluetooth", hard="1")}), "bluetooth_support").value is True


def test_bluetooth_absent_is_false(host):
    assert capture(host({"/sys/class/rfkill/rfkill0": rfkill("wlan")}), "bluetooth_support").value is False


def test_bluetooth_from_bluez(bus_host, service):
    service(radios.BLUEZ).add("/org/bluez/hci0", radios.BLUEZ_ADAPTER, Address=("s", "00:1A:7D:DA:71:13"), Powered=("b", True)).start()

    assert capture(bus_host(), "bluetooth_support").value is True


def test_against_hciconfig():
    if shutil.which("hciconfig") is None:
        pytest.skip("hciconfig is not installed (Debian package bluez)")
    output = subprocess.run(["hciconfig"], capture_output=True, text=True).stdout

    if "hci" in output:
        assert capture(HostSource(), "bluetooth_support").value is True


def test_against_nfc_list():
    if shutil.which("nfc-list") is None:
        pytest.skip("nfc-list is not installed (Debian package libnfc-bin)")
    result = subprocess.run(["nfc-list"], capture_output=True, text=True)

    if "NFC device:" in result.stdout and "opened" in result.stdout:
        assert capture(HostSource(), "nfc_support").value is True


def test_nfc_support(host):
    assert capture(host({"/sys/class/nfc/nfc0": None}), "nfc_support").value is True


def test_nfc_absent_is_false(host):
    assert capture(host({"/sys/class/net": None}), "nfc_support").value is False


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({"rfkill0": rfkill("wlan", soft="1"), "rfkill1": rfkill("bluetooth", soft="1"), "rfkill2": rfkill("wwan", hard="1")}, "airplane"),
        ({"rfkill0": rfkill("wlan", soft="1"), "rfkill1": rfkill("bluetooth")}, "normal"),
        ({"rfkill0": rfkill("wlan", hard="1")}, "airplane"),
    ],
)
def test_emulate_phone_mode(host, switches, expected):
    assert capture(host({"/sys/class/rfkill": switches}), "phone_mode").value == expected


def test_emulate_phone_mode_without_radios(host):
    assert capture(host(), "phone_mode").status is Status.UNSUPPORTED


def test_against_rfkill():
    if shutil.which("rfkill") is None:
        pytest.skip("rfkill is not installed (Debian package rfkill)")
    result = subprocess.run(["rfkill", "--noheadings", "--output", "SOFT,HARD"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"rfkill cannot list radios here: {result.stderr.strip()}")
    states = [line.split() for line in result.stdout.splitlines() if line.strip()]
    sample = capture(HostSource(), "phone_mode")
    if not states:
        assert sample.status is Status.UNSUPPORTED
    else:
        airplane = all("blocked" in (soft, hard) for soft, hard in states)
        assert sample.value == ("airplane" if airplane else "normal")


def test_user_agent_names_os_and_kernel(host):
    source = host({"/etc/os-release": 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', "/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n"})

    assert capture(source, "user_agent").value == f"device-agent/{__version__} (Debian GNU/Linux 12 (bookworm); Linux 6.1.0-18-amd64; {os.uname().machine})"


def test_against_uname():
    value = capture(HostSource(), "user_agent").value

    assert f"Linux {platform.release()};" in value
    assert value.endswith(f"; {platform.machine()})")
