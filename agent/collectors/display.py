"""resolution: the primary display's resolution as WIDTHxHEIGHT pixels.

Read from DRM connectors in /sys/class/drm whose status is "connected":
the first line of a connector's modes file is the monitor's preferred
mode. A built-in panel (eDP, LVDS, DSI) is the primary display, else the
first connected connector by name. Without DRM, the first framebuffer's
virtual_size is used.
"""

import re

from agent.errors import NotSupported, Unavailable

DRM = "/sys/class/drm"
BUILT_IN_PANELS = ("eDP", "LVDS", "DSI")
_MODE = re.compile(r"^(\d+)x(\d+)")


def resolution(source):
    connectors = connected_connectors(source)
    # NOTE: modes lists the monitor's preferred mode first; a compositor may run another mode.
    for connector in connectors:
        for line in source.read_text(f"{DRM}/{connector}/modes", fallback="").splitlines():
            match = _MODE.match(line.strip())
            if match:
                return f"{int(match.group(1))}x{int(match.group(2))}"
    size = source.read_text("/sys/class/graphics/fb0/virtual_size", fallback="")
    width, _, height = size.partition(",")
    if width.isdigit() and height.isdigit() and int(width) and int(height):
        return f"{int(width)}x{int(height)}"
    if connectors:
        raise Unavailable(f"display {connectors[0]} is connected but lists no mode")
    raise NotSupported("no connected display in /sys/class/drm and no framebuffer")


def connected_connectors(source):
    """Return connected DRM connectors, built-in panels first, then by name."""
    connectors = [name for name in source.list_dir(DRM) if "-" in name and source.read_text(f"{DRM}/{name}/status", fallback="") == "connected"]
    return sorted(connectors, key=lambda name: (not _is_built_in(name), name))


def _is_built_in(connector):
    # Connector names are card<N>-<type>-<index>, such as card0-eDP-1.
    kind = connector.split("-", 1)[1]
    return kind.startswith(BUILT_IN_PANELS)
