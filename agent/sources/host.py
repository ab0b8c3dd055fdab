"""HostSource: the real Linux machine, read through files under a root path.

Tests and diagnosis point the root at a fake tree of /etc, /sys, /proc and
/run, the way psutil and Telegraf fake the kernel with data.
"""

import os
from pathlib import Path

from agent.errors import AccessDenied, Unavailable

_MISSING = object()


class HostSource:
    def __init__(self, root="/", environ=None):
        self.root = Path(root)
        self.environ = dict(os.environ if environ is None else environ)

    @property
    def is_real_root(self):
        return self.root.resolve() == Path("/")

    def path(self, name):
        """Return the host path under the root: path('/etc/timezone')."""
        return self.root / str(name).lstrip("/")

    def read_text(self, name, fallback=_MISSING):
        """Return a file's text, stripped; the fallback when it is missing, if one is given."""
        try:
            return self.path(name).read_text(encoding="utf-8", errors="replace").strip()
        except (FileNotFoundError, NotADirectoryError):
            if fallback is not _MISSING:
                return fallback
            raise Unavailable(f"{name} not found") from None
        except PermissionError:
            raise AccessDenied(f"permission denied reading {name}") from None
        except OSError as error:
            # Some sysfs attributes raise EIO or ENODATA while a device is absent.
            if fallback is not _MISSING:
                return fallback
            raise Unavailable(f"cannot read {name}: {error.strerror}") from None

    def list_dir(self, name):
        """Return the sorted entry names of a directory, or [] when it does not exist."""
        try:
            return sorted(os.listdir(self.path(name)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except PermissionError:
            raise AccessDenied(f"permission denied listing {name}") from None

    def machine_id(self):
        return self.read_text("/etc/machine-id", fallback="") or None

    def os_name(self):
        """Return PRETTY_NAME from os-release, the name the distribution gives itself."""
        for name in ("/etc/os-release", "/usr/lib/os-release"):
            for line in self.read_text(name, fallback="").splitlines():
                key, _, value = line.partition("=")
                if key == "PRETTY_NAME":
                    return value.strip().strip("\"'")
        return "Linux"

    def collect(self, attribute):
        """Read one attribute's current value, or raise a CollectorError saying why there is none."""
        from agent.collectors import collector_for

        return collector_for(attribute)(self)
