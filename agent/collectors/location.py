"""location: the device's position from GeoClue2 over the system bus.

GeoClue gives a position only to a client that keeps its bus connection,
so each source keeps one started GeoClue client in its state and reads
the client's current Location object on each capture. GeoClue must
allow the agent: /etc/geoclue/geoclue.conf needs a [device-agent]
section with allowed=true and system=true, or GeoClue denies the client.

The value is {"latitude": degrees, "longitude": degrees, "accuracy": metres}.
"""

import threading
import time

from agent.errors import CollectorError, Unavailable

SERVICE = "org.freedesktop.GeoClue2"
MANAGER_PATH = "/org/freedesktop/GeoClue2/Manager"
MANAGER = "org.freedesktop.GeoClue2.Manager"
CLIENT = "org.freedesktop.GeoClue2.Client"
LOCATION = "org.freedesktop.GeoClue2.Location"
DESKTOP_ID = "device-agent"
ACCURACY_EXACT = 8
# How long a capture waits for a new client's first fix, at most.
FIRST_FIX_WAIT = 5.0


def location(source):
    client = source.state.setdefault("geoclue", GeoClueClient())
    return client.position(source)


class GeoClueClient:
    """One started GeoClue client and the bus connection it lives on."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bus = None
        self.path = None

    def position(self, source):
        if not self.lock.acquire(timeout=source.bus_timeout):
            raise Unavailable("another read of the GeoClue location is still waiting for a reply")
        try:
            if self.bus is None:
                self.start(source)
            return self.read(source)
        except CollectorError:
            # A broken or denied client is dropped, so the next capture starts afresh.
            self.close()
            raise
        finally:
            self.lock.release()

    def start(self, source):
        bus = source.bus().open()
        try:
            (path,) = bus.call(SERVICE, MANAGER_PATH, MANAGER, "GetClient")
            bus.set_property(SERVICE, path, CLIENT, "DesktopId", "s", DESKTOP_ID)
            bus.set_property(SERVICE, path, CLIENT, "RequestedAccuracyLevel", "u", ACCURACY_EXACT)
            bus.call(SERVICE, path, CLIENT, "Start")
        except BaseException:
            bus.close()
            raise
        self.bus, self.path = bus, path

    def read(self, source):
        deadline = time.monotonic() + min(FIRST_FIX_WAIT, source.timeout / 2)
        while True:
            fix_path = self.bus.property(SERVICE, self.path, CLIENT, "Location")
            if fix_path not in ("", "/"):
                break
            if time.monotonic() >= deadline:
                raise Unavailable("GeoClue has no location fix yet")
            time.sleep(0.1)
        fix = self.bus.properties(SERVICE, fix_path, LOCATION)
        return {"latitude": fix["Latitude"], "longitude": fix["Longitude"], "accuracy": fix["Accuracy"]}

    def close(self):
        if self.bus is not None:
            self.bus.close()
        self.bus = self.path = None
