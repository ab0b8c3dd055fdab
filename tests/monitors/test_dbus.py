"""The D-Bus watcher against a private dbus-daemon with stand-in services."""

import select
import shutil
import subprocess

import pytest

jeepney = pytest.importorskip("jeepney")

from jeepney import DBusAddress, message_bus, new_signal  # noqa: E402
from jeepney.io.blocking import open_dbus_connection  # noqa: E402

from agent.sources.host import HostSource  # noqa: E402
from agent.watchers.base import WatcherError  # noqa: E402
from agent.watchers.dbus import DBusWatcher  # noqa: E402


@pytest.fixture
def bus_address(tmp_path):
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    socket_path = tmp_path / "bus"
    config = tmp_path / "bus.conf"
    # A session-type bus that lets any local connection own any name, as the test services need.
    config.write_text(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        f"<busconfig><type>session</type><listen>unix:path={socket_path}</listen>"
        "<auth>EXTERNAL</auth><policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
        "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n"
    )
    daemon = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address", f"--config-file={config}"], stdout=subprocess.PIPE, text=True)
    address = daemon.stdout.readline().strip()
    yield address
    daemon.terminate()
    daemon.wait(5)


class Service:
    """A connection that owns a well-known name and emits signals as that service would."""

    def __init__(self, address, name):
        self.connection = open_dbus_connection(address)
        self.connection.send_and_get_reply(message_bus.RequestName(name), timeout=2)

    def properties_changed(self, path, interface, changed):
        emitter = DBusAddress(path, interface="org.freedesktop.DBus.Properties")
        self.connection.send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", (interface, changed, [])))

    def close(self):
        self.connection.close()


def changes(watcher, timeout=2.0):
    readable, _, _ = select.select([watcher], [], [], timeout)
    return watcher.read() if readable else set()


def make_watcher(address, attributes):
    return DBusWatcher(HostSource("/", environ={"DBUS_SYSTEM_BUS_ADDRESS": address}), attributes)


def test_upower_property_changed(bus_address):
    upower = Service(bus_address, "org.freedesktop.UPower")
    watcher = make_watcher(bus_address, {"battery_level", "telco"})
    try:
        upower.properties_changed("/org/freedesktop/UPower/devices/battery_BAT0", "org.freedesktop.UPower.Device", {"Percentage": ("d", 41.0)})
        assert changes(watcher) == {"battery_level"}
    finally:
        watcher.close()
        upower.close()


def test_modem_property_changed(bus_address):
    modem_manager = Service(bus_address, "org.freedesktop.ModemManager1")
    watcher = make_watcher(bus_address, {"telco", "roaming", "battery_level"})
    try:
        modem_manager.properties_changed(
            "/org/freedesktop/ModemManager1/Modem/0", "org.freedesktop.ModemManager1.Modem.Modem3gpp", {"OperatorName": ("s", "Example Telco")}
        )
        assert changes(watcher) == {"telco", "roaming"}
    finally:
        watcher.close()
        modem_manager.close()


def test_service_start_and_stop(bus_address):
    watcher = make_watcher(bus_address, {"idle_screen"})
    try:
        logind = Service(bus_address, "org.freedesktop.login1")
        assert changes(watcher) == {"idle_screen"}
        logind.close()
        assert changes(watcher) == {"idle_screen"}
    finally:
        watcher.close()


def test_impostor_signal_ignored(bus_address):
    # A connection that does not own the service's name cannot fake its signals.
    impostor = Service(bus_address, "org.example.Impostor")
    watcher = make_watcher(bus_address, {"battery_level"})
    try:
        impostor.properties_changed("/org/freedesktop/UPower/devices/battery_BAT0", "org.freedesktop.UPower.Device", {"Percentage": ("d", 1.0)})
        assert changes(watcher, timeout=0.3) == set()
    finally:
        watcher.close()
        impostor.close()


def test_unwatched_service_ignored(bus_address):
    upower = Service(bus_address, "org.freedesktop.UPower")
    watcher = make_watcher(bus_address, {"telco"})
    try:
        upower.properties_changed("/org/freedesktop/UPower/devices/battery_BAT0", "org.freedesktop.UPower.Device", {"Percentage": ("d", 41.0)})
        assert changes(watcher, timeout=0.3) == set()
    finally:
        watcher.close()
        upower.close()


def test_no_bus_raises(tmp_path):
    source = HostSource("/", environ={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'missing'}"})
    with pytest.raises(WatcherError, match="cannot connect to the D-Bus system bus"):
        DBusWatcher(source, {"battery_level"})
