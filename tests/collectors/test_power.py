"""battery_level on fake /sys/class/power_supply trees and a fake UPower."""

import shutil
import subprocess

import pytest

from agent.capture import capture
from agent.collectors import power
from agent.samples import Status
from agent.sources.host import HostSource


def battery(**files):
    entries = {"type": "Battery", "present": "1", "status": "Discharging"}
    entries.update({key: str(value) for key, value in files.items()})
    return {name: value + "\n" for name, value in entries.items()}


def supply(kind, **files):
    entries = {"type": kind}
    entries.update({key: str(value) for key, value in files.items()})
    return {name: value + "\n" for name, value in entries.items()}


def level(host, supplies):
    return capture(host({"/sys/class/power_supply": supplies}), "battery_level")


def test_single_battery_energy(host):
    assert level(host, {"BAT0": battery(energy_now=25_000_000, energy_full=50_000_000, capacity=49)}).value == 50.0


def test_emulate_two_batteries_weighted_by_energy(host):
    supplies = {
        "BAT0": battery(energy_now=20_000_000, energy_full=20_000_000),
        "BAT1": battery(energy_now=0, energy_full=80_000_000),
    }

    assert level(host, supplies).value == 20.0


def test_emulate_charge_batteries_weighted_with_voltage(host):
    supplies = {
        "BAT0": battery(charge_now=1_000_000, charge_full=2_000_000, voltage_min_design=11_100_000),
        "BAT1": battery(charge_now=4_000_000, charge_full=4_000_000, voltage_min_design=11_100_000),
    }

    assert level(host, supplies).value == round(100 * 5 / 6, 1)


def test_emulate_peripheral_batteries_skipped(host):
    supplies = {
        "BAT0": battery(capacity=80),
        "hidpp_battery_0": battery(capacity=5, scope="Device"),
        "hid-00:1f:20:aa:bb:cc-battery": battery(capacity=10),
        "wacom_battery_1": battery(capacity=15),
    }

    assert level(host, supplies).value == 80.0


def test_emulate_only_peripheral_battery(host):
    sample = level(host, {"AC": supply("Mains", online=1), "hidpp_battery_0": battery(capacity=40, scope="Device")})

    assert sample.status is Status.UNSUPPORTED


@pytest.mark.parametrize("name", ["AC", "ACAD", "ADP1", "AC0", "axp20x-usb", "ucsi-source-psy-USBC000:001"])
def test_emulate_desktop_with_adapter_only(host, name):
    sample = level(host, {name: supply("Mains" if "usb" not in name.lower() else "USB", online=1)})

    assert sample.status is Status.UNSUPPORTED
    assert sample.value is None


def test_emulate_ups_is_not_battery(host):
    assert level(host, {"ups0": supply("UPS", capacity=100)}).status is Status.UNSUPPORTED


def test_emulate_phantom_battery(host):
    supplies = {"BAT0": battery(capacity=90), "BAT1": battery(capacity=0, energy_now=0, energy_full=0, status="Unknown")}

    assert level(host, supplies).value == 90.0


def test_emulate_only_phantom_battery(host):
    sample = level(host, {"BAT1": battery(capacity=0, energy_full=0, status="Unknown")})

    assert sample.status is Status.UNAVAILABLE
    assert sample.value is None


def test_emulate_empty_bay(host):
    assert level(host, {"BAT0": battery(capacity=70), "BAT1": battery(present=0)}).value == 70.0


def test_emulate_capacity_above_100(host):
    assert level(host, {"BAT0": battery(capacity=104)}).value == 100.0


def test_emulate_energy_above_full(host):
    assert level(host, {"BAT0": battery(energy_now=52_000_000, energy_full=50_000_000)}).value == 100.0


def test_upower_without_sysfs(bus_host, service):
    service(power.UPOWER).add(power.DISPLAY_DEVICE, power.UPOWER_DEVICE, Type=("u", 2), IsPresent=("b", True), Percentage=("d", 63.5)).start()

    assert capture(bus_host(), "battery_level").value == 63.5


def test_upower_without_battery(bus_host, service):
    service(power.UPOWER).add(power.DISPLAY_DEVICE, power.UPOWER_DEVICE, Type=("u", 0), IsPresent=("b", False), Percentage=("d", 0.0)).start()

    assert capture(bus_host(), "battery_level").status is Status.UNSUPPORTED


def test_against_upower():
    if shutil.which("upower") is None:
        pytest.skip("upower is not installed (Debian package upower)")
    result = subprocess.run(["upower", "-i", power.DISPLAY_DEVICE], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"upower cannot reach UPowerd: {result.stderr.strip()}")
    percentages = [line.split()[-1].rstrip("%") for line in result.stdout.splitlines() if "percentage:" in line]
    sample = capture(HostSource(), "battery_level")
    if sample.ok and percentages:
        assert abs(sample.value - float(percentages[0])) <= 1.0


def test_against_psutil():
    import psutil

    reference = psutil.sensors_battery()
    sample = capture(HostSource(), "battery_level")
    if reference is None:
        assert sample.status is Status.UNSUPPORTED
    else:
        assert abs(sample.value - reference.percent) <= 1.0
