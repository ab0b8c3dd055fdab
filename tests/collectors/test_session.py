"""idle_screen, time_spent and list_account from a fake logind and /etc/passwd."""

import shutil
import subprocess
import time

import pytest

from dbus_services import fake_logind as logind

from agent.capture import capture
from agent.collectors import session
from agent.samples import Status

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:1001::/home/bob:/usr/bin/zsh
backup:x:1002:1002::/var/backups:/usr/sbin/nologin
kiosk:x:1500:1500::/home/kiosk:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
ci:x:70000:70000::/home/ci:/bin/bash
"""




@pytest.mark.parametrize(("locked", "idle", "expected"), [(False, False, False), (True, False, True), (False, True, True)])
def test_emulate_idle_and_locked_screen(bus_host, service, locked, idle, expected):
    logind(service, locked=locked, idle=idle).start()

    assert capture(bus_host(), "idle_screen").value is expected


def test_time_spent_since_session_start(bus_host, service):
    logind(service, started=time.time() - 600).start()
    value = capture(bus_host(), "time_spent").value

    assert 599 <= value <= 610


def test_emulate_no_active_session(bus_host, service):
    logind(service, active="/").start()
    sample = capture(bus_host(), "idle_screen")

    assert sample.status is Status.UNAVAILABLE
    assert "no user session" in sample.reason


def test_emulate_headless_without_seat0(bus_host, service):
    fake = logind(service)
    fake.remove(session.SEAT0)
    fake.start()
    sample = capture(bus_host(), "time_spent")

    assert sample.status is Status.UNSUPPORTED
    assert "no seat0" in sample.reason


def test_list_account_default_uid_range(host):
    source = host({"/etc/passwd": PASSWD})

    assert capture(source, "list_account").value == ["alice", "bob", "kiosk"]


def test_list_account_login_defs_range(host):
    source = host({"/etc/passwd": PASSWD, "/etc/login.defs": "# comment\nUID_MIN\t\t 1001\nUID_MAX 1400\n"})

    assert capture(source, "list_account").value == ["bob"]


def test_list_account_missing_passwd(host):
    sample = capture(host(), "list_account")

    assert sample.status is Status.UNAVAILABLE
    assert "/etc/passwd" in sample.reason


def test_against_getent_passwd():
    if shutil.which("getent") is None:
        pytest.skip("getent is not installed (Debian package libc-bin)")
    from agent.sources.host import HostSource

    output = subprocess.run(["getent", "passwd"], capture_output=True, text=True, check=True).stdout
    low, high = session.uid_range(HostSource())
    expected = set()
    for line in output.splitlines():
        fields = line.split(":")
        if low <= int(fields[2]) <= high and fields[6] not in session.NO_LOGIN_SHELLS:
            expected.add(fields[0])

    # getent also lists network accounts (LDAP, SSSD), which /etc/passwd does not hold.
    assert set(capture(HostSource(), "list_account").value) <= expected


def test_against_loginctl():
    if shutil.which("loginctl") is None:
        pytest.skip("loginctl is not installed (Debian package systemd)")
    result = subprocess.run(["loginctl", "show-seat", "seat0", "--property=ActiveSession", "--value"], capture_output=True, text=True)
    if result.returncode != 0:
        first_line = (result.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"loginctl cannot reach logind: {first_line}")
    from agent.sources.host import HostSource

    sample = capture(HostSource(), "idle_screen")
    if not result.stdout.strip():
        assert sample.status is Status.UNAVAILABLE
    else:
        locked = subprocess.run(["loginctl", "show-session", result.stdout.strip(), "--property=LockedHint", "--property=IdleHint", "--value"], capture_output=True, text=True).stdout.split()
        assert sample.value == ("yes" in locked)
