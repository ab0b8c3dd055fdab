import pytest

from agent.errors import ConfigError
from agent.scenarios import load_scenario, scenario_names


def test_built_in_scenarios_load():
    names = scenario_names()
    assert {"default", "travellers", "busy"} <= set(names)
    for name in names:
        assert load_scenario(name).name == name


def test_extends_overrides_only_given_keys(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: default\nname: mine\nnetwork: {moves_per_day: 96}\n")
    scenario = load_scenario(str(path))
    default = load_scenario("default")
    assert scenario.name == "mine"
    assert scenario.network_rate == pytest.approx(96 / 86400)
    assert scenario.network_weights == default.network_weights
    assert scenario.countries == default.countries


def test_user_scenario_extends_another_user_file(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: default\nscreen: {idle_changes_per_day: 2}\n")
    (tmp_path / "child.yaml").write_text(f"extends: {tmp_path / 'base.yaml'}\nname: child\n")
    assert load_scenario(str(tmp_path / "child.yaml")).screen_rate == pytest.approx(2 / 86400)


def test_every_problem_reported_with_its_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "extends: default\n"
        "travel: {travellers: 1.5, stay: [10h, 1h]}\n"
        "network: {weights: {wifi: 1, satellite: 2}}\n"
        "monitors: {event_capture: sometimes, intervals: {battery_level: 1s}}\n"
        "wheather: sunny\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_scenario(str(path))
    problems = "\n".join(raised.value.problems)
    assert "travel.travellers: must be a number from 0 to 1" in problems
    assert "travel.stay: low '10h' is above high '1h'" in problems
    assert "network.weights.satellite: unknown" in problems
    assert "monitors.event_capture: 'sometimes' is not one of watch, poll" in problems
    assert "monitors.intervals.battery_level: '1s' is shorter than the minimum of 10s" in problems
    assert "wheather: unknown section" in problems


def test_mcc_must_keep_leading_digits(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: default\ncountries: {DE: {mcc: 262}}\n")
    with pytest.raises(ConfigError, match=r"countries\.DE\.mcc: must be a quoted string of 3 digits"):
        load_scenario(str(path))


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown scenario 'sunday'; use one of busy, default, travellers"):
        load_scenario("sunday")


def test_extends_loop_is_rejected(tmp_path):
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="extends forms a loop"):
        load_scenario(str(tmp_path / "a.yaml"))
