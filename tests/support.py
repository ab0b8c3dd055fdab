"""Helpers shared by test modules: the CLI as a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def agent_command(*arguments, env=None, timeout=60, **kwargs):
    """Run `python -m agent ARGUMENTS` from this checkout and return the CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_DIR))
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent", *map(str, arguments)],
        capture_output=True, text=True, timeout=timeout, env=environment, **kwargs,
    )
