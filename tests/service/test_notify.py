"""sd_notify over a real unix datagram socket, and the watchdog environment."""

import pytest

from agent.notify import Notifier, watchdog_interval


def test_ready_over_path_socket(notify_socket):
    notifier = Notifier(notify_socket.address)

    sent = notifier.ready(status="Running")
    message = notify_socket.receive(timeout=1)

    assert sent is True
    assert message == {"READY": "1", "STATUS": "Running"}


def test_abstract_socket_name(abstract_notify_socket):
    notifier = Notifier(abstract_notify_socket.address)

    notifier.watchdog()

    assert abstract_notify_socket.receive(timeout=1) == {"WATCHDOG": "1"}


def test_reloading_carries_monotonic_time(notify_socket):
    notifier = Notifier(notify_socket.address)

    notifier.reloading()
    message = notify_socket.receive(timeout=1)

    assert message["RELOADING"] == "1"
    assert int(message["MONOTONIC_USEC"]) > 0


def test_stopping_message(notify_socket):
    Notifier(notify_socket.address).stopping(status="Stopping")

    assert notify_socket.receive(timeout=1) == {"STOPPING": "1", "STATUS": "Stopping"}


def test_without_socket_does_nothing():
    notifier = Notifier.from_environment({})

    assert notifier.enabled is False
    assert notifier.ready() is False


def test_unsupported_address_disables(caplog):
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})

    assert notifier.enabled is False
    assert "vsock:2:1234" in caplog.text


def test_missing_socket_logged_once(tmp_path, caplog):
    notifier = Notifier(str(tmp_path / "absent.sock"))

    first = notifier.watchdog()
    second = notifier.watchdog()

    assert first is False
    assert second is False
    assert caplog.text.count("Cannot send WATCHDOG") == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval(environ, expected):
    assert watchdog_interval(environ, pid=4242) == expected
