"""`device-agent status` and `device-agent simulate` on bad input: one plain error line, never a traceback."""

import sqlite3

import pytest

from tests.support import agent_command


def assert_plain_error(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("device-agent"), result.stderr


def registered_state_dir(tmp_path):
    """Create a state directory whose agent.db has the agent's schema, by running `register`."""
    state_dir = tmp_path / "state"
    config = tmp_path / "agent.yaml"
    config.write_text(
        "device: {platform: linux, app_id: qa-app, device_id: qa-device}\n"
        "monitors: {event: [timezone]}\n"
        f"state_dir: {state_dir}\n"
    )
    result = agent_command("register", "--config", config)
    assert result.returncode == 0, result.stderr
    return state_dir


def test_status_empty_database_file(tmp_path):
    # An agent that died while creating its database leaves a zero-byte agent.db.
    (tmp_path / "agent.db").write_bytes(b"")

    result = agent_command("status", "--state-dir", tmp_path, "--config", tmp_path / "missing.yaml")

    assert_plain_error(result)


def test_status_malformed_database(tmp_path):
    state_dir = registered_state_dir(tmp_path)
    database = state_dir / "agent.db"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    size = database.stat().st_size
    with open(database, "r+b") as stream:
        # Keep the header and the schema page, so opening works and the first real query fails.
        stream.seek(4096)
        stream.write(bytes(range(256)) * ((size - 4096) // 256))

    result = agent_command("status", "--state-dir", state_dir, "--config", tmp_path / "missing.yaml")

    assert_plain_error(result)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--speed", "0"],
        ["--speed", "-1"],
        ["--mix", "ios:2.12=nan"],
        ["--mix", "ios:2.12=inf"],
        ["--duration", "99999999d"],
        ["--scenario", "/"],
        ["--state-dir", "/etc/hostname"],
    ],
)
def test_simulate_bad_argument(arguments):
    result = agent_command("simulate", "--no-progress", "--devices", "1", "--duration", "1m", *arguments, timeout=60)

    assert_plain_error(result)


def test_simulate_unwritable_report_fails_early(tmp_path):
    report = tmp_path / "report-dir"
    report.mkdir()

    result = agent_command("simulate", "--no-progress", "--devices", "1", "--duration", "1m", "--report", report, timeout=60)

    assert_plain_error(result)
    # The report path is known before the run, so a bad one must not cost a whole simulation.
    assert "verification" not in result.stdout


def test_status_reports_outbox_losses(tmp_path):
    state_dir = registered_state_dir(tmp_path)
    with sqlite3.connect(state_dir / "agent.db") as connection:
        connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES ('outbox_coalesced', '291')")
        connection.execute("INSERT OR REPLACE INTO settings (name, value) VALUES ('outbox_dropped', '17')")

    result = agent_command("status", "--state-dir", state_dir, "--config", tmp_path / "missing.yaml", "--json")

    assert result.returncode == 0, result.stderr
    assert '"coalesced": 291' in result.stdout
    assert '"dropped": 17' in result.stdout


def test_register_state_dir_is_file(tmp_path):
    not_a_directory = tmp_path / "state"
    not_a_directory.write_text("")
    config = tmp_path / "agent.yaml"
    config.write_text(
        "device: {platform: linux, app_id: qa-app, device_id: qa-device}\n"
        "monitors: {event: [timezone]}\n"
        f"state_dir: {not_a_directory}\n"
    )

    result = agent_command("register", "--force", "--config", config)

    assert_plain_error(result)


@pytest.mark.parametrize(("store", "message"), [
    ("http://127.0.0.1:9", "does not respond to GET /healthz"),
    ("ftp://x", "must be an http:// or https:// URL"),
])
def test_simulate_rejects_unusable_store_before_run(store, message):
    result = agent_command("simulate", "--no-progress", "--devices", "1", "--duration", "1m", "--store", store, timeout=60)

    assert_plain_error(result)
    assert message in result.stderr
    assert "verification" not in result.stdout
