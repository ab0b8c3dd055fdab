"""Loading agent.yaml: the values a valid file gives, and the problems that need a live file system."""

import time
import tracemalloc
from pathlib import Path

import pytest

from agent.catalog import Kind
from agent.config import Geofence, Monitor, load_config
from agent.errors import ConfigError
from agent.yamlsource import MAX_CONFIG_BYTES

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"

FULL = """\
device:
  platform: android
  sdk_version: "2.11.4"
  app_id: fleet-app
  user_id: 0012
  customer_id: acme
  device_id: kiosk-7
monitors:
  one_time:
    - ram
    - serial_number: {privacy: hash}
  event:
    - timezone
    - device_ip: {privacy: omit, poll_interval: 2m}
  interval:
    battery_level: 5m
    signal_strength: {every: 1h30m, jitter: 30s, privacy: send}
geofences:
  - {name: depot, latitude: 52.52, longitude: 13.405, radius: 150}
store:
  url: https://profiles.example.com
  key_env: FLEET_PROFILE_KEY
  batch_size: 50
  flush_interval: 10s
  connect_timeout: 2s
  read_timeout: 1m
  max_outbox_events: 500
  max_outbox_bytes: 1048576
state_dir: /var/lib/fleet-agent
heartbeat: 7d
logging:
  level: DEBUG
  format: json
"""


def test_full_config_values(write_config):
    config = load_config(write_config(FULL))
    assert config.device.platform == "android"
    assert config.device.sdk_version == "2.11.4"
    assert config.device.app_id == "fleet-app"
    assert config.device.customer_id == "acme"
    assert config.device.device_id == "kiosk-7"
    assert config.monitors == (
        Monitor("ram", Kind.ONE_TIME),
        Monitor("serial_number", Kind.ONE_TIME, privacy="hash"),
        Monitor("timezone", Kind.EVENT, poll_interval=30.0),
        Monitor("device_ip", Kind.EVENT, poll_interval=120.0, privacy="omit"),
        Monitor("battery_level", Kind.INTERVAL, interval=300.0),
        Monitor("signal_strength", Kind.INTERVAL, interval=5400.0, jitter=30.0),
    )
    assert config.geofences == (Geofence("depot", 52.52, 13.405, 150.0),)
    assert config.store.url == "https://profiles.example.com"
    assert config.store.key_env == "FLEET_PROFILE_KEY"
    assert (config.store.batch_size, config.store.flush_interval, config.store.connect_timeout, config.store.read_timeout) == (50, 10.0, 2.0, 60.0)
    assert (config.store.max_outbox_events, config.store.max_outbox_bytes) == (500, 1048576)
    assert config.state_dir == "/var/lib/fleet-agent"
    assert config.heartbeat == 7 * 86400.0
    assert (config.logging.level, config.logging.format) == ("debug", "json")


def test_numeric_id_kept_as_written(write_config):
    # YAML 1.1 reads 0012 as the octal number 10.
    assert load_config(write_config(FULL)).device.user_id == "0012"


def test_defaults(write_config):
    config = load_config(write_config("device: {platform: linux, app_id: demo}\nmonitors: {}\n"))
    assert config.monitors == ()
    assert config.store.url is None
    assert config.store.batch_size == 100
    assert config.state_dir == "/var/lib/device-agent"
    assert config.device.sdk_version is None
    assert config.heartbeat == 15 * 86400.0
    assert (config.store.max_outbox_events, config.store.max_outbox_bytes) == (10_000, 8 * 1024 * 1024)


@pytest.mark.parametrize("name, platform, count", [("linux.yaml", "linux", 7), ("android.yaml", "android", 12), ("ios.yaml", "ios", 5)])
def test_examples_load(name, platform, count):
    config = load_config(EXAMPLES / name)
    assert config.device.platform == platform
    assert len(config.monitors) == count


def test_prerelease_uses_older_row(write_config):
    text = 'device: {platform: android, sdk_version: "2.12.0-beta.1", app_id: demo}\nmonitors:\n  interval: {battery_level: 1m}\n'
    assert load_config(write_config(text)).monitor("battery_level").kind is Kind.INTERVAL


def test_every_problem_reported_sorted(write_config):
    text = (
        "logging: {level: loud}\n"
        "device:\n"
        "  platform: linux\n"
        "  app_id: demo\n"
        "  colour: blue\n"
        "monitors:\n"
        "  event: [timezon, battery_level]\n"
        "  interval: {battery_level: 1s}\n"
        "geofences:\n"
        "  - {name: a, latitude: 100, longitude: 200, radius: 5}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(text))
    positions = [(problem.line, problem.column) for problem in raised.value.problems]
    assert positions == [(1, 18), (5, 3), (7, 11), (7, 20), (8, 29), (10, 25), (10, 41)]
    assert positions == sorted(positions)


def test_unknown_attribute_and_wrong_kind_both_reported(write_config):
    text = "device: {platform: ios, sdk_version: '2.12', app_id: demo}\nmonitors:\n  event: [battery_level, locaton]\n"
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(text))
    messages = [problem.message for problem in raised.value.problems]
    assert messages[0].startswith("battery_level is not offered on platform ios SDK 2.12; it is offered on android SDK < 2.12 as interval-based")
    assert messages[1].startswith("unknown attribute 'locaton' (did you mean 'location'?)")


def test_catalog_checked_despite_other_problems(write_config):
    # A wrong user_id must not hide that ram is not offered on this SDK.
    text = "device: {platform: ios, sdk_version: '2.12', app_id: demo, user_id: [x]}\nmonitors:\n  one_time: [ram]\n"
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(text))
    assert any(problem.message.startswith("ram is not offered on platform ios SDK 2.12") for problem in raised.value.problems)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others(write_config, tmp_path, mode):
    key = tmp_path / "profile-key"
    key.write_text("secret\n")
    key.chmod(mode)
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(f"device: {{platform: linux, app_id: demo}}\nmonitors: {{}}\nstore: {{url: 'https://store.example', key_file: {key}}}\n"))
    assert str(raised.value).endswith(f"key file '{key}' is readable or writable by other users (mode {mode:04o}); run: chmod 600 {key}")


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_file_private(write_config, tmp_path, mode):
    key = tmp_path / "profile-key"
    key.write_text("secret\n")
    key.chmod(mode)
    config = load_config(write_config(f"device: {{platform: linux, app_id: demo}}\nmonitors: {{}}\nstore: {{url: 'https://store.example', key_file: {key}}}\n"))
    assert config.store.key_file == str(key)


def test_key_file_directory(write_config, tmp_path):
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(write_config(f"device: {{platform: linux, app_id: demo}}\nmonitors: {{}}\nstore: {{key_file: {tmp_path}}}\n"))


def test_oversize_file_rejected_fast(write_config):
    path = write_config("device: {platform: linux, app_id: demo}\nmonitors: {}\n" + "# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert time.perf_counter() - started < 0.1
    assert str(raised.value) == f"{path}:1:1: file is larger than {MAX_CONFIG_BYTES} bytes; a config file is a few kilobytes"


def test_alias_bomb_bounded_memory(write_config):
    # Nine levels of nine aliases expand to 9**9 (387 million) strings when followed.
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = write_config("\n".join(lines) + "\n")
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="anchors and aliases"):
        load_config(path)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5_000_000


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "agent.yaml")
    assert str(raised.value) == f"{tmp_path / 'agent.yaml'}:1:1: file not found"


def test_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_bytes("\ufeffdevice: {platform: linux, app_id: demo}\nmonitors: {}\n".encode())
    assert load_config(path).device.app_id == "demo"


def test_date_like_id_kept_as_written(write_config):
    config = load_config(write_config("device: {platform: linux, app_id: 2024-01-01}\nmonitors: {}\n"))
    assert config.device.app_id == "2024-01-01"


def test_key_named_key_keeps_positions(write_config):
    # A top-level key named "key" must not shift where other keys are reported.
    with pytest.raises(ConfigError) as raised:
        load_config(write_config("device: {platform: linux, app_id: demo}\nmonitors: {}\nmonitor: {}\nkey:\n  monitor: x\n"))
    assert [(problem.line, problem.column) for problem in raised.value.problems] == [(3, 1), (4, 1)]


def test_entry_with_empty_options(write_config):
    config = load_config(write_config("device: {platform: linux, app_id: demo}\nmonitors:\n  event:\n    - timezone:\n"))
    assert config.monitors == (Monitor("timezone", Kind.EVENT, poll_interval=30.0),)


def test_crlf_line_endings(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_bytes(b"device:\r\n  platform: linux\r\n  app_id: demo\r\nmonitors:\r\n  event: [timezon]\r\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}:5:11: unknown attribute 'timezon' (did you mean 'timezone'?); run 'device-agent monitors' to list them"


def test_typo_of_required_key_reported_once(write_config):
    with pytest.raises(ConfigError) as raised:
        load_config(write_config("device: {platform: linux, app_ip: demo}\nmonitor:\n  event: [timezone]\n"))
    messages = [problem.message for problem in raised.value.problems]
    assert len(messages) == 2
    assert messages[0].startswith("unknown key 'app_ip'; allowed here: platform, sdk_version, app_id")
    assert messages[0].endswith("(did you mean 'app_id'?)")
    assert messages[1].endswith("(did you mean 'monitors'?)")


def test_missing_required_key_without_typo(write_config):
    with pytest.raises(ConfigError) as raised:
        load_config(write_config("device: {platform: linux, colour: blue}\nmonitors: {}\n"))
    messages = [problem.message for problem in raised.value.problems]
    assert messages == ["device.app_id is missing", "unknown key 'colour'; allowed here: platform, sdk_version, app_id, user_id, customer_id, device_id, email, app_unit"]
