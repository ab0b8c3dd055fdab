"""Polling: the watcher of last resort.

An event-based monitor with no native watch is captured every
poll_interval, and the change tracker emits only values that changed.
A monitor with a native watch is still polled, slowly, in case a change
slipped past the watch (an inotify queue overflow, a file changed
through a bind mount, a D-Bus service that restarted).
"""

# How often an attribute with a working native watch is read anyway.
RESYNC_SECONDS = 3600.0


def poll_period(monitor, watched):
    """Return the seconds between polls of an event-based monitor."""
    if watched:
        return max(monitor.poll_interval, RESYNC_SECONDS)
    return monitor.poll_interval
