"""ram: total physical memory in bytes, from /proc/meminfo."""

from agent.errors import Unavailable


def ram(source):
    for line in source.read_text("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        if name == "MemTotal":
            number, _, unit = rest.strip().partition(" ")
            return int(number) * (1024 if unit.strip() == "kB" else 1)
    raise Unavailable("/proc/meminfo has no MemTotal line")
