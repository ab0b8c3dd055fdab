"""The systemd unit, checked with systemd-analyze where the machine has it."""

import re
import shutil
import subprocess

import pytest

from tests.service.conftest import REPO

UNIT = REPO / "systemd" / "device-agent.service"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


def settings():
    """Return the unit's settings as a dict of name to the list of values, in order."""
    values = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            name, value = line.split("=", 1)
            values.setdefault(name.strip(), []).append(value.strip())
    return values


@pytest.fixture
def runnable_unit(tmp_path):
    """The unit with ExecStart pointing at an executable that exists, as verify requires."""
    executable = tmp_path / "bin" / "device-agent"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    unit = tmp_path / "device-agent.service"
    unit.write_text(UNIT.read_text().replace("/opt/device-agent/bin/device-agent", str(executable)))
    return unit


@needs_analyze
def test_verify_reports_nothing(runnable_unit):
    result = subprocess.run(["systemd-analyze", "verify", str(runnable_unit)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@needs_analyze
def test_security_exposure_at_most_2(runnable_unit):
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(runnable_unit)], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)

    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_notify_watchdog_restart():
    unit = settings()

    assert unit["Type"] == ["notify"]
    assert unit["WatchdogSec"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_directories_and_credential():
    unit = settings()

    assert unit["StateDirectory"] == ["device-agent"]
    assert unit["ConfigurationDirectory"] == ["device-agent"]
    assert unit["LoadCredential"] == ["profile-key:/etc/device-agent/profile-key"]
    assert unit["SetCredential"] == ["profile-key:\\n"]


def test_stop_timeout_fits_flush():
    unit = settings()
    flush = float(re.search(r"--stop-timeout (\d+)", unit["ExecStart"][0]).group(1))
    stop = float(unit["TimeoutStopSec"][0].rstrip("s"))

    assert stop > flush + 5


def test_collectors_keep_access():
    unit = settings()
    families = unit["RestrictAddressFamilies"][0].split()

    for family in ("AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"):
        assert family in families
    assert "PrivateNetwork" not in unit
    assert "ProcSubset" not in unit
    assert "InaccessiblePaths" not in unit
