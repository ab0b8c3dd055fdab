"""Cellular attributes read from ModemManager over the system bus.

telco, mcc, mnc, roaming, imei, imsi, cell_id and signal_strength. Modems
are listed through ModemManager's ObjectManager on every capture, so a
modem at any index is found, and one plugged in after start is found on
the next capture. With several modems, the one furthest along (connected,
then registered, then enabled) wins, ties going to the lowest index.
"""

import re
from dataclasses import dataclass, field

from agent.errors import NotSupported, Unavailable

SERVICE = "org.freedesktop.ModemManager1"
ROOT = "/org/freedesktop/ModemManager1"
MODEM = "org.freedesktop.ModemManager1.Modem"
MODEM_3GPP = "org.freedesktop.ModemManager1.Modem.Modem3gpp"
LOCATION = "org.freedesktop.ModemManager1.Modem.Location"
SIM = "org.freedesktop.ModemManager1.Sim"

# MMModemState values.
STATE_ENABLED = 6
STATE_REGISTERED = 8
# MMModem3gppRegistrationState values: home, home SMS only, home CSFB not preferred; and the roaming three.
HOME_STATES = {1, 6, 9}
ROAMING_STATES = {5, 7, 10}
# MMModemLocationSource bit for the "MCC,MNC,LAC,CI,TAC" string.
LOCATION_3GPP_LAC_CI = 1

_INDEX = re.compile(r"/(\d+)$")


@dataclass
class Modem:
    path: str
    modem: dict
    gsm: dict = field(default_factory=dict)

    @property
    def index(self):
        match = _INDEX.search(self.path)
        return int(match.group(1)) if match else 0

    @property
    def state(self):
        return self.modem.get("State", 0)

    @property
    def registered(self):
        return self.state >= STATE_REGISTERED


def telco(source):
    modem = _registered_modem(source)
    name = modem.gsm.get("OperatorName", "").strip()
    if not name:
        raise Unavailable(f"modem {modem.index} is registered but ModemManager reports no operator name")
    return name


def mcc(source):
    return operator_code(_registered_modem(source))[0]


def mnc(source):
    return operator_code(_registered_modem(source))[1]


def roaming(source):
    modem = _registered_modem(source)
    state = modem.gsm.get("RegistrationState")
    if state in ROAMING_STATES:
        return True
    if state in HOME_STATES:
        return False
    raise Unavailable(f"modem {modem.index} has 3GPP registration state {state}, neither home nor roaming")


def imei(source):
    modem = _chosen_modem(source)
    for candidate in (modem.gsm.get("Imei", ""), modem.modem.get("EquipmentIdentifier", "")):
        if re.fullmatch(r"\d{15}", candidate.strip()):
            return candidate.strip()
    raise NotSupported(f"modem {modem.index} reports no 15-digit IMEI; it may be a CDMA modem, which has an MEID")


def imsi(source):
    modem = _chosen_modem(source)
    sim_path = modem.modem.get("Sim", "/")
    if sim_path in ("", "/"):
        raise Unavailable(f"modem {modem.index} has no SIM card")
    with source.bus() as bus:
        value = bus.property(SERVICE, sim_path, SIM, "Imsi").strip()
    if not re.fullmatch(r"\d{6,15}", value):
        raise Unavailable(f"the SIM card in modem {modem.index} reports no IMSI yet")
    return value


def cell_id(source):
    """Return the serving cell's identity as a decimal string, from the 3GPP location."""
    modem = _registered_modem(source)
    with source.bus() as bus:
        (locations,) = bus.call(SERVICE, modem.path, LOCATION, "GetLocation")
    variant = locations.get(LOCATION_3GPP_LAC_CI)
    if variant is None:
        raise Unavailable(f"modem {modem.index} has 3GPP location disabled; enable it with: mmcli -m {modem.index} --location-enable-3gpp")
    fields = variant[1].split(",")
    # ModemManager gives LAC, CI and TAC as hexadecimal strings.
    if len(fields) < 4 or not re.fullmatch(r"[0-9A-Fa-f]+", fields[3]) or int(fields[3], 16) == 0:
        raise Unavailable(f"modem {modem.index} reports no serving cell")
    return str(int(fields[3], 16))


def signal_strength(source):
    modem = _chosen_modem(source)
    if modem.state < STATE_ENABLED:
        raise Unavailable(f"modem {modem.index} is not enabled, so it measures no signal")
    quality, _recent = modem.modem.get("SignalQuality", (0, False))
    return int(quality)


def operator_code(modem):
    """Split the MCCMNC operator code into (mcc, mnc) strings, keeping leading zeros.

    A 5-digit code has a 2-digit MNC and a 6-digit code a 3-digit one, so
    "310410" is 310/410 and "26201" is 262/01.
    """
    code = modem.gsm.get("OperatorCode", "").strip()
    if not re.fullmatch(r"\d{5,6}", code):
        raise Unavailable(f"modem {modem.index} reports no operator code (MCCMNC) for its network")
    return code[:3], code[3:]


def modems(source):
    """Return every modem ModemManager manages, most usable first."""
    with source.bus() as bus:
        objects = bus.managed_objects(SERVICE, ROOT)
    found = [Modem(path, interfaces[MODEM], interfaces.get(MODEM_3GPP, {})) for path, interfaces in objects.items() if MODEM in interfaces]
    found.sort(key=lambda modem: (-modem.state, modem.index))
    return found


def _chosen_modem(source):
    found = modems(source)
    if not found:
        raise NotSupported("ModemManager manages no modem")
    return found[0]


def _registered_modem(source):
    modem = _chosen_modem(source)
    if not modem.registered:
        raise Unavailable(f"modem {modem.index} is not registered with a network (state {modem.state})")
    return modem
