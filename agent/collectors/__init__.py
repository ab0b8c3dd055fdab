"""The registry of host collectors, keyed by attribute name.

A collector is a function taking a HostSource and returning the value, or
raising a CollectorError subclass that says why there is none.
"""

from agent.collectors import (
    display,
    foreground,
    geofence,
    identity,
    language,
    location,
    memory,
    modem,
    network,
    power,
    radios,
    session,
    storage,
    timezone,
    useragent,
)
from agent.errors import NotSupported

COLLECTORS = {
    "timezone": timezone.timezone,
    "language": language.language,
    "ram": memory.ram,
    "internal_storage": storage.internal_storage,
    "device_ip": network.device_ip,
    "connect_type": network.connect_type,
    "battery_level": power.battery_level,
    "telco": modem.telco,
    "mcc": modem.mcc,
    "mnc": modem.mnc,
    "roaming": modem.roaming,
    "imei": modem.imei,
    "imsi": modem.imsi,
    "cell_id": modem.cell_id,
    "signal_strength": modem.signal_strength,
    "location": location.location,
    "geofence": geofence.geofence,
    "idle_screen": session.idle_screen,
    "time_spent": session.time_spent,
    "list_account": session.list_account,
    "foreground": foreground.foreground,
    "foreground_app": foreground.foreground_app,
    "email_id": foreground.email_id,
    "resolution": display.resolution,
    "external_storage": storage.external_storage,
    "bluetooth_support": radios.bluetooth_support,
    "nfc_support": radios.nfc_support,
    "phone_mode": radios.phone_mode,
    "user_agent": useragent.user_agent,
    "wifi_mac_address": identity.wifi_mac_address,
    "serial_number": identity.serial_number,
}


def collector_for(attribute):
    collector = COLLECTORS.get(attribute)
    if collector is None:
        return _no_collector(attribute)
    return collector


def _no_collector(attribute):
    def collect(source):
        raise NotSupported(f"this agent version has no collector for {attribute} on Linux")

    return collect
