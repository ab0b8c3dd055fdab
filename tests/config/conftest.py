import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_agent():
    """Return a function that runs device-agent from this checkout in a child process."""

    def run(*args, timeout=30):
        environ = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        return subprocess.run([sys.executable, "-m", "agent", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=environ)

    return run


@pytest.fixture
def write_config(tmp_path):
    """Write agent.yaml text into a temporary directory and return its path."""

    def write(text, name="agent.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
