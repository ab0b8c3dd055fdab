"""Watchers: what notices that an event-based monitor's attribute may have changed.

Native watches are tried in order; an attribute none of them covers, or
whose watcher fails to start, is polled at its monitor's poll_interval.
"""

import logging

from agent.watchers.base import Watcher, WatcherError
from agent.watchers.dbus import DBusWatcher
from agent.watchers.inotify import InotifyWatcher
from agent.watchers.netlink import NetlinkWatcher

log = logging.getLogger("agent.watchers")

NATIVE_WATCHERS = (InotifyWatcher, NetlinkWatcher, DBusWatcher)

__all__ = ["NATIVE_WATCHERS", "Watcher", "WatcherError", "open_watchers"]


def open_watchers(source, attributes):
    """Start the native watchers the attributes need; return (watchers, attributes left to polling)."""
    remaining = set(attributes)
    watchers = []
    if not hasattr(source, "path"):
        # A simulated source has no files or links to watch.
        return watchers, remaining
    for factory in NATIVE_WATCHERS:
        requested = remaining & factory.watchable
        if not requested or not _applies(factory, source):
            continue
        try:
            watchers.append(factory(source, requested))
        except WatcherError as error:
            log.warning("The %s watch for %s did not start (%s); polling them at their poll_interval instead", factory.name, ", ".join(sorted(requested)), error)
            continue
        remaining -= requested
    return watchers, remaining


def _applies(factory, source):
    # Network state is per namespace, not per root directory, so a source
    # reading a fake root gets no netlink watch.
    if factory is NetlinkWatcher:
        return bool(getattr(source, "is_real_root", False))
    return True
