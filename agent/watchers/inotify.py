"""inotify on /etc for timezone and language.

Tools replace /etc/localtime, /etc/timezone and the locale files by
rename or by unlink and create (timedatectl, ln -sf, localectl), so a
watch on the file itself dies with the old inode. A watch on the
directories catches every way of replacing them. /etc/default needs its own
watch, because inotify does not recurse.
"""

import ctypes
import ctypes.util
import errno
import os
import struct

from agent.watchers.base import Watcher, WatcherError

# From <sys/inotify.h>.
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR

_EVENT_HEADER = struct.Struct("iIII")

# The attribute each watched file name holds, per directory.
WATCHED_NAMES = {
    "/etc": {"localtime": "timezone", "timezone": "timezone", "locale.conf": "language"},
    "/etc/default": {"locale": "language"},
}

ATTRIBUTES = frozenset(attribute for names in WATCHED_NAMES.values() for attribute in names.values())


class InotifyWatcher(Watcher):
    name = "inotify"
    watchable = ATTRIBUTES

    def __init__(self, source, attributes):
        super().__init__(set(attributes) & ATTRIBUTES)
        self._source = source
        self._libc = _libc()
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            error = ctypes.get_errno()
            raise WatcherError(f"inotify_init1 failed: {os.strerror(error)}")
        # watch descriptor -> directory name as in WATCHED_NAMES
        self._directories = {}
        try:
            self._add_watch("/etc", required=True)
            self._add_watch("/etc/default", required=False)
        except WatcherError:
            os.close(self._fd)
            raise

    def fileno(self):
        return self._fd

    def read(self):
        changed = set()
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return changed
            changed |= self._parse(data)

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _parse(self, data):
        changed = set()
        offset = 0
        while offset + _EVENT_HEADER.size <= len(data):
            wd, mask, _cookie, length = _EVENT_HEADER.unpack_from(data, offset)
            offset += _EVENT_HEADER.size
            name = data[offset:offset + length].split(b"\0", 1)[0].decode(errors="replace")
            offset += length
            changed |= self._handle(wd, mask, name)
        return changed

    def _handle(self, wd, mask, name):
        if mask & IN_Q_OVERFLOW:
            # Events were dropped, so any watched file may have changed.
            return set(self.attributes)
        directory = self._directories.get(wd)
        if mask & IN_IGNORED:
            self._directories.pop(wd, None)
            return self._requested(WATCHED_NAMES.get(directory, {}).values())
        if directory == "/etc" and name == "default" and mask & IN_ISDIR:
            # /etc/default appeared or was replaced: watch the new directory.
            if mask & (IN_CREATE | IN_MOVED_TO):
                self._add_watch("/etc/default", required=False)
            return self._requested(WATCHED_NAMES["/etc/default"].values())
        attribute = WATCHED_NAMES.get(directory, {}).get(name)
        return self._requested([attribute]) if attribute else set()

    def _requested(self, attributes):
        return {attribute for attribute in attributes if attribute in self.attributes}

    def _add_watch(self, directory, required):
        path = os.fsencode(self._source.path(directory))
        wd = self._libc.inotify_add_watch(self._fd, path, WATCH_MASK)
        if wd < 0:
            error = ctypes.get_errno()
            if required or error not in (errno.ENOENT, errno.ENOTDIR):
                raise WatcherError(f"cannot watch {self._source.path(directory)}: {os.strerror(error)}")
            return
        self._directories[wd] = directory


def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        raise WatcherError("this C library has no inotify")
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    return libc
