"""timezone on fake /etc and zone database trees, in every form the field shows."""

import shutil
import subprocess

import pytest
from hosttree import Symlink

from agent.capture import capture
from agent.samples import Status
from agent.sources.host import HostSource

ZONES = {
    "/usr/share/zoneinfo/Europe/Berlin": b"TZif2 berlin",
    "/usr/share/zoneinfo/Europe/Busingen": b"TZif2 berlin",
    "/usr/share/zoneinfo/Asia/Kolkata": b"TZif2 kolkata",
    "/usr/share/zoneinfo/Asia/Calcutta": b"TZif2 kolkata",
    "/usr/share/zoneinfo/America/New_York": b"TZif2 new york",
    "/usr/share/zoneinfo/EST5EDT": b"TZif2 new york",
    "/usr/share/zoneinfo/Etc/UTC": b"TZif2 utc",
    "/usr/share/zoneinfo/posix/Europe/Berlin": b"TZif2 berlin",
    "/usr/share/zoneinfo/zone1970.tab": "# comment\nDE,DK,NO,SE,SJ\t+5230+01322\tEurope/Berlin\nIN\t+2232+08822\tAsia/Kolkata\n",
}


def zone_tree(**extra):
    tree = dict(ZONES)
    tree.update(extra)
    return tree


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        (":Europe/Berlin", "Europe/Berlin"),
        ("/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"),
        (":/usr/share/zoneinfo/Asia/Kolkata", "Asia/Kolkata"),
        ("posix/Europe/Berlin", "Europe/Berlin"),
        ("UTC", "Etc/UTC"),
        ("UTC0", "Etc/UTC"),
        ("GMT0", "Etc/UTC"),
        ("", "Etc/UTC"),
        ("JST-9", "Etc/GMT-9"),
        ("<+03>-3", "Etc/GMT-3"),
        ("EST5", "Etc/GMT+5"),
        ("EST5EDT", "EST5EDT"),
        (":/etc/localtime", "America/New_York"),
        (":", "America/New_York"),
    ],
)
def test_emulate_tz_variable_forms(host, tz, expected):
    source = host(zone_tree(**{"/etc/localtime": Symlink("/usr/share/zoneinfo/America/New_York")}), environ={"TZ": tz})

    assert capture(source, "timezone").value == expected


def test_emulate_tz_posix_rule_with_dst(host):
    sample = capture(host(zone_tree(), environ={"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}), "timezone")

    assert sample.status is Status.UNSUPPORTED
    assert "POSIX rule" in sample.reason


def test_emulate_tz_unknown_zone(host):
    sample = capture(host(zone_tree(), environ={"TZ": "Europe/Berlinn"}), "timezone")

    assert sample.status is Status.UNAVAILABLE
    assert "not in the zone database" in sample.reason


def test_emulate_localtime_relative_symlink(host):
    source = host(zone_tree(**{"/etc/localtime": Symlink("../usr/share/zoneinfo/Asia/Kolkata")}))

    assert capture(source, "timezone").value == "Asia/Kolkata"


def test_emulate_localtime_symlink_chain(host, tmp_path):
    source = host(zone_tree(**{
        "/etc/localtime": Symlink("/etc/alternatives/localtime"),
        "/etc/alternatives/localtime": Symlink("/usr/share/zoneinfo/Europe/Berlin"),
    }))

    assert capture(source, "timezone").value == "Europe/Berlin"


def test_emulate_container_without_tzdata(host):
    source = host({"/etc/localtime": Symlink("/usr/share/zoneinfo/Europe/Berlin")})

    assert capture(source, "timezone").value == "Europe/Berlin"


def test_emulate_tz_name_without_tzdata(host):
    assert capture(host({}, environ={"TZ": "America/Sao_Paulo"}), "timezone").value == "America/Sao_Paulo"


def test_emulate_localtime_copy_matched_by_content(host):
    source = host(zone_tree(**{"/etc/localtime": b"TZif2 kolkata"}))

    assert capture(source, "timezone").value == "Asia/Kolkata"


def test_emulate_localtime_copy_prefers_etc_timezone(host):
    source = host(zone_tree(**{"/etc/localtime": b"TZif2 berlin", "/etc/timezone": "Europe/Busingen\n"}))

    assert capture(source, "timezone").value == "Europe/Busingen"


def test_emulate_etc_timezone_disagrees_with_copy(host):
    source = host(zone_tree(**{"/etc/localtime": b"TZif2 kolkata", "/etc/timezone": "Europe/Berlin\n"}))

    assert capture(source, "timezone").value == "Asia/Kolkata"


def test_emulate_etc_timezone_disagrees_with_symlink(host):
    source = host(zone_tree(**{"/etc/localtime": Symlink("/usr/share/zoneinfo/Asia/Kolkata"), "/etc/timezone": "Europe/Berlin\n"}))

    assert capture(source, "timezone").value == "Asia/Kolkata"


def test_emulate_copy_without_tzdata_uses_etc_timezone(host):
    source = host({"/etc/localtime": b"TZif2 custom", "/etc/timezone": "Europe/Berlin\n"})

    assert capture(source, "timezone").value == "Europe/Berlin"


def test_emulate_unknown_copy(host):
    sample = capture(host(zone_tree(**{"/etc/localtime": b"TZif2 custom"})), "timezone")

    assert sample.status is Status.UNAVAILABLE
    assert "copied zone file" in sample.reason


def test_emulate_localtime_missing_is_utc(host):
    assert capture(host(zone_tree()), "timezone").value == "Etc/UTC"


def test_emulate_copy_named_by_timedated(bus_host, service):
    from agent.collectors import timezone

    service(timezone.TIMEDATE).add(timezone.TIMEDATE_PATH, timezone.TIMEDATE, Timezone=("s", "Pacific/Auckland")).start()
    source = bus_host(zone_tree(**{"/etc/localtime": b"TZif2 custom"}))

    assert capture(source, "timezone").value == "Pacific/Auckland"


def test_value_read_fresh_each_capture(host, tmp_path):
    source = host(zone_tree(**{"/etc/localtime": Symlink("/usr/share/zoneinfo/Europe/Berlin")}))
    before = capture(source, "timezone").value
    link = source.path("/etc/localtime")
    link.unlink()
    link.symlink_to("/usr/share/zoneinfo/Asia/Kolkata")

    assert before == "Europe/Berlin"
    assert capture(source, "timezone").value == "Asia/Kolkata"


def test_against_timedatectl():
    if shutil.which("timedatectl") is None:
        pytest.skip("timedatectl is not installed (Debian package systemd)")
    result = subprocess.run(["timedatectl", "show", "--property=Timezone", "--value"], capture_output=True, text=True)
    if result.returncode != 0:
        first_line = (result.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"timedatectl cannot reach timedated: {first_line}")

    assert capture(HostSource(environ={}), "timezone").value == result.stdout.strip().replace("UTC", "Etc/UTC").replace("Etc/Etc/", "Etc/")


def test_against_tzlocal():
    tzlocal = pytest.importorskip("tzlocal", reason="tzlocal is not installed")
    expected = tzlocal.get_localzone_name()

    assert capture(HostSource(environ={}), "timezone").value in (expected, "Etc/UTC" if expected in ("UTC", "Etc/UTC") else expected)
