"""Personal attributes leave the device as the monitor's privacy option sets, and are never logged."""

import hashlib
import hmac
import json
import logging

from agent.capture import apply_privacy, capture
from agent.catalog import load_catalog
from agent.collectors import COLLECTORS

SERIAL = "PF3A9XK2"
MAC = "3c:a9:f4:12:34:56"
KEY = b"k" * 32


def personal_tree():
    return {
        "/sys/class/dmi/id/product_serial": SERIAL + "\n",
        "/sys/class/net/wlan0/address": MAC + "\n",
        "/sys/class/net/wlan0/wireless": None,
        "/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n",
    }


def test_personal_attributes_flagged_in_catalog():
    personal = {name for name, spec in load_catalog().attributes.items() if spec.personal}

    assert {"location", "geofence", "device_ip", "email_id", "list_account", "wifi_mac_address", "imei", "imsi", "serial_number", "cell_id"} <= personal


def test_hash_is_keyed_digest(host):
    sample = capture(host(personal_tree()), "serial_number")
    hashed = apply_privacy(sample, "hash", KEY)
    expected = hmac.new(KEY, json.dumps(SERIAL).encode(), hashlib.sha256).hexdigest()

    assert hashed.value == f"hmac-sha256:{expected}"
    assert SERIAL not in hashed.value


def test_omit_and_send(host):
    sample = capture(host(personal_tree()), "wifi_mac_address")

    assert apply_privacy(sample, "omit", KEY) is None
    assert apply_privacy(sample, "send", KEY).value == MAC


def test_nothing_personal_logged(host, monkeypatch, caplog):
    def broken(source):
        raise ValueError(f"invalid serial {SERIAL!r}")

    monkeypatch.setitem(COLLECTORS, "imei", broken)
    source = host(personal_tree())

    with caplog.at_level(logging.DEBUG):
        for attribute in sorted(COLLECTORS):
            capture(source, attribute)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "imei" in logged
    assert SERIAL not in logged
    assert MAC not in logged
    assert "alice" not in logged
