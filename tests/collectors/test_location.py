"""location from a fake GeoClue2, and geofence with hysteresis."""

import pytest

from agent.capture import capture
from agent.collectors import geofence as fences
from agent.collectors import location as geoclue
from agent.config import Geofence
from agent.samples import Status
from agent.sources.host import HostSettings

CLIENT_PATH = "/org/freedesktop/GeoClue2/Client/1"
FIX_PATH = "/org/freedesktop/GeoClue2/Location/1"
OFFICE = Geofence("office", 52.5200, 13.4050, 100.0)
DEPOT = Geofence("depot", 52.5300, 13.4050, 200.0)


class FakeGeoClue:
    def __init__(self, service, latitude=52.5200, longitude=13.4050, accuracy=10.0, denied=False):
        self.fake = service(geoclue.SERVICE)
        self.denied = denied
        self.fake.method(geoclue.MANAGER_PATH, geoclue.MANAGER, "GetClient", self.get_client)
        self.fake.method(CLIENT_PATH, geoclue.CLIENT, "Start", self.start)
        self.fake.method(CLIENT_PATH, geoclue.CLIENT, "Stop", lambda body: None)
        self.fake.add(CLIENT_PATH, geoclue.CLIENT, Location=("o", "/"), DesktopId=("s", ""), RequestedAccuracyLevel=("u", 0), Active=("b", False))
        self.move(latitude, longitude, accuracy)

    def get_client(self, body):
        return "o", (CLIENT_PATH,)

    def start(self, body):
        from dbus_services import ServiceError

        if self.denied:
            raise ServiceError("org.freedesktop.DBus.Error.AccessDenied", "'device-agent' disallowed, no agent for UID 0")
        self.fake.objects[CLIENT_PATH][geoclue.CLIENT]["Location"] = ("o", FIX_PATH)
        self.fake.objects[CLIENT_PATH][geoclue.CLIENT]["Active"] = ("b", True)

    def move(self, latitude, longitude, accuracy=10.0):
        self.fake.add(FIX_PATH, geoclue.LOCATION, Latitude=("d", latitude), Longitude=("d", longitude), Accuracy=("d", accuracy))


def test_location_from_geoclue(bus_host, service):
    fake = FakeGeoClue(service, 48.8584, 2.2945, 25.0)
    fake.fake.start()
    source = bus_host()

    sample = capture(source, "location")

    assert sample.value == {"latitude": 48.8584, "longitude": 2.2945, "accuracy": 25.0}
    client = fake.fake.objects[CLIENT_PATH][geoclue.CLIENT]
    assert client["DesktopId"] == ("s", "device-agent")
    assert client["RequestedAccuracyLevel"] == ("u", geoclue.ACCURACY_EXACT)


def test_location_client_reused(bus_host, service):
    fake = FakeGeoClue(service)
    fake.fake.start()
    source = bus_host()

    capture(source, "location")
    fake.move(1.0, 2.0)
    second = capture(source, "location")

    assert second.value["latitude"] == 1.0
    assert [call[2] for call in fake.fake.calls].count("GetClient") == 1


def test_emulate_geoclue_denies_agent(bus_host, service):
    FakeGeoClue(service, denied=True).fake.start()
    sample = capture(bus_host(), "location")

    assert sample.status is Status.DENIED
    assert "disallowed" in sample.reason


def test_emulate_no_fix_yet(bus_host, service):
    fake = FakeGeoClue(service)
    fake.fake.method(CLIENT_PATH, geoclue.CLIENT, "Start", lambda body: None)
    fake.fake.start()
    sample = capture(bus_host(timeout=1.0), "location")

    assert sample.status is Status.UNAVAILABLE
    assert "no location fix" in sample.reason


def test_geofence_without_fences(bus_host):
    sample = capture(bus_host(), "geofence")

    assert sample.status is Status.UNSUPPORTED
    assert "no geofences" in sample.reason


@pytest.mark.parametrize(
    ("latitude", "expected"),
    [
        (52.5200, ["office"]),
        (52.5300, ["depot"]),
        (52.5290, ["depot"]),
        (52.5250, []),
        (52.6000, []),
    ],
)
def test_geofence_inside_fences(bus_host, service, latitude, expected):
    FakeGeoClue(service, latitude=latitude).fake.start()
    source = bus_host(settings=HostSettings(geofences=(OFFICE, DEPOT)))

    assert capture(source, "geofence").value == expected


def test_geofence_hysteresis_on_exit(bus_host, service):
    fake = FakeGeoClue(service)
    fake.fake.start()
    source = bus_host(settings=HostSettings(geofences=(OFFICE,)))
    metres = 1 / 111_195  # degrees of latitude per metre, near enough

    entered = capture(source, "geofence").value
    fake.move(OFFICE.latitude + 110 * metres, OFFICE.longitude, accuracy=5.0)
    near_edge = capture(source, "geofence").value
    fake.move(OFFICE.latitude + 125 * metres, OFFICE.longitude, accuracy=5.0)
    left = capture(source, "geofence").value
    fake.move(OFFICE.latitude + 110 * metres, OFFICE.longitude, accuracy=5.0)
    not_back_yet = capture(source, "geofence").value

    assert entered == ["office"]
    assert near_edge == ["office"]
    assert left == []
    assert not_back_yet == []


def test_geofence_imprecise_fix_does_not_exit(bus_host, service):
    fake = FakeGeoClue(service)
    fake.fake.start()
    source = bus_host(settings=HostSettings(geofences=(OFFICE,)))
    metres = 1 / 111_195

    capture(source, "geofence")
    fake.move(OFFICE.latitude + 400 * metres, OFFICE.longitude, accuracy=500.0)

    assert capture(source, "geofence").value == ["office"]


def test_distance_known_pair():
    # Berlin Brandenburg Gate to Paris Eiffel Tower is about 878 km.
    distance = fences.distance_metres(52.5163, 13.3777, 48.8584, 2.2945)

    assert 870_000 < distance < 885_000


def test_against_where_am_i():
    import shutil

    if shutil.which("/usr/libexec/geoclue-2.0/demos/where-am-i") is None:
        pytest.skip("GeoClue's where-am-i demo is not installed (Debian package geoclue-2-demo)")
    from agent.sources.host import HostSource

    assert capture(HostSource(), "location").status in (Status.OK, Status.DENIED, Status.UNAVAILABLE)
