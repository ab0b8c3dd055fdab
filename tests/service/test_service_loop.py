"""The run loop in this process, around a stand-in agent, for the paths a subprocess cannot reach."""

import os
import signal
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.errors import ConfigError
from agent.service import EXIT_OK, EXIT_UNHEALTHY, Service
from agent.status import MonitorStatusBook


class StandInAgent:
    """Records what the service calls; each hook may be replaced by a test."""

    def __init__(self):
        self.calls = []
        self.device = SimpleNamespace(device_id="device-1")
        self.config = SimpleNamespace(monitors=())
        self.outbox = SimpleNamespace(depth=lambda: 0)
        self.sender = SimpleNamespace(last_delivery=None, last_error=None)
        self.monitor_status = MonitorStatusBook()
        self.db = SimpleNamespace(path=Path("/nonexistent/agent.db"), query=lambda sql: [(1,)], transaction=None)
        self._sender_thread = None
        self._stopped = threading.Event()
        self.on_open = lambda: None
        self.on_start = lambda: None

    def open(self):
        self.calls.append("open")
        self.on_open()

    def start(self):
        self.calls.append("start")
        self.on_start()

    def stop(self, flush_timeout):
        self.calls.append(f"stop {flush_timeout:g}")
        return True

    def wait(self, timeout):
        return self._stopped.wait(timeout)


class RecordingNotifier:
    def __init__(self):
        self.messages = []

    def notify(self, **fields):
        self.messages.append(fields)
        return True

    def ready(self, status=None):
        return self.notify(READY=1)

    def reloading(self, status=None):
        return self.notify(RELOADING=1)

    def stopping(self, status=None):
        return self.notify(STOPPING=1)

    def watchdog(self):
        return self.notify(WATCHDOG=1)

    def status(self, text):
        return self.notify(STATUS=text)

    def kinds(self):
        return [next(iter(message)) for message in self.messages if "STATUS" not in message]


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def signal_later(*signums, delay=0.2):
    """Send each signal to this process, delay seconds apart, from a timer thread."""

    def send():
        for signum in signums:
            threading.Event().wait(delay)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def service_for(agent, reload=None, watchdog_usec=None):
    environ = {"WATCHDOG_USEC": str(watchdog_usec)} if watchdog_usec else {}
    notifier = RecordingNotifier()
    service = Service(agent, reload=reload, stop_timeout=3, notifier=notifier, environ=environ)
    service._write_status = lambda stopped=False: None
    return service, notifier


def test_reload_hook_between_reloading_ready():
    agent = StandInAgent()
    notifier_at_reload = []
    service, notifier = service_for(agent, reload=lambda reloaded: notifier_at_reload.append(notifier.kinds()[-1]))
    signal_later(signal.SIGHUP, signal.SIGTERM)

    status = service.run()

    assert status == EXIT_OK
    assert notifier_at_reload == ["RELOADING"]
    assert notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]
    assert agent.calls == ["open", "start", "stop 3"]


def test_failed_reload_keeps_running(caplog):
    agent = StandInAgent()

    def reject(reloaded):
        raise ConfigError(["agent.yaml:4:3: unknown attribute 'battery'"])

    service, notifier = service_for(agent, reload=reject)
    signal_later(signal.SIGHUP, signal.SIGTERM)

    status = service.run()

    assert status == EXIT_OK
    assert notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]
    assert "Reload failed, so the agent keeps running with the previous config" in caplog.text
    assert "unknown attribute 'battery'" in caplog.text


def test_reload_unavailable_logged(caplog):
    agent = StandInAgent()
    service, notifier = service_for(agent, reload=None)
    signal_later(signal.SIGHUP, signal.SIGTERM)

    service.run()

    assert notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]
    assert "Reload on SIGHUP is not available" in caplog.text


def test_ended_sender_thread_exits_1(caplog):
    agent = StandInAgent()
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    agent.on_start = lambda: setattr(agent, "_sender_thread", ended)
    service, notifier = service_for(agent, watchdog_usec=600_000)

    status = service.run()

    assert status == EXIT_UNHEALTHY
    assert "WATCHDOG" not in notifier.kinds()
    assert notifier.kinds() == ["READY", "STOPPING"]
    assert agent.calls == ["open", "start", "stop 3"]
    assert "Stopping device device-1 because the sender thread has ended" in caplog.text


def test_watchdog_pings_while_healthy():
    agent = StandInAgent()
    service, notifier = service_for(agent, watchdog_usec=300_000)
    signal_later(signal.SIGTERM, delay=0.5)

    service.run()

    assert notifier.kinds().count("WATCHDOG") >= 3


def test_stop_during_open_skips_ready():
    agent = StandInAgent()
    agent.on_open = lambda: os.kill(os.getpid(), signal.SIGTERM)
    service, notifier = service_for(agent)

    status = service.run()

    assert status == EXIT_OK
    assert notifier.kinds() == ["STOPPING"]
    assert agent.calls == ["open", "stop 3"]


def test_ended_scheduler_thread_exits_1(caplog):
    agent = StandInAgent()
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    agent.on_start = lambda: setattr(agent, "_scheduler", SimpleNamespace(running=True, _thread=ended))
    service, notifier = service_for(agent, watchdog_usec=600_000)

    status = service.run()

    assert status == EXIT_UNHEALTHY
    assert "because the scheduler thread has ended" in caplog.text
