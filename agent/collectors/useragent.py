"""user_agent: the agent's name and version, the operating system and the architecture.

Shaped like an HTTP User-Agent: "device-agent/0.1.0 (Debian GNU/Linux 12
(bookworm); Linux 6.1.0-18-amd64; x86_64)".
"""

import os

from agent import __version__


def user_agent(source):
    kernel = source.read_text("/proc/sys/kernel/osrelease", fallback="") or os.uname().release
    # NOTE: the architecture is the running kernel's even under another root.
    return f"device-agent/{__version__} ({source.os_name()}; Linux {kernel}; {os.uname().machine})"
