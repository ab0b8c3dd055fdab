"""ram: total physical memory in bytes, from /proc/meminfo."""

from agent.errors import Unavailable

# 64 PiB: more than any Linux machine can address today, so a larger figure is a corrupt file.
MAX_PLAUSIBLE_BYTES = 1 << 56


def ram(source):
    for line in source.read_text("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        if name == "MemTotal":
            return _bytes(rest)
    raise Unavailable("/proc/meminfo has no MemTotal line")


def _bytes(field):
    number, _, unit = field.strip().partition(" ")
    try:
        total = int(number) * (1024 if unit.strip() == "kB" else 1)
    except ValueError:
        raise Unavailable(f"/proc/meminfo has an unreadable MemTotal {field.strip()[:40]!r}") from None
    if not 0 < total <= MAX_PLAUSIBLE_BYTES:
        raise Unavailable(f"/proc/meminfo has an implausible MemTotal of {total} bytes")
    return total
