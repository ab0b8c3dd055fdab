"""device-agent collect: a dry run that prints samples."""

import json

from hosttree import Symlink, build_tree

from agent.cli import main
from agent.collectors import COLLECTORS


def fake_root(tmp_path):
    return build_tree(tmp_path / "root", {
        "/etc/localtime": Symlink("/usr/share/zoneinfo/Europe/Berlin"),
        "/proc/meminfo": "MemTotal:        8048576 kB\nMemFree:          123456 kB\n",
        "/sys/class/power_supply/AC/type": "Mains\n",
    })


def test_collect_json_under_root(tmp_path, capsys):
    root = fake_root(tmp_path)

    code = main(["collect", "timezone", "ram", "battery_level", "--json", "--root", str(root)])
    records = {record["attribute"]: record for record in json.loads(capsys.readouterr().out)}

    assert code == 0
    assert records["timezone"]["value"] == "Europe/Berlin"
    assert records["ram"]["value"] == 8048576 * 1024
    assert records["battery_level"]["status"] == "unsupported"
    assert records["battery_level"]["value"] is None
    assert "no system battery" in records["battery_level"]["reason"]


def test_collect_table_lists_every_attribute(tmp_path, capsys):
    code = main(["collect", "--root", str(fake_root(tmp_path)), "--timeout", "5"])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0
    assert [line.split()[0] for line in lines] == sorted(COLLECTORS)
    assert len(COLLECTORS) == 31


def test_collect_unknown_attribute(tmp_path, capsys):
    code = main(["collect", "batery_level", "--root", str(fake_root(tmp_path))])
    error = capsys.readouterr().err

    assert code == 1
    assert "did you mean battery_level?" in error


def test_collect_geofences_from_config(tmp_path, capsys):
    config = tmp_path / "agent.yaml"
    config.write_text(
        "device: {platform: linux, app_id: app-1}\n"
        "monitors: {event: [geofence]}\n"
        "geofences:\n  - {name: office, latitude: 52.52, longitude: 13.405, radius: 100}\n"
    )

    main(["collect", "geofence", "--json", "--root", str(fake_root(tmp_path)), "--config", str(config)])
    (record,) = json.loads(capsys.readouterr().out)

    # The fake root has no bus, so GeoClue is unreachable, but the fences were read.
    assert record["status"] == "unavailable"
    assert "no geofences" not in record["reason"]
