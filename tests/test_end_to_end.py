"""The whole pipeline on this machine: a store subprocess, `run --once`, and the stored profile."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support import PROJECT_DIR, agent_command

APP_ID = "e2e-app"


@pytest.fixture
def store_process(tmp_path):
    key_file = tmp_path / "profile-key"
    key_file.write_text("e2e-secret\n")
    key_file.chmod(0o600)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "store", "serve", "--db", str(tmp_path / "store.db"), "--port", "0", "--key-file", str(key_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(PROJECT_DIR)),
    )
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, f"store did not start: {line!r} {process.stderr.read() if process.poll() is not None else ''}"
    yield match.group(1), key_file
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def write_config(tmp_path, store_url, key_file):
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"""
device:
  platform: linux
  app_id: {APP_ID}
  user_id: e2e-user
monitors:
  one_time: [ram, internal_storage]
  event: [timezone, language, connect_type, device_ip]
  interval:
    battery_level: 1m
store:
  url: {store_url}
  key_file: {key_file}
state_dir: {tmp_path / 'state'}
"""
    )
    return config


def fetch_profiles(store_url, key):
    response = httpx.get(f"{store_url}/resources/v2/customerappprofile/{APP_ID}/profiles", headers={"key": key})
    assert response.status_code == 200, response.text
    return response.json()["profiles"]


def expected_timezone():
    """The zone libc would use, found without the agent: TZ, then the /etc/localtime link, then /etc/timezone."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if "/" in tz and "zoneinfo/" in tz:
        return tz.split("zoneinfo/", 1)[1]
    if tz and not tz.startswith("/"):
        return tz
    if os.path.islink("/etc/localtime"):
        return os.readlink("/etc/localtime").split("zoneinfo/", 1)[1]
    return Path("/etc/timezone").read_text().strip()


def expected_ram():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def has_system_battery():
    supplies = Path("/sys/class/power_supply")
    return any((entry / "type").read_text().strip() == "Battery" for entry in supplies.iterdir()) if supplies.exists() else False


def test_run_once_delivers_this_machine(tmp_path, store_process):
    store_url, key_file = store_process
    config = write_config(tmp_path, store_url, key_file)

    result = agent_command("run", "--once", "--config", config)
    assert result.returncode == 0, result.stderr

    [profile] = fetch_profiles(store_url, "e2e-secret")
    attributes = profile["attributes"]
    assert profile["userId"] == "e2e-user"
    assert profile["os"]
    assert profile["createdOn"]
    assert attributes["ram"]["value"] == expected_ram()
    statvfs = os.statvfs("/")
    assert attributes["internal_storage"]["value"] == statvfs.f_blocks * statvfs.f_frsize
    zone = expected_timezone()
    assert attributes["timezone"]["value"] in (zone, "Etc/UTC" if zone in ("UTC", "Etc/UTC") else zone)
    assert attributes["connect_type"]["status"] == "ok"
    assert attributes["connect_type"]["value"] in ("wifi", "cellular", "ethernet", "other", "none")
    assert attributes["language"]["status"] in ("ok", "unsupported")
    if not has_system_battery():
        assert attributes["battery_level"]["status"] == "unsupported"
        assert attributes["battery_level"]["value"] is None
        assert "battery" in attributes["battery_level"]["reason"]


def test_profile_show_matches_store(tmp_path, store_process):
    store_url, key_file = store_process
    config = write_config(tmp_path, store_url, key_file)
    assert agent_command("run", "--once", "--config", config).returncode == 0

    shown = agent_command("profile", "show", "--json", "--config", config)
    assert shown.returncode == 0, shown.stderr
    [stored] = fetch_profiles(store_url, "e2e-secret")
    assert json.loads(shown.stdout) == stored


def test_device_id_survives_restart(tmp_path, store_process):
    store_url, key_file = store_process
    config = write_config(tmp_path, store_url, key_file)
    assert agent_command("run", "--once", "--config", config).returncode == 0
    assert agent_command("run", "--once", "--config", config).returncode == 0

    profiles = fetch_profiles(store_url, "e2e-secret")
    assert len(profiles) == 1


def test_run_once_fails_when_store_is_down(tmp_path):
    key_file = tmp_path / "profile-key"
    key_file.write_text("k")
    key_file.chmod(0o600)
    # Port 9 on loopback (discard) has no listener here, so every connection is refused.
    config = write_config(tmp_path, "http://127.0.0.1:9", key_file)

    result = agent_command("run", "--once", "--config", config, timeout=120)

    assert result.returncode == 1
    assert "not acknowledged" in result.stderr
    assert "Traceback" not in result.stderr


def test_embedded_store_when_no_url(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"device: {{platform: linux, app_id: {APP_ID}}}\nmonitors: {{one_time: [ram], event: [timezone]}}\nstate_dir: {tmp_path / 'state'}\n"
    )

    assert agent_command("run", "--once", "--config", config).returncode == 0
    shown = agent_command("profile", "show", "--json", "--config", config)

    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert profile["attributes"]["ram"]["value"] == expected_ram()
    assert (tmp_path / "state" / "store.key").stat().st_mode & 0o077 == 0
