"""The watcher interface the scheduler relies on.

A watcher owns one file descriptor. When it is readable the scheduler
calls read(), which drains it and returns the attributes that may have
changed. Watchers never capture values themselves: the scheduler
debounces their notifications and the change tracker drops captures
whose value did not change, so a spurious notification costs one read.
"""

import abc


class WatcherError(Exception):
    """A watcher could not start; its attributes are polled instead."""


class Watcher(abc.ABC):
    name = "watcher"
    # Every attribute this kind of watcher can notice changes of.
    watchable = frozenset()

    def __init__(self, attributes):
        # The attributes this watcher reports, out of those it can watch.
        self.attributes = frozenset(attributes)

    @abc.abstractmethod
    def fileno(self):
        """Return the descriptor that becomes readable when something changed."""

    @abc.abstractmethod
    def read(self):
        """Drain pending notifications; return the set of attributes that may have changed.

        Raise OSError when the descriptor failed for good.
        """

    @abc.abstractmethod
    def close(self):
        """Release the descriptor."""
