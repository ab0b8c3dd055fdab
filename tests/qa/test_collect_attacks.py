"""Collectors on hostile fake host trees given with --root."""

import json

from tests.support import agent_command


def collect(root, *attributes):
    result = agent_command("collect", *attributes, "--json", "--root", root)
    assert "Traceback" not in result.stderr, result.stderr
    return {row["attribute"]: row for row in json.loads(result.stdout)}


def test_timezone_rejects_link_escaping_zoneinfo(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "localtime").symlink_to("/usr/share/zoneinfo/../../../etc/passwd")

    row = collect(tmp_path, "timezone")["timezone"]

    assert row["status"] != "ok", f"timezone reported as {row['value']!r}"


def test_ram_garbage_meminfo_is_unavailable(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: banana kB\n")

    row = collect(tmp_path, "ram")["ram"]

    assert row["status"] == "unavailable", row
    assert "/proc/meminfo" in row["reason"]
