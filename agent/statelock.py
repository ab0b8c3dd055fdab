"""One agent per state directory, enforced with a lock file."""

import fcntl
import os
from pathlib import Path

from agent.errors import AgentError

LOCK_NAME = "agent.lock"


def lock_state_dir(state_dir):
    """Create the state directory (mode 0700) and lock it; return the open lock file.

    Two agents on one state directory would capture the same monitors and
    start two embedded stores on one database. The kernel drops the lock
    when the process dies, so a crash leaves no stale lock behind.
    """
    path = Path(state_dir)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = open(path / LOCK_NAME, "a+")
    except OSError as error:
        raise AgentError(f"cannot use state directory {path}: {error.strerror or error}; make it a writable directory or pass another with --state-dir") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise AgentError(f"another device-agent (pid {holder}) is running with state directory {path}; stop it or pass another --state-dir") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
