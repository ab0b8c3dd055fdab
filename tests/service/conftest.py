"""Fixtures for the service tests: a notify socket, agent configs and agent subprocesses."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEY = "service-test-key"
APP_ID = "service-app"


class NotifyListener:
    """A unix datagram socket that records what a process sends to $NOTIFY_SOCKET."""

    def __init__(self, address):
        self.address = address
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + address[1:] if address.startswith("@") else address)
        self.messages = []

    def receive(self, timeout):
        """Return the next message as a dict of fields, or None after timeout seconds."""
        self.socket.settimeout(timeout)
        try:
            data = self.socket.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        self.messages.append(fields)
        return fields

    def wait_for(self, field, timeout=15.0):
        """Receive until a message carries field; return that message, failing after timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message is not None and field in message:
                return message
        raise AssertionError(f"no {field} within {timeout} s; received {self.messages}")

    def fields(self):
        return [field for message in self.messages for field in message]

    def close(self):
        self.socket.close()


@pytest.fixture
def notify_socket(tmp_path):
    listener = NotifyListener(str(tmp_path / "notify.sock"))
    yield listener
    listener.close()


@pytest.fixture
def abstract_notify_socket():
    listener = NotifyListener(f"@device-agent-test-{os.getpid()}-{time.monotonic_ns()}")
    yield listener
    listener.close()


def write_config(directory, store_url=None, interval="10s"):
    """Write an agent.yaml for a linux device into directory; return its path."""
    directory = Path(directory)
    store = "store:\n  flush_interval: 1s\n"
    if store_url is not None:
        key_file = directory / "profile-key"
        key_file.write_text(KEY + "\n")
        key_file.chmod(0o600)
        store += f"  url: {store_url}\n  key_file: {key_file}\n  connect_timeout: 1s\n  read_timeout: 2s\n"
    config = directory / "agent.yaml"
    config.write_text(
        "device:\n"
        "  platform: linux\n"
        f"  app_id: {APP_ID}\n"
        "  device_id: device-under-test\n"
        "monitors:\n"
        "  one_time: [ram]\n"
        "  event: [timezone]\n"
        "  interval:\n"
        f"    battery_level: {interval}\n"
        f"{store}"
        f"state_dir: {directory / 'state'}\n"
    )
    return config


def agent_environment(**extra):
    environ = {key: value for key, value in os.environ.items() if key not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
    environ["PYTHONPATH"] = str(REPO)
    environ.update(extra)
    return environ


def start_agent(config, *arguments, **environment):
    """Start `device-agent run` on config in a subprocess, with stderr captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(config), *arguments],
        cwd=REPO,
        env=agent_environment(**environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_agent(process, signum=signal.SIGTERM, timeout=30.0):
    """Send signum and wait; return (exit status, stderr)."""
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"the agent did not exit within {timeout} s of {signum!r}:\n{stderr}") from None
    return process.returncode, stderr


@pytest.fixture
def agents():
    """Agent subprocesses started by a test; any still running at the end are killed."""
    started = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def run_cli(*arguments, **environment):
    return subprocess.run(
        [sys.executable, "-m", "agent", *arguments],
        cwd=REPO,
        env=agent_environment(**environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
