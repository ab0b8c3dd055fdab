"""Fixtures for collector tests: fake host trees and a private system bus."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dbus_services import FakeService  # noqa: E402
from hosttree import build_tree  # noqa: E402

from agent.sources.host import HostSettings, HostSource  # noqa: E402

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def host(tmp_path):
    """Return make(tree, environ=None, **options) building a HostSource over a fake root."""

    def make(tree=None, environ=None, **options):
        root = build_tree(tmp_path / "root", tree or {})
        return HostSource(root, environ=environ or {}, **options)

    return make


@pytest.fixture(scope="session")
def system_bus(tmp_path_factory):
    """Start a private dbus-daemon and return its address; skip when dbus-daemon is missing."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("dbus-daemon is not installed (Debian package dbus-daemon)")
    directory = tmp_path_factory.mktemp("bus")
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=directory / "socket"))
    process = subprocess.Popen([daemon, f"--config-file={config}", "--print-address", "--nofork"], stdout=subprocess.PIPE, text=True)
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        pytest.skip("dbus-daemon started but printed no address")
    yield address
    process.terminate()
    process.wait(5)


@pytest.fixture
def service(system_bus):
    """Return make(name) creating a FakeService; the test starts it, teardown stops it."""
    started = []

    def make(name):
        fake = FakeService(system_bus, name)
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def bus_host(tmp_path, system_bus):
    """Return make(tree=None, **options) building a HostSource that uses the private bus."""

    def make(tree=None, environ=None, **options):
        root = build_tree(tmp_path / "root", tree or {})
        options.setdefault("settings", HostSettings())
        return HostSource(root, environ=environ or {}, system_bus=system_bus, **options)

    return make
