"""Hostile agent.yaml files: each must exit 78 with file:line:column and start nothing."""

import os
import textwrap

import pytest

from tests.support import agent_command

EX_CONFIG = 78

BASE = textwrap.dedent("""\
    device:
      platform: linux
      app_id: qa
    monitors:
      one_time: [ram]
    """)


def run_once(config, state_dir, timeout=20):
    return agent_command("run", "--once", "--config", config, "--state-dir", state_dir, timeout=timeout)


def assert_rejected(result, config, state_dir):
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == EX_CONFIG, result.stderr
    assert f"{config}:" in result.stderr
    assert not os.path.exists(state_dir), "the agent created its state before rejecting the config"


def test_config_symlink_loop_exits_78(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.symlink_to(second)
    second.symlink_to(first)
    state_dir = tmp_path / "state"

    result = run_once(first, state_dir)

    assert_rejected(result, first, state_dir)


def test_config_fifo_exits_78_without_blocking(tmp_path):
    config = tmp_path / "agent.yaml"
    os.mkfifo(config)
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir, timeout=20)

    assert_rejected(result, config, state_dir)


def test_config_deep_flow_nesting_exits_78(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


@pytest.mark.parametrize("interval", [".nan", ".inf", "99999999999999d"])
def test_config_rejects_unschedulable_interval(tmp_path, interval):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + f"  interval:\n    battery_level: {interval}\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)
    assert ":7:" in result.stderr


@pytest.mark.parametrize("setting", ["flush_interval: .nan", "read_timeout: .inf", "connect_timeout: .nan"])
def test_config_rejects_non_finite_store_duration(tmp_path, setting):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + f"store:\n  {setting}\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


def test_config_rejects_nan_jitter(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + "  interval:\n    battery_level: {every: 5m, jitter: .nan}\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


def test_config_malformed_store_url_exits_78(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + 'store:\n  url: "http://[::1"\n')
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


@pytest.mark.parametrize("key_file", ["loop", '"/tmp/a\\0b"'])
def test_config_unusable_key_file_exits_78(tmp_path, key_file):
    if key_file == "loop":
        (tmp_path / "k1").symlink_to(tmp_path / "k2")
        (tmp_path / "k2").symlink_to(tmp_path / "k1")
        key_file = str(tmp_path / "k1")
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + f"store:\n  url: http://127.0.0.1:9\n  key_file: {key_file}\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


def test_config_rejects_overlong_app_id(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(f"device:\n  platform: linux\n  app_id: {'a' * 200000}\nmonitors:\n  one_time: [ram]\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)


def test_config_rejects_nul_in_state_dir(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + 'state_dir: "/tmp/qa\\0state"\n')

    result = agent_command("run", "--once", "--config", config, timeout=20)

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == EX_CONFIG


def test_config_rejects_binary_state_dir(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(BASE + "state_dir: !!binary aGVsbG8=\n")

    result = agent_command("run", "--once", "--config", config, timeout=20, cwd=tmp_path)

    assert result.returncode == EX_CONFIG, result.stderr
    assert not (tmp_path / "b'hello'").exists()


@pytest.mark.parametrize("field", ['app_id: "my app/1"', 'device_id: "dev ice"', f'user_id: {"u" * 2000}'])
def test_config_rejects_ids_store_rejects(tmp_path, field):
    key, _, value = field.partition(": ")
    lines = {"app_id": "qa", key: value}
    identity = "".join(f"  {name}: {text}\n" for name, text in lines.items())
    config = tmp_path / "agent.yaml"
    config.write_text(f"device:\n  platform: linux\n{identity}monitors:\n  event: [timezone]\n")
    state_dir = tmp_path / "state"

    result = run_once(config, state_dir)

    assert_rejected(result, config, state_dir)
    assert key in result.stderr
