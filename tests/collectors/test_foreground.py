"""foreground, foreground_app and email_id, defined by the agent's settings."""

import os
import shutil
import subprocess

import pytest
from dbus_services import fake_logind as logind

from agent.capture import capture
from agent.samples import Status
from agent.sources.host import HostSettings

KIOSK = HostSettings(app_unit="kiosk.service", email="ops@example.com")


def test_foreground_when_app_unit_runs(host):
    source = host({"/sys/fs/cgroup/system.slice/kiosk.service/cgroup.procs": "812\n840\n"}, settings=KIOSK)

    assert capture(source, "foreground").value is True
    assert capture(source, "foreground_app").value == "kiosk.service"


def test_foreground_user_unit(host):
    path = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/kiosk.service/cgroup.procs"
    source = host({path: "2201\n"}, settings=KIOSK)

    assert capture(source, "foreground").value is True


def test_foreground_cgroup_v1(host):
    source = host({"/sys/fs/cgroup/systemd/system.slice/kiosk.service/cgroup.procs": "812\n"}, settings=KIOSK)

    assert capture(source, "foreground").value is True


def test_background_when_unit_stopped(host):
    source = host({"/sys/fs/cgroup/system.slice/kiosk.service/cgroup.procs": ""}, settings=KIOSK)

    assert capture(source, "foreground").value is False


def test_foreground_without_app_unit(host):
    sample = capture(host(), "foreground")

    assert sample.status is Status.UNSUPPORTED
    assert "app_unit" in sample.reason


def test_foreground_app_falls_back_to_desktop(bus_host, service):
    logind(service, desktop="gnome").start()

    assert capture(bus_host(), "foreground_app").value == "gnome"


def test_email_id_from_settings(host):
    assert capture(host(settings=KIOSK), "email_id").value == "ops@example.com"


def test_email_id_unconfigured(host):
    sample = capture(host(), "email_id")

    assert sample.status is Status.UNSUPPORTED
    assert "email" in sample.reason


def test_against_systemctl():
    if shutil.which("systemctl") is None or not os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is not running here")
    from agent.collectors.foreground import unit_processes
    from agent.sources.host import HostSource

    state = subprocess.run(["systemctl", "is-active", "dbus.service"], capture_output=True, text=True).stdout.strip()

    assert bool(unit_processes(HostSource(), "dbus.service")) == (state == "active")
