"""The outbox caps and the sender settings in agent.yaml."""

import pytest

from agent.config import load_config
from agent.errors import ConfigError

CONFIG = """\
device:
  platform: linux
  app_id: app-1
monitors:
  event: [timezone]
store:
{store}
"""


def write_config(tmp_path, store_lines):
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(store=store_lines))
    return path


def test_config_outbox_caps_default(tmp_path):
    store = load_config(write_config(tmp_path, "  flush_interval: 1s")).store
    assert store.max_outbox_events == 10_000
    assert store.max_outbox_bytes == 8 * 1024 * 1024


def test_config_outbox_caps_set(tmp_path):
    store = load_config(write_config(tmp_path, "  max_outbox_events: 500\n  max_outbox_bytes: 1048576")).store
    assert store.max_outbox_events == 500
    assert store.max_outbox_bytes == 1048576


@pytest.mark.parametrize("line", ["max_outbox_events: 10", "max_outbox_events: lots", "max_outbox_bytes: 1000", "max_outbox_bytes: true"])
def test_config_outbox_caps_invalid(tmp_path, line):
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, f"  {line}"))
    name = line.split(":")[0]
    assert name in str(raised.value)
    assert "at least" in str(raised.value)
