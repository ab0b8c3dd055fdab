"""A real `device-agent run` subprocess, driven with real signals and a real notify socket."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx

from agent.store import ProfileStoreServer
from tests.service.conftest import APP_ID, KEY, agent_environment, run_cli, start_agent, stop_agent, write_config

DEVICE_ID = "device-under-test"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outbox_depth(config_dir):
    with sqlite3.connect(config_dir / "state" / "agent.db") as connection:
        return connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def stored_profile(store):
    response = httpx.get(f"{store.url}/resources/v2/customerappprofile/{APP_ID}/profiles/{DEVICE_ID}", headers={"key": KEY}, timeout=5)
    return response


def test_ready_then_watchdog_pings(tmp_path, notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC="900000"))

    ready = notify_socket.wait_for("READY")
    first_ping = notify_socket.wait_for("WATCHDOG", timeout=3)
    second_ping = notify_socket.wait_for("WATCHDOG", timeout=3)

    assert ready["READY"] == "1"
    assert "Running" in ready["STATUS"]
    assert first_ping["WATCHDOG"] == "1"
    assert second_ping["WATCHDOG"] == "1"
    status, stderr = stop_agent(process)
    assert status == 0, stderr


def test_no_pings_without_watchdog(tmp_path, notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))

    notify_socket.wait_for("READY")
    while notify_socket.receive(timeout=1.5) is not None:
        pass

    assert "WATCHDOG" not in notify_socket.fields()
    status, stderr = stop_agent(process)
    assert status == 0, stderr


def test_sighup_bracketed_by_reloading_ready(tmp_path, notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))
    notify_socket.wait_for("READY")

    process.send_signal(signal.SIGHUP)
    reloading = notify_socket.wait_for("RELOADING")
    ready_again = notify_socket.wait_for("READY")

    assert reloading["RELOADING"] == "1"
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert ready_again["READY"] == "1"
    assert process.poll() is None, "SIGHUP ended the agent"
    status, stderr = stop_agent(process)
    assert status == 0, stderr


def test_sigterm_sends_stopping_exits_zero(tmp_path, notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))
    notify_socket.wait_for("READY")

    status, stderr = stop_agent(process)
    stopping = notify_socket.wait_for("STOPPING", timeout=1)

    assert status == 0, stderr
    assert stopping["STOPPING"] == "1"
    assert "Stopping on SIGTERM" in stderr


def test_sigint_stops_like_sigterm(tmp_path, notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))
    notify_socket.wait_for("READY")

    status, stderr = stop_agent(process, signal.SIGINT)

    assert status == 0, stderr
    assert "Stopping on SIGINT" in stderr


def test_abstract_notify_socket(tmp_path, abstract_notify_socket, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, NOTIFY_SOCKET=abstract_notify_socket.address))

    ready = abstract_notify_socket.wait_for("READY")

    assert ready["READY"] == "1"
    status, stderr = stop_agent(process)
    assert status == 0, stderr


def test_invalid_config_never_ready(tmp_path, notify_socket, agents):
    config = tmp_path / "agent.yaml"
    config.write_text("device:\n  platform: linux\nmonitors: {}\nsurprise: 1\n")
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))

    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 78, stderr
    assert "surprise" in stderr
    assert notify_socket.receive(timeout=0.2) is None


def test_sigterm_flushes_outbox_to_store(tmp_path, notify_socket, agents):
    port = free_port()
    config = write_config(tmp_path, store_url=f"http://127.0.0.1:{port}")
    agents.append(process := start_agent(config, NOTIFY_SOCKET=notify_socket.address))
    notify_socket.wait_for("READY")
    # Events queue while nothing listens on the port; the sender backs off.
    time.sleep(1.5)
    queued = outbox_depth(tmp_path)

    with ProfileStoreServer(tmp_path / "store.db", port=port, key=KEY).start() as store:
        status, stderr = stop_agent(process)
        profile = stored_profile(store)

    assert queued > 0
    assert status == 0, stderr
    assert "delivering 0 queued events" not in stderr
    assert outbox_depth(tmp_path) == 0
    assert profile.status_code == 200, profile.text
    assert "timezone" in json.dumps(profile.json())


def test_undelivered_events_wait_for_next_start(tmp_path, notify_socket, agents):
    port = free_port()
    config = write_config(tmp_path, store_url=f"http://127.0.0.1:{port}")
    agents.append(process := start_agent(config, "--stop-timeout", "1", NOTIFY_SOCKET=notify_socket.address))
    notify_socket.wait_for("READY")
    time.sleep(1.0)

    started = time.monotonic()
    status, stderr = stop_agent(process)
    stop_seconds = time.monotonic() - started
    left = outbox_depth(tmp_path)

    assert status == 0, stderr
    assert stop_seconds < 10, stderr
    assert left > 0
    assert "stay in the outbox" in stderr

    with ProfileStoreServer(tmp_path / "store.db", port=port, key=KEY).start() as store:
        second = run_cli("run", "--once", "--config", str(config))
        profile = stored_profile(store)

    assert second.returncode == 0, second.stderr
    assert outbox_depth(tmp_path) == 0
    assert profile.status_code == 200, profile.text


def test_status_while_running_and_after(tmp_path, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config))
    report = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        result = run_cli("status", "--json", "--config", str(config))
        report = json.loads(result.stdout) if result.returncode == 0 else None
        if report and all(monitor["last_capture"] for monitor in report["monitors"]):
            break
        time.sleep(0.5)

    assert report is not None, result.stderr
    assert report["agent_pid"] == process.pid
    assert report["agent_state"] == "running"
    assert report["registration"]["device_id"] == DEVICE_ID
    assert {monitor["attribute"] for monitor in report["monitors"]} == {"ram", "timezone", "battery_level"}
    assert all(monitor["last_capture"] for monitor in report["monitors"]), report["monitors"]
    assert report["outbox"]["dead_letters"] == 0

    status, stderr = stop_agent(process)
    after = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)

    assert status == 0, stderr
    assert after["agent_state"] == "stopped"
    assert after["agent_stopped_at"] is not None
    assert after["delivery"]["last_delivery"] is not None
    assert after["outbox"]["depth"] == 0


def test_log_format_json_option(tmp_path, agents):
    config = write_config(tmp_path)
    agents.append(process := start_agent(config, "--log-format", "json"))
    time.sleep(1.0)

    status, stderr = stop_agent(process)
    entries = [json.loads(line) for line in stderr.splitlines()]

    assert status == 0, stderr
    assert entries, "no log lines"
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(entry["logger"] == "agent.service" and entry["message"].startswith("Stopping on SIGTERM") for entry in entries)


def test_journal_stream_priorities(tmp_path):
    config = write_config(tmp_path)
    with open(tmp_path / "journal.log", "w+") as journal:
        status = os.fstat(journal.fileno())
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            env=agent_environment(JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino}"),
            stderr=journal,
        )
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        exit_status = process.wait(timeout=30)
        journal.seek(0)
        lines = journal.read().splitlines()

    assert exit_status == 0
    assert lines, "no log lines"
    assert all(re.match(r"^<[0-7]>agent\.", line) for line in lines), lines
    assert any(line.startswith("<6>agent.service: Stopping on SIGTERM") for line in lines), lines
