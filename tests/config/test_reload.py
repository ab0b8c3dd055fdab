"""SIGHUP reloads agent.yaml in a running agent: a real child process, a real signal, the state database observed."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


REPOSITORY = Path(__file__).resolve().parents[2]

# The agent reads locale and zone from the fake root only when its own environment names none.
_HOST_VARIABLES = ("TZ", "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")


class RunningAgent:
    """device-agent run in a child process against a fake root, with its state database at hand."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "root"
        self.state_dir = tmp_path / "state"
        self.config = tmp_path / "agent.yaml"
        self.log = tmp_path / "agent.log"
        (self.root / "etc" / "default").mkdir(parents=True)
        (self.root / "proc").mkdir()
        self.set_host(zone="Europe/Berlin", locale="de_DE.UTF-8", memory_kb=2048000)
        self.process = None

    def set_host(self, zone=None, locale=None, memory_kb=None):
        if zone is not None:
            # glibc reads /etc/localtime, so change the link the way timedatectl does: a new link renamed over it.
            (self.root / "etc" / "timezone").write_text(zone + "\n")
            link = self.root / "etc" / ".localtime.new"
            link.unlink(missing_ok=True)
            link.symlink_to(f"/usr/share/zoneinfo/{zone}")
            link.rename(self.root / "etc" / "localtime")
        if locale is not None:
            (self.root / "etc" / "default" / "locale").write_text(f"LANG={locale}\n")
        if memory_kb is not None:
            (self.root / "proc" / "meminfo").write_text(f"MemTotal:       {memory_kb} kB\nMemFree:        1024 kB\n")

    def write_config(self, monitors, user_id="rider-1"):
        self.config.write_text(
            f"device:\n  platform: linux\n  app_id: reload-test\n  user_id: {user_id}\nmonitors:\n{monitors}state_dir: {self.state_dir}\n"
        )

    def start(self):
        environ = {name: value for name, value in os.environ.items() if name not in _HOST_VARIABLES}
        environ["PYTHONPATH"] = str(REPOSITORY)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent", "run", "--config", str(self.config), "--root", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, env=environ,
            )

    def reload(self):
        self.process.send_signal(signal.SIGHUP)

    def values(self):
        path = self.state_dir / "agent.db"
        if not path.exists():
            return {}
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = connection.execute("SELECT attribute, payload FROM last_values").fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            connection.close()
        return {attribute: json.loads(payload)["value"] for attribute, payload in rows}

    def wait_for(self, condition, what, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"agent exited with {self.process.returncode}:\n{self.log.read_text()}"
            if condition():
                return
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; last values {self.values()}\n{self.log.read_text()}")

    def wait_for_value(self, attribute, value):
        self.wait_for(lambda: self.values().get(attribute) == value, f"{attribute} == {value!r}")

    def wait_for_log(self, text):
        self.wait_for(lambda: text in self.log.read_text(), f"log line {text!r}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


@pytest.fixture
def agent(tmp_path):
    running = RunningAgent(tmp_path)
    yield running
    running.stop()


def test_sighup_applies_new_monitors(agent):
    agent.write_config(
        "  one_time: [ram]\n"
        "  event:\n"
        "    - timezone: {poll_interval: 1h}\n"
        "    - language: {poll_interval: 1s}\n"
    )
    agent.start()
    agent.wait_for_value("ram", 2048000 * 1024)
    agent.wait_for_value("timezone", "Europe/Berlin")
    agent.wait_for_value("language", "de-DE")

    # timezone's poll interval drops from 1h to 1s, language is removed.
    agent.set_host(zone="Asia/Tokyo", memory_kb=4096000)
    agent.write_config("  one_time: [ram]\n  event:\n    - timezone: {poll_interval: 1s}\n")
    agent.reload()
    agent.wait_for_value("timezone", "Asia/Tokyo")

    agent.set_host(locale="fr_FR.UTF-8")
    time.sleep(1.5)
    agent.set_host(zone="America/New_York")
    agent.wait_for_value("timezone", "America/New_York")
    values = agent.values()
    assert values["language"] == "de-DE"
    # ram is one-time and the identity did not change, so the new memory size is not captured.
    assert values["ram"] == 2048000 * 1024
    assert agent.stop() == 0


def test_sighup_adds_monitor(agent):
    agent.write_config("  event:\n    - timezone: {poll_interval: 1s}\n")
    agent.start()
    agent.wait_for_value("timezone", "Europe/Berlin")
    assert "language" not in agent.values()

    agent.write_config("  event:\n    - timezone: {poll_interval: 1s}\n    - language: {poll_interval: 1s}\n")
    agent.reload()
    agent.wait_for_value("language", "de-DE")
    agent.wait_for_log("Reloaded")
    assert agent.stop() == 0


def test_sighup_new_identity_recaptures_one_time(agent):
    agent.write_config("  one_time: [ram]\n  event:\n    - timezone: {poll_interval: 1s}\n")
    agent.start()
    agent.wait_for_value("ram", 2048000 * 1024)

    # A new user_id registers the device again, so the one-time monitor runs again.
    agent.set_host(memory_kb=4096000)
    agent.write_config("  one_time: [ram]\n  event:\n    - timezone: {poll_interval: 1s}\n", user_id="rider-2")
    agent.reload()
    agent.wait_for_value("ram", 4096000 * 1024)
    agent.wait_for_log("Device identity changed; registered device")
    assert agent.stop() == 0


def test_sighup_rejects_invalid_config(agent):
    agent.write_config("  event:\n    - timezone: {poll_interval: 1s}\n")
    agent.start()
    agent.wait_for_value("timezone", "Europe/Berlin")

    agent.write_config("  event:\n    - timezone: {poll_interval: 1s}\n    - languag\n  interval:\n    battery_level: 0\n")
    agent.reload()
    agent.wait_for_log("Kept the running config")
    log = agent.log.read_text()
    assert f"Reload rejected: {agent.config}:8:7: unknown attribute 'languag' (did you mean 'language'?)" in log
    assert f"Reload rejected: {agent.config}:10:20: interval of battery_level is 0" in log
    assert "Traceback" not in log

    # Still running with the old config: a zone change is picked up.
    agent.set_host(zone="Asia/Tokyo")
    agent.wait_for_value("timezone", "Asia/Tokyo")
    assert "language" not in agent.values()
    assert agent.stop() == 0


@pytest.fixture
def opened_agent(tmp_path):
    from agent.config import load_config
    from agent.daemon import Agent
    from agent.sources.host import HostSource

    path = tmp_path / "agent.yaml"
    path.write_text(f"device: {{platform: linux, app_id: demo}}\nmonitors:\n  event: [timezone]\nstate_dir: {tmp_path / 'state'}\n")
    running = Agent(load_config(path), source=HostSource(tmp_path)).open()
    yield running, path
    running.close()


def test_reload_keeps_store_settings(opened_agent, caplog, tmp_path):
    from agent.reload import reload_from_file

    running, path = opened_agent
    path.write_text(
        f"device: {{platform: linux, app_id: demo}}\nmonitors:\n  event: [timezone, language]\n"
        f"store: {{url: 'https://profiles.example.com', batch_size: 10}}\nstate_dir: {tmp_path / 'other'}\nlogging: {{level: debug, format: json}}\n"
    )
    assert reload_from_file(running, path) is True
    assert [monitor.attribute for monitor in running.config.monitors] == ["timezone", "language"]
    assert running.config.store.url is None
    assert running.config.state_dir == str(tmp_path / "state")
    assert "store settings changed (url, batch_size)" in caplog.text
    assert f"state_dir changed to {tmp_path / 'other'}" in caplog.text
    assert running.config.logging.level == "debug"
    assert running.config.logging.format == "text"
    assert "logging.format changed to json" in caplog.text


def test_reload_state_dir_override_silences_warning(opened_agent, caplog, tmp_path):
    from agent.reload import reload_from_file

    running, path = opened_agent
    path.write_text(f"device: {{platform: linux, app_id: demo}}\nmonitors:\n  event: [language]\nstate_dir: {tmp_path / 'other'}\n")
    assert reload_from_file(running, path, state_dir_override=str(tmp_path / "state")) is True
    assert "state_dir changed" not in caplog.text


def test_reload_invalid_keeps_config(opened_agent, caplog):
    from agent.reload import reload_from_file

    running, path = opened_agent
    before = running.config
    path.write_text("device: {platform: linux, app_id: demo}\nmonitors:\n  event: [timezone, timezone]\n")
    assert reload_from_file(running, path) is False
    assert running.config is before
    assert f"Reload rejected: {path}:3:21: timezone is enabled twice" in caplog.text
