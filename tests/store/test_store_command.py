"""The store command run as a real process: start-up, requests, signals, errors."""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import agent

LISTENING = re.compile(r"profile store listening on (http://127\.0\.0\.1:(\d+))")
REPOSITORY = Path(agent.__file__).resolve().parent.parent


def start_store(*arguments, env=None):
    # A key inherited from the developer's shell would hide the missing-key cases.
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    environment.pop("DEVICE_AGENT_PROFILE_KEY", None)
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "agent.store.command", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def run_store(*arguments, env=None):
    process = start_store(*arguments, env=env)
    try:
        stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stdout, stderr


def read_url(process):
    line = process.stdout.readline()
    match = LISTENING.fullmatch(line.strip())
    assert match, f"unexpected first line {line!r}; stderr: {process.stderr.read()}"
    return match.group(1)


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "profile.key"
    path.write_text("  command-test-key\n")
    return path


def registration():
    return {
        "event_id": "command-event-1",
        "device_id": "device-1",
        "sequence": 1,
        "type": "registration",
        "kind": None,
        "captured_at": "2026-12-04T19:00:00Z",
        "attributes": {},
        "profile": {
            "userId": "user-1", "customerId": None, "os": "Debian 12",
            "platform": "linux", "sdkVersion": None, "createdOn": "2026-12-04T19:00:00Z",
        },
    }


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_command_serves_until_signal(tmp_path, key_file, signum):
    db_path = tmp_path / "store.db"
    process = start_store("--db", str(db_path), "--key-file", str(key_file))
    try:
        url = read_url(process)
        headers = {"key": "command-test-key"}
        events = f"{url}/resources/v2/customerappprofile/app-1/events"

        posted = httpx.post(events, json={"records": [registration()]}, headers=headers)
        fetched = httpx.get(
            f"{url}/resources/v2/customerappprofile/app-1/profiles/device-1", headers=headers
        )
        unauthorized = httpx.get(f"{url}/resources/v2/customerappprofile/app-1/profiles")
        process.send_signal(signum)
        returncode = process.wait(timeout=10)
    finally:
        process.kill()
    stderr = process.stderr.read()

    assert posted.status_code == 200
    assert fetched.json()["userId"] == "user-1"
    assert unauthorized.status_code == 401
    assert returncode == 0
    assert "command-test-key" not in stderr
    assert "Traceback" not in stderr
    assert db_path.exists()


def test_command_takes_key_from_environment(tmp_path):
    process = start_store(
        "--db", str(tmp_path / "store.db"), env={"DEVICE_AGENT_PROFILE_KEY": "env-key"}
    )
    try:
        url = read_url(process)
        accepted = httpx.get(f"{url}/resources/v2/customerappprofile/a/profiles",
                             headers={"key": "env-key"})
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=10)
    finally:
        process.kill()

    assert accepted.status_code == 200
    assert returncode == 0


def test_command_no_auth_accepts_requests(tmp_path):
    process = start_store("--db", str(tmp_path / "store.db"), "--no-auth")
    try:
        url = read_url(process)
        response = httpx.get(f"{url}/resources/v2/customerappprofile/a/profiles")
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=10)
    finally:
        process.kill()

    assert response.status_code == 200
    assert returncode == 0


def test_command_without_key_exits_78(tmp_path):
    returncode, stdout, stderr = run_store("--db", str(tmp_path / "store.db"))

    assert returncode == 78
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1
    assert "--key-file" in stderr
    assert "--no-auth" in stderr


def test_command_missing_key_file_exits_78(tmp_path):
    returncode, _, stderr = run_store(
        "--db", str(tmp_path / "store.db"), "--key-file", str(tmp_path / "absent.key")
    )

    assert returncode == 78
    assert len(stderr.strip().splitlines()) == 1
    assert "absent.key" in stderr


def test_command_empty_key_file_exits_78(tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text(" \n")

    returncode, _, stderr = run_store("--db", str(tmp_path / "store.db"), "--key-file", str(empty))

    assert returncode == 78
    assert "empty" in stderr


def test_command_port_in_use_fails(tmp_path):
    with socket.socket() as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        port = occupied.getsockname()[1]

        returncode, stdout, stderr = run_store(
            "--db", str(tmp_path / "store.db"), "--no-auth", "--port", str(port)
        )

    assert returncode == 1
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1
    assert str(port) in stderr
    assert "Traceback" not in stderr


def test_command_missing_db_directory_fails(tmp_path):
    db_path = tmp_path / "missing-directory" / "store.db"

    returncode, _, stderr = run_store("--db", str(db_path), "--no-auth")

    assert returncode == 1
    assert len(stderr.strip().splitlines()) == 1
    assert str(db_path) in stderr
    assert "Traceback" not in stderr


def test_command_not_a_database_fails(tmp_path):
    db_path = tmp_path / "notes.db"
    db_path.write_text("these are not SQLite pages\n" * 100)

    returncode, _, stderr = run_store("--db", str(db_path), "--no-auth")

    assert returncode == 1
    assert "not a database" in stderr
    assert "Traceback" not in stderr
