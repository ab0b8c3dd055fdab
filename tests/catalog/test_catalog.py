"""The shipped catalog against the Webex Connect SDK device-attribute table, and SDK version matching."""

import pytest

from agent.catalog import CATALOG_PATH, Kind, Version, load_catalog
from agent.errors import CatalogError

# The SDK table, one row per platform and SDK generation, in the table's own order.
# "2.12 and higher" is probed with 2.12.0 and "2.11.x and lower" with 2.11.4.
REFERENCE = {
    ("ios", "2.12.0"): {
        Kind.ONE_TIME: [],
        Kind.EVENT: ["telco", "timezone", "location", "language", "geofence"],
        Kind.INTERVAL: [],
    },
    ("android", "2.12.0"): {
        Kind.ONE_TIME: [],
        Kind.EVENT: ["telco", "location", "idle_screen", "timezone", "foreground", "geofence", "language"],
        Kind.INTERVAL: [],
    },
    ("ios", "2.11.4"): {
        Kind.ONE_TIME: ["resolution", "internal_storage", "ram", "bluetooth_support", "user_agent"],
        Kind.EVENT: [
            "telco", "foreground_app", "mcc", "roaming", "connect_type", "location",
            "mnc", "timezone", "device_ip", "time_spent", "language", "geofence",
        ],
        Kind.INTERVAL: ["battery_level"],
    },
    ("android", "2.11.4"): {
        Kind.ONE_TIME: [
            "resolution", "email_id", "internal_storage", "wifi_mac_address", "list_account", "bluetooth_support",
            "user_agent", "imei", "external_storage", "ram", "serial_number", "nfc_support",
        ],
        Kind.EVENT: [
            "connect_type", "telco", "imsi", "mcc", "time_spent", "roaming", "language", "cell_id",
            "location", "idle_screen", "phone_mode", "mnc", "timezone", "foreground", "device_ip", "geofence",
        ],
        Kind.INTERVAL: ["signal_strength", "foreground_app", "battery_level"],
    },
}

CELLS = [(platform, sdk, kind, attribute) for (platform, sdk), row in REFERENCE.items() for kind, names in row.items() for attribute in names]

PERSONAL = {"imei", "imsi", "serial_number", "email_id", "list_account", "wifi_mac_address", "location", "cell_id", "device_ip", "geofence"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize("platform, sdk, kind, attribute", CELLS)
def test_reference_cell(catalog, platform, sdk, kind, attribute):
    assert catalog.offer(platform, sdk).kind_of(attribute) is kind


@pytest.mark.parametrize("platform, sdk", sorted(REFERENCE))
@pytest.mark.parametrize("kind", list(Kind))
def test_reference_row_has_nothing_more(catalog, platform, sdk, kind):
    assert sorted(catalog.offer(platform, sdk).attributes(kind)) == sorted(REFERENCE[platform, sdk][kind])


def test_reference_table_size():
    # 5 + 7 + 18 + 31 cells, counted in the SDK table.
    assert len(CELLS) == 61


@pytest.mark.parametrize(
    "sdk, row_minimum",
    [
        ("2.11", None),
        ("2.11.0", None),
        ("2.11.9", None),
        ("2.11.10", None),
        ("1.0", None),
        ("2.12.0-beta.1", None),
        ("2.12.0-rc.2", None),
        ("2.12", "2.12"),
        ("2.12.0", "2.12"),
        ("2.12.1", "2.12"),
        ("2.13.0-beta.1", "2.12"),
        ("3.0", "2.12"),
        ("10.0.0", "2.12"),
    ],
)
@pytest.mark.parametrize("platform", ["ios", "android"])
def test_sdk_version_selects_row(catalog, platform, sdk, row_minimum):
    row = catalog.offer(platform, sdk)
    if row_minimum is None:
        assert row.sdk.min is None
        assert str(row.sdk.max_below) == "2.12"
    else:
        assert str(row.sdk.min) == row_minimum
        assert row.sdk.max_below is None


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("2.11.9", "2.11.10"),
        ("2.9", "2.11"),
        ("2.12.0-beta.1", "2.12.0"),
        ("2.12.0-beta.1", "2.12.0-beta.2"),
        ("2.12.0-beta.2", "2.12.0-beta.10"),
        ("2.12.0-alpha", "2.12.0-beta"),
        ("2.12.0-1", "2.12.0-alpha"),
        ("2.11.99", "2.12.0-beta.1"),
        ("2.12.0", "3.0"),
    ],
)
def test_version_order(lower, higher):
    assert Version.parse(lower) < Version.parse(higher)
    assert not Version.parse(higher) < Version.parse(lower)


def test_version_trailing_zeros_equal():
    assert Version.parse("2.12") == Version.parse("2.12.0")
    assert Version.parse("3") == Version.parse("3.0.0")


def test_version_ignores_build_metadata():
    assert Version.parse("2.12.0+build.5") == Version.parse("2.12.0")


@pytest.mark.parametrize("text", ["", "v2.12", "2.x", "2..12", "2.12.", "latest", "2.12.0-", "2.12.0-beta..1", "2.12.0+"])
def test_version_rejects(text):
    with pytest.raises(ValueError, match="is not a version"):
        Version.parse(text)


def test_linux_needs_no_sdk_version(catalog):
    assert catalog.offer("linux", None).platform == "linux"
    assert catalog.covers_missing_version("linux")
    assert not catalog.covers_missing_version("ios")


def test_linux_offers_every_attribute(catalog):
    assert sorted(catalog.offer("linux").kinds) == sorted(catalog.attributes)


@pytest.mark.parametrize(
    "attribute, kind",
    [
        ("ram", Kind.ONE_TIME),
        ("serial_number", Kind.ONE_TIME),
        ("timezone", Kind.EVENT),
        ("language", Kind.EVENT),
        ("device_ip", Kind.EVENT),
        ("external_storage", Kind.EVENT),
        ("battery_level", Kind.INTERVAL),
        ("time_spent", Kind.INTERVAL),
    ],
)
def test_linux_default_kind(catalog, attribute, kind):
    assert catalog.offer("linux").kind_of(attribute) is kind


def test_every_collector_has_a_catalog_attribute(catalog):
    from agent.collectors import COLLECTORS

    assert set(COLLECTORS) <= set(catalog.attributes)


def test_reference_attributes_are_catalog_attributes(catalog):
    named = {attribute for _, _, _, attribute in CELLS}
    assert named == set(catalog.attributes)


@pytest.mark.parametrize("attribute", sorted(PERSONAL))
def test_personal_attribute(catalog, attribute):
    assert catalog.attributes[attribute].personal is True


def test_other_attributes_not_personal(catalog):
    assert {name for name, spec in catalog.attributes.items() if spec.personal} == PERSONAL


def test_attribute_specs_complete(catalog):
    for name, spec in catalog.attributes.items():
        assert spec.type in ("string", "integer", "number", "boolean", "list", "object"), name
        assert spec.description.endswith("."), name


def test_uncovered_version_names_ranges(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "attributes:\n"
        "  timezone: {type: string, unit: null, personal: false, description: \"Zone.\"}\n"
        "platforms:\n"
        "  ios:\n"
        "    - sdk: {min: \"2.12\"}\n"
        "      event: [timezone]\n"
        "    - sdk: {min: \"1.5\", max_below: \"2.0\"}\n"
        "      event: [timezone]\n"
    )
    catalog = load_catalog(path)
    with pytest.raises(CatalogError) as raised:
        catalog.offer("ios", "2.11.4")
    assert str(raised.value) == "platform 'ios' has no catalog row for SDK version 2.11.4; covered ranges: >= 2.12; >= 1.5, < 2.0"


def test_config_reports_uncovered_version(tmp_path):
    from agent.config import load_config
    from agent.errors import ConfigError

    catalog_path = tmp_path / "catalog.yaml"
    catalog_path.write_text(
        "attributes:\n"
        "  timezone: {type: string, unit: null, personal: false, description: \"Zone.\"}\n"
        "platforms:\n"
        "  ios:\n"
        "    - sdk: {min: \"2.12\"}\n"
        "      event: [timezone]\n"
    )
    config_path = tmp_path / "agent.yaml"
    config_path.write_text('device:\n  platform: ios\n  sdk_version: "2.11"\n  app_id: demo\nmonitors:\n  event: [timezone]\n')
    with pytest.raises(ConfigError) as raised:
        load_config(config_path, load_catalog(catalog_path))
    assert str(raised.value) == f"{config_path}:3:16: platform 'ios' has no catalog row for SDK version 2.11; covered ranges: >= 2.12"


@pytest.mark.parametrize(
    "attribute_line, message",
    [
        ('  timezone: {type: string, unit: null, personal: false, description: Zone, region.}\n', "it needs exactly"),
        ('  timezone: {type: text, unit: null, personal: false, description: "Zone."}\n', "has type 'text'"),
        ('  timezone: {type: string, unit: null, personal: "no", description: "Zone."}\n', "has personal 'no'"),
        ('  timezone: {type: string, unit: null, personal: false, description: "Zone."}\n  timezone: {type: string, unit: null, personal: false, description: "Zone."}\n', "duplicate key"),
    ],
)
def test_invalid_catalog_rejected(tmp_path, attribute_line, message):
    path = tmp_path / "catalog.yaml"
    path.write_text("attributes:\n" + attribute_line + "platforms:\n  linux:\n    - sdk: {}\n      event: [timezone]\n")
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_packaged_catalog_is_config_catalog():
    from pathlib import Path

    assert CATALOG_PATH.resolve() == (Path(__file__).parents[2] / "config" / "catalog.yaml").resolve()


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path / "catalog.yaml")
    assert str(raised.value) == f"invalid catalog: {tmp_path / 'catalog.yaml'}:1:1: file not found"
