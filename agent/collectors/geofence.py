"""geofence: the names of the configured geofences the device is inside.

Fences come from the geofences section of agent.yaml. Hysteresis keeps a
position near an edge from flapping: the device enters a fence when its
position is within the radius, and leaves only when the position is more
than a margin beyond it. The margin is the largest of 20 m, a tenth of
the radius and the fix's accuracy, so an imprecise fix never makes the
device leave. Enter and exit events are the changes of this list.
"""

import math

from agent.collectors.location import location
from agent.errors import NotSupported

EARTH_RADIUS_METRES = 6_371_008.8
MIN_MARGIN_METRES = 20.0


def geofence(source):
    fences = source.settings.geofences
    if not fences:
        raise NotSupported("no geofences are configured; add them under geofences in agent.yaml")
    position = location(source)
    inside = source.state.setdefault("geofence.inside", set())
    for fence in fences:
        distance = distance_metres(position["latitude"], position["longitude"], fence.latitude, fence.longitude)
        margin = max(MIN_MARGIN_METRES, 0.1 * fence.radius, position.get("accuracy") or 0.0)
        if distance <= fence.radius:
            inside.add(fence.name)
        elif distance > fence.radius + margin:
            inside.discard(fence.name)
    # A fence removed from the config no longer counts.
    inside.intersection_update(fence.name for fence in fences)
    return sorted(inside)


def distance_metres(latitude1, longitude1, latitude2, longitude2):
    """Return the great-circle distance between two points by the haversine formula."""
    phi1, phi2 = math.radians(latitude1), math.radians(latitude2)
    delta_phi = phi2 - phi1
    delta_lambda = math.radians(longitude2 - longitude1)
    a = math.sin(delta_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(delta_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(a))
