"""device-agent config check, config schema and monitors, run as the real command line."""

import json
import re
from pathlib import Path

import pytest

from agent.catalog import Kind, load_catalog

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"


def test_check_prints_monitors(run_agent):
    result = run_agent("config", "check", EXAMPLES / "android.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{EXAMPLES / 'android.yaml'}: valid"
    assert lines[1] == "device: platform android, SDK 2.11.4 (catalog row: SDK < 2.12), app device-agent-demo"
    table = lines[lines.index(next(line for line in lines if line.startswith("ATTRIBUTE"))):]
    assert re.split(r"\s{2,}", table[0]) == ["ATTRIBUTE", "KIND", "INTERVAL", "POLL", "PRIVACY", "PERSONAL"]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in table[1:]}
    assert rows["serial_number"] == ["serial_number", "one-time", "-", "-", "hash", "yes"]
    assert rows["timezone"] == ["timezone", "event-based", "-", "30s", "send"]
    assert rows["battery_level"] == ["battery_level", "interval-based", "5m", "-", "send"]
    assert len(rows) == 12


def test_check_json(run_agent):
    result = run_agent("config", "check", "--json", EXAMPLES / "linux.yaml")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["device"]["platform"] == "linux"
    device_ip = next(monitor for monitor in summary["monitors"] if monitor["attribute"] == "device_ip")
    assert device_ip == {"attribute": "device_ip", "kind": "event", "interval": None, "poll_interval": 30.0, "jitter": 0.0, "privacy": "hash", "personal": True}


def test_check_lists_every_problem(run_agent, tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("device: {platform: linux, app_id: demo}\nmonitors:\n  event: [timezon]\n  interval: {battery_level: 0}\n")
    result = run_agent("config", "check", path)
    assert result.returncode == 78
    assert result.stderr.splitlines() == [
        f"{path}:3:11: unknown attribute 'timezon' (did you mean 'timezone'?); run 'device-agent monitors' to list them",
        f"{path}:4:29: interval of battery_level is 0; it must be longer than zero, at least 10s",
        f"device-agent: 2 problems in {path}; the agent would not start",
    ]


def test_check_defaults_to_etc_path(run_agent):
    result = run_agent("config", "check")
    assert "/etc/device-agent/agent.yaml" in (result.stdout.splitlines() or result.stderr.splitlines())[0]


def test_check_warns_plain_personal_data(run_agent, tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("device: {platform: linux, app_id: demo}\nmonitors:\n  one_time: [imei, serial_number: {privacy: hash}, ram]\n")
    result = run_agent("config", "check", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "personal data sent as plain values: imei; set privacy: hash or omit to keep them on the device"


def test_schema_is_json_with_catalog_attributes(run_agent):
    result = run_agent("config", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    catalog = load_catalog()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["device", "monitors"]
    monitors = schema["properties"]["monitors"]["properties"]
    offered = {kind: {name for rows in catalog.rows.values() for row in rows for name in row.attributes(kind)} for kind in Kind}
    assert set(monitors["interval"]["propertyNames"]["enum"]) == offered[Kind.INTERVAL]
    one_time_names = {choice["const"] for choice in monitors["one_time"]["items"]["anyOf"][0]["anyOf"]}
    assert one_time_names == offered[Kind.ONE_TIME]
    assert schema["properties"]["device"]["properties"]["platform"]["enum"] == ["android", "ios", "linux"]


@pytest.mark.parametrize("name", ["linux.yaml", "android.yaml", "ios.yaml"])
def test_schema_accepts_examples(name):
    from agent.configschema import config_schema
    from agent.yamlsource import load_document

    assert schema_errors(config_schema(), load_document(EXAMPLES / name).data) == []


@pytest.mark.parametrize(
    "document, error",
    [
        ({"device": {"platform": "ios", "app_id": "a"}, "monitors": {}}, "/device: missing sdk_version"),
        ({"device": {"platform": "linux", "app_id": "a"}, "monitors": {"event": ["timezon"]}}, "/monitors/event/0: matches no choice"),
        ({"device": {"platform": "linux", "app_id": "a"}, "monitors": {"interval": {"battery_level": "5 minutes"}}}, "/monitors/interval/battery_level: matches no choice"),
        ({"device": {"platform": "linux", "app_id": "a"}, "monitors": {}, "geofences": [{"name": "x", "latitude": 91, "longitude": 0, "radius": 1}]}, "/geofences/0/latitude: above maximum"),
        ({"device": {"platform": "linux", "app_id": "a"}, "monitors": {}, "stor": {}}, ": unknown key stor"),
    ],
)
def test_schema_rejects(document, error):
    from agent.configschema import config_schema

    assert error in schema_errors(config_schema(), document)


def schema_errors(schema, value, path=""):
    """Check value against the subset of JSON Schema that config_schema uses; return the errors."""
    errors = []

    # choices and types end the check at the first mismatch
    if "anyOf" in schema and all(schema_errors(choice, value, path) for choice in schema["anyOf"]):
        return [f"{path}: matches no choice"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: not {schema['const']}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: not in enum"]
    types = schema.get("type")
    if types is not None:
        python_types = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float)}
        names = types if isinstance(types, list) else [types]
        if isinstance(value, bool) or not any(isinstance(value, python_types[name]) for name in names):
            return [f"{path}: not {types}"]

    # value constraints
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match pattern")
    if isinstance(value, (int, float)):
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum")
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: not above exclusiveMinimum")

    # containers and conditions
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(schema["items"], item, f"{path}/{index}")
    if isinstance(value, dict):
        errors += object_errors(schema, value, path)
    for rule in schema.get("allOf", []):
        if not schema_errors(rule["if"], value, path):
            errors += schema_errors(rule["then"], value, path)
    return errors


def object_errors(schema, value, path):
    errors = [f"{path}: missing {key}" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if "propertyNames" in schema:
            errors += schema_errors(schema["propertyNames"], key, f"{path}/{key}")
        if key in properties:
            errors += schema_errors(properties[key], item, f"{path}/{key}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unknown key {key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            errors += schema_errors(schema["additionalProperties"], item, f"{path}/{key}")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(f"{path}: too many keys")
    return errors


def test_monitors_table_marks_personal(run_agent):
    result = run_agent("monitors")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["ATTRIBUTE", "android SDK >= 2.12", "android SDK < 2.12", "ios SDK >= 2.12", "ios SDK < 2.12", "linux", "PERSONAL", "TYPE"]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in lines[1:]}
    assert rows["imei"] == ["imei", "-", "one-time", "-", "-", "one-time", "yes", "string"]
    assert rows["timezone"] == ["timezone", "event-based", "event-based", "event-based", "event-based", "event-based", "string"]
    assert len(rows) == len(load_catalog().attributes)


def test_monitors_one_row(run_agent):
    result = run_agent("monitors", "--platform", "ios", "--sdk-version", "3.0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["ATTRIBUTE", "ios SDK >= 2.12", "PERSONAL", "TYPE"]
    assert sorted(line.split()[0] for line in lines[1:]) == ["geofence", "language", "location", "telco", "timezone"]


def test_monitors_prerelease_row(run_agent):
    result = run_agent("monitors", "--platform", "android", "--sdk-version", "2.12.0-beta.1")
    assert re.split(r"\s{2,}", result.stdout.splitlines()[0])[1] == "android SDK < 2.12"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--platform", "windows"), "device-agent: unknown platform 'windows'; use one of android, ios, linux"),
        (("--sdk-version", "two"), "device-agent: --sdk-version 'two' is not a version"),
    ],
)
def test_monitors_rejects(run_agent, args, message):
    result = run_agent("monitors", *args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_check_linux_row_text(run_agent):
    result = run_agent("config", "check", EXAMPLES / "linux.yaml")
    assert result.stdout.splitlines()[1] == "device: platform linux (catalog row: any SDK version), app device-agent-demo"


def test_shipped_schema_up_to_date(run_agent):
    shipped = Path(__file__).parents[2] / "config" / "agent.schema.json"
    # Regenerate with: device-agent config schema > config/agent.schema.json
    assert json.loads(shipped.read_text()) == json.loads(run_agent("config", "schema").stdout)


def test_check_names_key_source(run_agent, tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("device: {platform: linux, app_id: demo}\nmonitors: {}\nstore: {url: 'https://profiles.example.com', key_env: FLEET_KEY}\n")
    result = run_agent("config", "check", path)
    assert result.returncode == 0, result.stderr
    assert "store: https://profiles.example.com (profile key from $FLEET_KEY or the systemd credential profile-key)" in result.stdout.splitlines()


def test_monitors_json(run_agent):
    result = run_agent("monitors", "--platform", "android", "--sdk-version", "2.11.4", "--json")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["platform"], row["sdk"]) == ("android", "< 2.12")
    kinds = {entry["attribute"]: entry["kind"] for entry in row["attributes"]}
    assert len(kinds) == 31
    assert kinds["signal_strength"] == "interval"
    imei = next(entry for entry in row["attributes"] if entry["attribute"] == "imei")
    assert imei == {"attribute": "imei", "kind": "one_time", "type": "string", "unit": "15 digits", "personal": True, "description": "IMEI of the modem."}
