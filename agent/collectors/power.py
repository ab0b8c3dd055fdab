"""battery_level: charge of the system batteries in percent.

Only batteries that power the system count: peripherals (a mouse, a
keyboard) report scope Device and are skipped. Several batteries are
weighted by their energy. A machine without one has no value, never 0 %.
"""

from agent.errors import NotSupported, Unavailable

_SUPPLIES = "/sys/class/power_supply"


def battery_level(source):
    batteries = [name for name in source.list_dir(_SUPPLIES) if _is_system_battery(source, name)]
    if not batteries:
        raise NotSupported("no system battery in /sys/class/power_supply")
    readings = [reading for reading in (_battery_reading(source, name) for name in batteries) if reading]
    if not readings:
        raise Unavailable(f"batteries {', '.join(batteries)} report no charge")
    total_full = sum(full for _, full in readings)
    if total_full <= 0:
        return round(sum(percent for percent, _ in readings) / len(readings), 1)
    return round(sum(percent * full for percent, full in readings) / total_full, 1)


def _is_system_battery(source, name):
    base = f"{_SUPPLIES}/{name}"
    if source.read_text(f"{base}/type", fallback="") != "Battery":
        return False
    if source.read_text(f"{base}/scope", fallback="System") == "Device":
        return False
    # Some firmware lists an empty bay as a battery with present=0.
    return source.read_text(f"{base}/present", fallback="1") != "0"


def _battery_reading(source, name):
    """Return (percent, full energy or 0) for one battery, or None."""
    base = f"{_SUPPLIES}/{name}"
    for now_file, full_file in (("energy_now", "energy_full"), ("charge_now", "charge_full")):
        now = _number(source.read_text(f"{base}/{now_file}", fallback=""))
        full = _number(source.read_text(f"{base}/{full_file}", fallback=""))
        if now is not None and full:
            return min(100.0, 100.0 * now / full), full
    capacity = _number(source.read_text(f"{base}/capacity", fallback=""))
    if capacity is None:
        return None
    return min(100.0, capacity), 0


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None
