"""The corpus of bad configs under bad/: for each file, the position of its problem and the message text."""

from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError

BAD = Path(__file__).with_name("bad")

# file name: (line:column, a fragment of the message), for the first problem reported.
EXPECTED = {
    "alias_bomb.yaml": ("1:4", "anchors and aliases (& and *) are not allowed"),
    "alias_in_monitors.yaml": ("5:10", "anchors and aliases (& and *) are not allowed"),
    "app_id_list.yaml": ("3:11", "app_id must be a string, not a list"),
    "batch_size_over_limit.yaml": ("7:15", "batch_size 500 must be a whole number from 1 to 100"),
    "batch_size_text.yaml": ("7:15", "batch_size 'ten' must be a whole number from 1 to 100"),
    "comments_only.yaml": ("1:1", "the file is empty; a config needs at least device and monitors"),
    "control_character.yaml": ("3:13", "control character #x0007 is not allowed"),
    "deep_nesting.yaml": ("1:35", "nested more than 32 levels deep"),
    "device_missing.yaml": ("1:1", "device is missing; add a device mapping with at least platform and app_id"),
    "duplicate_key.yaml": ("4:3", "duplicate key 'platform'; it is first set on line 2"),
    "empty.yaml": ("1:1", "the file is empty; a config needs at least device and monitors"),
    "enabled_twice.yaml": ("5:31", "timezone is enabled twice (also as event-based); keep one"),
    "event_scalar.yaml": ("5:10", "monitors.event must be a list of attributes, such as [timezone, language], not a string"),
    "flush_interval_zero.yaml": ("7:19", "store.flush_interval is 0; it must be longer than zero"),
    "geofence_monitor_without_geofences.yaml": ("4:1", "the geofence monitor is enabled but no geofences are defined"),
    "geofence_name_twice.yaml": ("8:12", "geofence name 'depot' is used twice (also entry 1)"),
    "heartbeat_below_floor.yaml": ("6:12", "heartbeat is '30s'; it must be at least 1m"),
    "interval_above_ceiling.yaml": ("6:20", "interval of battery_level is '60d'; it must be at most 30d"),
    "interval_as_list.yaml": ("5:13", "monitors.interval must be a mapping from attribute to interval, such as 'battery_level: 5m', not a list"),
    "interval_below_floor.yaml": ("6:20", "interval of battery_level is '5s'; it must be at least 10s"),
    "interval_every_missing.yaml": ("6:20", "interval of battery_level is missing; write one such as 30s, 15m or 1h"),
    "interval_infinite.yaml": ("6:20", "interval of battery_level is inf; write a finite duration"),
    "interval_missing.yaml": ("6:19", "interval of battery_level is missing"),
    "interval_negative.yaml": ("6:20", "interval of battery_level is '-5m'; it must not be negative"),
    "interval_unparsable.yaml": ("6:20", "'5 minutes' is not a duration; write a number with a unit: ms, s, m, h or d"),
    "interval_zero.yaml": ("6:20", "interval of battery_level is '0s'; it must be longer than zero, at least 10s"),
    "invalid_utf8.yaml": ("3:14", "invalid UTF-8 (byte 0xe9); save the file as UTF-8"),
    "invalid_yaml_syntax.yaml": ("6:1", "invalid YAML: expected ',' or ']'"),
    "jitter_not_shorter.yaml": ("6:40", "jitter of battery_level is '2m'; it must be shorter than the interval (1m)"),
    "key_env_invalid.yaml": ("7:12", "key_env 'PROFILE-KEY' is not an environment variable name"),
    "key_file_missing.yaml": ("8:13", "key file '/nonexistent/device-agent/profile-key' not found; create it with the profile key and mode 0600"),
    "latitude_out_of_range.yaml": ("7:29", "latitude 91 is out of range; it must lie from -90 to 90 degrees"),
    "latitude_text.yaml": ("7:29", "latitude must be a number from -90 to 90 degrees, not 'north'"),
    "log_level_invalid.yaml": ("7:10", "level 'verbose' is not one of debug, info, warning, error"),
    "longitude_out_of_range.yaml": ("9:16", "longitude -181 is out of range; it must lie from -180 to 180 degrees"),
    "max_outbox_events_too_small.yaml": ("7:22", "max_outbox_events 10 must be a whole number of events, at least 100"),
    "monitor_entry_number.yaml": ("5:11", "a monitor entry must be an attribute name or 'name: {options}', not 42"),
    "monitors_list.yaml": ("5:3", "monitors must be a mapping, not a list"),
    "monitors_missing.yaml": ("1:1", "monitors is missing; add a monitors mapping with one_time, event or interval"),
    "not_offered_on_new_sdk.yaml": ("6:14", "ram is not offered on platform android SDK 2.12.0; it is offered on android SDK < 2.12 as one-time; ios SDK < 2.12 as one-time"),
    "not_offered_on_platform.yaml": ("6:21", "device_ip is not offered on platform ios SDK 2.12.0; it is offered on android SDK < 2.12 as event-based; ios SDK < 2.12 as event-based"),
    "poll_interval_below_floor.yaml": ("6:33", "poll_interval of timezone is '500ms'; it must be at least 1s"),
    "privacy_invalid.yaml": ("6:28", "privacy 'hashed' of device_ip is not one of send, hash, omit (did you mean 'hash'?)"),
    "python_tag.yaml": ("6:12", "the tag !!python/object/apply:os.system is not allowed"),
    "radius_zero.yaml": ("7:60", "radius 0 would never contain the device"),
    "root_list.yaml": ("1:1", "the top level must be a mapping with keys device, monitors"),
    "root_scalar.yaml": ("1:1", "the top level must be a mapping with keys device, monitors, geofences, store, state_dir, logging, heartbeat, not a string"),
    "sdk_version_float.yaml": ("3:16", 'sdk_version 2.10 is read by YAML as a number (2.1); quote it: sdk_version: "2.10"'),
    "sdk_version_missing.yaml": ("2:3", "device.sdk_version is missing; platform ios needs the SDK version the device runs"),
    "sdk_version_not_version.yaml": ("3:16", "sdk_version '2.x' is not a version"),
    "state_dir_relative.yaml": ("6:12", "state_dir 'var/lib/device-agent' must be an absolute path"),
    "store_url_ftp.yaml": ("7:8", "store url 'ftp://profiles.example.com' must be an http:// or https:// URL with a host"),
    "store_url_ftp_with_password.yaml": ("7:8", "store url must not contain a user name or password"),
    "store_url_invalid_port.yaml": ("7:8", "store url is invalid: Port out of range 0-65535"),
    "store_url_with_password.yaml": ("7:8", "store url must not contain a user name or password"),
    "store_url_without_host.yaml": ("7:8", "store url 'https://' must be an http:// or https:// URL with a host"),
    "tag_mismatch.yaml": ("5:3", "invalid value 'event' for the tag !!int"),
    "tag_without_value.yaml": ("1:1", "invalid value '' for the tag !!int"),
    "tab_indent.yaml": ("2:1", "invalid YAML: found character '\\t' that cannot start any token"),
    "two_documents.yaml": ("6:1", "invalid YAML: but found another document"),
    "unknown_attribute.yaml": ("5:11", "unknown attribute 'timezon' (did you mean 'timezone'?)"),
    "unknown_attribute_interval.yaml": ("6:5", "unknown attribute 'battery' (did you mean 'battery_level'?)"),
    "unknown_device_key.yaml": ("3:3", "unknown key 'sdk'; allowed here: platform, sdk_version, app_id, user_id, customer_id, device_id, email, app_unit (did you mean 'sdk_version'?)"),
    "unknown_kind.yaml": ("5:3", "unknown key 'events'; allowed here: one_time, event, interval (did you mean 'event'?)"),
    "unknown_monitor_option.yaml": ("6:18", "unknown key 'interval'; allowed here: privacy, poll_interval (did you mean 'poll_interval'?)"),
    "unknown_platform.yaml": ("2:13", "unknown platform 'androd'; use one of android, ios, linux (did you mean 'android'?)"),
    "unknown_top_key.yaml": ("4:1", "unknown key 'monitor'; allowed here: device, monitors, geofences, store, state_dir, logging, heartbeat (did you mean 'monitors'?)"),
    "wrong_kind_ios_old_sdk.yaml": ("7:5", "foreground_app is event-based on platform ios SDK 2.11.4, not interval-based; move it under monitors.event"),
    "wrong_kind_linux.yaml": ("5:11", "battery_level is interval-based on platform linux, not event-based; move it under monitors.interval"),
}

# A sample run through the real command line: exit status 78, the message, no traceback.
SUBPROCESS_SAMPLE = (
    "alias_bomb.yaml",
    "empty.yaml",
    "invalid_utf8.yaml",
    "python_tag.yaml",
    "sdk_version_float.yaml",
    "unknown_attribute.yaml",
    "wrong_kind_linux.yaml",
    "not_offered_on_platform.yaml",
)


def problems_of(path):
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return raised.value.problems


def test_corpus_matches_table():
    assert sorted(path.name for path in BAD.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_config_message(name):
    position, fragment = EXPECTED[name]
    problem = next(problem for problem in problems_of(BAD / name) if fragment in problem.message)
    assert f"{problem.line}:{problem.column}" == position
    assert problem.file == str(BAD / name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_config_reports_its_own_problem_only(name):
    # Each file contains one mistake, so any other problem would be a misleading follow-on error.
    extra = [str(problem) for problem in problems_of(BAD / name) if EXPECTED[name][1] not in problem.message]
    assert extra == []


@pytest.mark.parametrize("name", ["store_url_with_password.yaml", "store_url_ftp_with_password.yaml"])
def test_url_password_not_repeated(name):
    assert "secret" in (BAD / name).read_text()
    assert "secret" not in "\n".join(str(problem) for problem in problems_of(BAD / name))


@pytest.mark.parametrize("name", SUBPROCESS_SAMPLE)
def test_config_check_rejects_bad_file(run_agent, name):
    result = run_agent("config", "check", BAD / name)
    assert result.returncode == 78
    assert EXPECTED[name][1] in result.stderr
    assert f"{BAD / name}:{EXPECTED[name][0]}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("name", ("wrong_kind_linux.yaml", "alias_bomb.yaml"))
def test_run_rejects_bad_file_and_starts_nothing(run_agent, tmp_path, name):
    state_dir = tmp_path / "state"
    result = run_agent("run", "--once", "--config", BAD / name, "--state-dir", state_dir)
    assert result.returncode == 78
    assert EXPECTED[name][1] in result.stderr
    assert "Traceback" not in result.stderr
    assert not state_dir.exists()
