"""bluetooth_support, nfc_support and phone_mode: the device's radios.

Bluetooth is supported when an hciN device is in /sys/class/bluetooth,
a bluetooth rfkill switch exists, or BlueZ lists an adapter. The rfkill
switch counts because a hard-blocked adapter may have no hci device. NFC
is supported when an nfcN device is in /sys/class/nfc. No adapter is
the value False, not an error.

Linux has no phone mode. The agent's definition follows Android's
airplane mode: "airplane" when every radio rfkill knows is blocked, by
software or by a hardware switch, and "normal" otherwise.
"""

from agent.errors import NotSupported, Unavailable

RFKILL = "/sys/class/rfkill"
BLUEZ = "org.bluez"
BLUEZ_ADAPTER = "org.bluez.Adapter1"


def bluetooth_support(source):
    if any(name.startswith("hci") for name in source.list_dir("/sys/class/bluetooth")):
        return True
    if "bluetooth" in (switch["type"] for switch in rfkill_switches(source)):
        return True
    return _bluez_has_adapter(source)


def nfc_support(source):
    return any(name.startswith("nfc") for name in source.list_dir("/sys/class/nfc"))


def phone_mode(source):
    switches = rfkill_switches(source)
    if not switches:
        raise NotSupported("no radio in /sys/class/rfkill, so there is no airplane mode to read")
    if all(switch["soft"] or switch["hard"] for switch in switches):
        return "airplane"
    return "normal"


def rfkill_switches(source):
    """Return [{"name", "type", "soft", "hard"}] for each rfkill switch."""
    switches = []
    for entry in source.list_dir(RFKILL):
        base = f"{RFKILL}/{entry}"
        kind = source.read_text(f"{base}/type", fallback="")
        if not kind:
            continue
        switches.append({
            "name": source.read_text(f"{base}/name", fallback=entry),
            "type": kind,
            "soft": source.read_text(f"{base}/soft", fallback="0") == "1",
            "hard": source.read_text(f"{base}/hard", fallback="0") == "1",
        })
    return switches


def _bluez_has_adapter(source):
    try:
        with source.bus() as bus:
            objects = bus.managed_objects(BLUEZ, "/")
    except (Unavailable, NotSupported):
        return False
    return any(BLUEZ_ADAPTER in interfaces for interfaces in objects.values())
