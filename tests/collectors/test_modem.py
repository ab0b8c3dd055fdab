"""Cellular attributes from a fake ModemManager on a private bus."""

import shutil
import subprocess
import time

import pytest

from agent.capture import capture
from agent.collectors import modem as mm
from agent.samples import Status

MODEM_PATH = "/org/freedesktop/ModemManager1/Modem/3"
SIM_PATH = "/org/freedesktop/ModemManager1/SIM/3"


def modem_manager(service, code="26201", registration=1, state=8, path=MODEM_PATH, sim=SIM_PATH, imei="490154203237518", quality=72):
    fake = service(mm.SERVICE)
    fake.add(
        path,
        mm.MODEM,
        State=("i", state),
        Sim=("o", sim),
        SignalQuality=("(ub)", (quality, True)),
        EquipmentIdentifier=("s", imei),
    )
    fake.add(
        path,
        mm.MODEM_3GPP,
        Imei=("s", imei),
        OperatorCode=("s", code),
        OperatorName=("s", "Telekom.de"),
        RegistrationState=("u", registration),
    )
    fake.add(sim, mm.SIM, Imsi=("s", "262011234567890"))
    fake.method(path, mm.LOCATION, "GetLocation", lambda body: ("a{uv}", ({mm.LOCATION_3GPP_LAC_CI: ("s", "262,01,6A3F,01A2D001,6A40")},)))
    return fake


def values(source, *attributes):
    return {attribute: capture(source, attribute).value for attribute in attributes}


def test_registered_modem_at_any_index(bus_host, service):
    modem_manager(service).start()
    source = bus_host()

    found = values(source, "telco", "mcc", "mnc", "roaming", "imei", "imsi", "cell_id", "signal_strength")

    assert found == {
        "telco": "Telekom.de",
        "mcc": "262",
        "mnc": "01",
        "roaming": False,
        "imei": "490154203237518",
        "imsi": "262011234567890",
        "cell_id": str(0x01A2D001),
        "signal_strength": 72,
    }


@pytest.mark.parametrize(("code", "expected"), [("26201", ("262", "01")), ("310410", ("310", "410")), ("405025", ("405", "025")), ("00101", ("001", "01"))])
def test_emulate_mnc_lengths(bus_host, service, code, expected):
    modem_manager(service, code=code).start()
    source = bus_host()

    assert capture(source, "mcc").value == expected[0]
    assert capture(source, "mnc").value == expected[1]


@pytest.mark.parametrize(("registration", "expected"), [(1, False), (5, True), (7, True), (6, False)])
def test_emulate_roaming_states(bus_host, service, registration, expected):
    modem_manager(service, registration=registration).start()

    assert capture(bus_host(), "roaming").value is expected


def test_emulate_modem_appears_later(bus_host, service):
    fake = service(mm.SERVICE).start()
    source = bus_host()

    before = capture(source, "telco")
    modem_manager_objects = modem_manager(service)
    fake.objects.update(modem_manager_objects.objects)
    fake.methods.update(modem_manager_objects.methods)
    after = capture(source, "telco")

    assert before.status is Status.UNSUPPORTED
    assert "manages no modem" in before.reason
    assert after.value == "Telekom.de"


def test_emulate_several_modems_prefers_registered(bus_host, service):
    fake = modem_manager(service, path="/org/freedesktop/ModemManager1/Modem/7", code="310410")
    fake.add("/org/freedesktop/ModemManager1/Modem/0", mm.MODEM, State=("i", 3), Sim=("o", "/"), SignalQuality=("(ub)", (0, False)))
    fake.start()

    assert capture(bus_host(), "mnc").value == "410"


def test_emulate_unregistered_modem(bus_host, service):
    modem_manager(service, state=7, code="").start()
    sample = capture(bus_host(), "mcc")

    assert sample.status is Status.UNAVAILABLE
    assert "not registered" in sample.reason


def test_emulate_no_sim(bus_host, service):
    modem_manager(service, sim="/").start()
    sample = capture(bus_host(), "imsi")

    assert sample.status is Status.UNAVAILABLE
    assert "no SIM" in sample.reason


def test_emulate_modem_manager_not_running(bus_host):
    sample = capture(bus_host(), "telco")

    assert sample.status is Status.UNAVAILABLE
    assert "not running" in sample.reason


def test_emulate_no_system_bus(host):
    source = host()
    started = time.monotonic()
    sample = capture(source, "imei")

    assert sample.status is Status.UNAVAILABLE
    assert "no D-Bus system bus" in sample.reason
    assert time.monotonic() - started < 1.0


def test_against_mmcli():
    if shutil.which("mmcli") is None:
        pytest.skip("mmcli is not installed (Debian package modemmanager)")
    listing = subprocess.run(["mmcli", "-L"], capture_output=True, text=True, timeout=10)
    if listing.returncode != 0:
        pytest.skip(f"mmcli cannot reach ModemManager: {listing.stderr.strip()}")
    from agent.sources.host import HostSource

    sample = capture(HostSource(), "imei")
    if "No modems were found" in listing.stdout:
        assert sample.status is Status.UNSUPPORTED
    else:
        assert sample.ok
