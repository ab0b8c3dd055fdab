"""Real rtnetlink in a network namespace the test creates."""

import select

import pytest

from agent.sources.host import HostSource
from agent.watchers.netlink import NetlinkWatcher
from tests.monitors.netns import NamespaceUnavailable, NetworkNamespace

ATTRIBUTES = {"device_ip", "connect_type"}


@pytest.fixture
def namespace():
    try:
        namespace = NetworkNamespace()
    except NamespaceUnavailable as error:
        pytest.skip(str(error))
    yield namespace
    namespace.delete()


@pytest.fixture
def watcher(namespace):
    watcher = namespace.inside(lambda: NetlinkWatcher(HostSource("/"), ATTRIBUTES))
    yield watcher
    watcher.close()


def changes(watcher, timeout=2.0):
    readable, _, _ = select.select([watcher], [], [], timeout)
    return watcher.read() if readable else set()


def settle(watcher):
    """Drain what earlier steps caused, so the next check gets one change only."""
    while changes(watcher, timeout=0.1):
        pass


def test_link_added(namespace, watcher):
    namespace.add_link("eth0")
    assert changes(watcher) == ATTRIBUTES


def test_address_added_and_removed(namespace, watcher):
    namespace.add_link("eth0")
    settle(watcher)

    namespace.ip("address", "add", "192.0.2.10/24", "dev", "eth0")
    assert changes(watcher) == ATTRIBUTES
    settle(watcher)

    namespace.ip("address", "del", "192.0.2.10/24", "dev", "eth0")
    assert changes(watcher) == ATTRIBUTES


def test_ipv6_address_added(namespace, watcher):
    namespace.add_link("eth0")
    settle(watcher)
    namespace.ip("-6", "address", "add", "2001:db8::10/64", "dev", "eth0", "nodad")
    assert changes(watcher) == ATTRIBUTES


def test_default_route_changed(namespace, watcher):
    namespace.add_link("eth0")
    namespace.ip("address", "add", "192.0.2.10/24", "dev", "eth0")
    settle(watcher)
    namespace.ip("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
    assert changes(watcher) == ATTRIBUTES


def test_host_changes_not_seen(namespace, watcher):
    # The watcher lives in the test's namespace: a second namespace's changes stay invisible.
    other = NetworkNamespace()
    try:
        other.add_link("eth0")
        assert changes(watcher, timeout=0.2) == set()
    finally:
        other.delete()
