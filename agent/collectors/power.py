"""battery_level: charge of the system batteries in percent.

Only batteries that power the system count: peripherals (a mouse, a
keyboard, a game pad) report scope Device or carry a HID driver's name
and are skipped, and so are AC adapters and UPSes, whatever their names,
by their type. Empty bays (present 0) and phantom batteries that report
no capacity are skipped too. Several batteries are weighted by their
full energy. A machine without a battery has no value, never 0 %.

Without /sys/class/power_supply, as in some containers, UPower's display
device is read over the system bus instead.
"""

from agent.errors import CollectorError, NotSupported, Unavailable

_SUPPLIES = "/sys/class/power_supply"
# Drivers of HID peripherals name their supplies like this, some without a scope attribute.
_PERIPHERAL_PREFIXES = ("hid-", "hidpp_battery", "wacom_battery", "ps-controller-battery", "sony_controller_battery", "nintendo_switch_controller_battery")

UPOWER = "org.freedesktop.UPower"
DISPLAY_DEVICE = "/org/freedesktop/UPower/devices/DisplayDevice"
UPOWER_DEVICE = "org.freedesktop.UPower.Device"
UPOWER_BATTERY = 2


def battery_level(source):
    if not source.path(_SUPPLIES).is_dir():
        return _upower_level(source)
    batteries = [name for name in source.list_dir(_SUPPLIES) if _is_system_battery(source, name)]
    if not batteries:
        raise NotSupported("no system battery in /sys/class/power_supply")
    readings = [reading for reading in (_battery_reading(source, name) for name in batteries) if reading]
    if not readings:
        raise Unavailable(f"batteries {', '.join(batteries)} report no charge")
    return weighted_level(readings)


def weighted_level(readings):
    """Return the level of (percent, full energy or None) readings, weighted by energy when all have one."""
    if all(energy for _, energy in readings):
        total = sum(energy for _, energy in readings)
        return round(sum(percent * energy for percent, energy in readings) / total, 1)
    return round(sum(percent for percent, _ in readings) / len(readings), 1)


def _is_system_battery(source, name):
    base = f"{_SUPPLIES}/{name}"
    if source.read_text(f"{base}/type", fallback="") != "Battery":
        return False
    if source.read_text(f"{base}/scope", fallback="System") == "Device" or name.startswith(_PERIPHERAL_PREFIXES):
        return False
    # Some firmware lists an empty bay as a battery with present=0.
    return source.read_text(f"{base}/present", fallback="1") != "0"


def _battery_reading(source, name):
    """Return (percent, full energy in µWh or None) for one battery, or None for a phantom one."""
    base = f"{_SUPPLIES}/{name}"

    # energy_* files are in µWh; charge_* files in µAh, converted with the design voltage.
    energy_now = _number(source.read_text(f"{base}/energy_now", fallback=""))
    energy_full = _number(source.read_text(f"{base}/energy_full", fallback=""))
    if energy_now is not None and energy_full:
        return min(100.0, 100.0 * energy_now / energy_full), energy_full
    charge_now = _number(source.read_text(f"{base}/charge_now", fallback=""))
    charge_full = _number(source.read_text(f"{base}/charge_full", fallback=""))
    voltage = _number(source.read_text(f"{base}/voltage_min_design", fallback=""))
    if charge_now is not None and charge_full:
        energy = charge_full * voltage / 1e6 if voltage else None
        return min(100.0, 100.0 * charge_now / charge_full), energy

    # Capacity alone, which may exceed 100 on miscalibrated batteries.
    capacity = _number(source.read_text(f"{base}/capacity", fallback=""))
    if capacity is None:
        return None
    if capacity == 0 and energy_full == 0 and source.read_text(f"{base}/status", fallback="Unknown") == "Unknown":
        # A phantom battery: a firmware entry with no cell behind it.
        return None
    return min(100.0, max(0.0, capacity)), None


def _upower_level(source):
    try:
        with source.bus() as bus:
            device = bus.properties(UPOWER, DISPLAY_DEVICE, UPOWER_DEVICE)
    except CollectorError as error:
        raise Unavailable(f"/sys/class/power_supply is missing and UPower cannot be read: {error.reason}") from None
    if device.get("Type") != UPOWER_BATTERY or not device.get("IsPresent"):
        raise NotSupported("UPower reports no system battery")
    return round(min(100.0, float(device.get("Percentage", 0.0))), 1)


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None
