"""internal_storage: total size in bytes of the file system holding the root."""

import os

from agent.errors import AccessDenied, Unavailable


def internal_storage(source):
    try:
        stats = os.statvfs(source.root)
    except PermissionError:
        raise AccessDenied(f"permission denied reading file system size of {source.root}") from None
    except OSError as error:
        raise Unavailable(f"cannot read file system size of {source.root}: {error.strerror}") from None
    return stats.f_blocks * stats.f_frsize
