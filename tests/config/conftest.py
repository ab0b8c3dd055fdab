import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def run_agent(*args, timeout=30, **kwargs):
    """Run device-agent from this checkout in a child process and return the completed process."""
    environ = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    return subprocess.run([sys.executable, "-m", "agent", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=environ, **kwargs)


@pytest.fixture
def write_config(tmp_path):
    """Write agent.yaml text into a temporary directory and return its path."""

    def write(text, name="agent.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
