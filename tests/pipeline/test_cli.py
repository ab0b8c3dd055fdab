"""The command line: version, help, and errors as one plain line."""

from support import agent_command

from agent import __version__


def test_version():
    result = agent_command("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"device-agent {__version__}"


def test_missing_config_is_config_error(tmp_path):
    result = agent_command("run", "--once", "--config", tmp_path / "absent.yaml")

    assert result.returncode == 78
    assert "absent.yaml:1:1: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_lists_problems(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text("device:\n  platform: linx\n  app_id: a\nmonitors:\n  one_time: [ramm]\n")

    result = agent_command("run", "--once", "--config", config)

    assert result.returncode == 78
    assert "agent.yaml:2:13: unknown platform 'linx'" in result.stderr
    assert "did you mean 'linux'" in result.stderr
    assert "Traceback" not in result.stderr


def test_profile_show_before_first_run(tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(f"device: {{platform: linux, app_id: a}}\nmonitors: {{one_time: [ram]}}\nstate_dir: {tmp_path / 'state'}\n")

    result = agent_command("profile", "show", "--config", config)

    assert result.returncode == 1
    assert "run 'device-agent run --once' first" in result.stderr
    assert "Traceback" not in result.stderr
