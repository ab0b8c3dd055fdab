"""The command line must start without the agent's heavy dependencies.

`device-agent --version` imports no command module, and building the
parser for `--help` imports only light standard-library modules, so both
stay fast on small devices.
Each check runs in a fresh interpreter, because this test process may
have imported everything already.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("httpx", "apscheduler", "psutil", "yaml", "sqlite3", "http.server", "ssl")


def modules_after(code):
    """Run code in a fresh interpreter and return the names in its sys.modules."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import agent.cli",
        "import agent.cli; agent.cli.build_parser()",
        "import agent.store",
    ],
)
def test_import_leaves_out_heavy_modules(code):
    loaded = modules_after(code)
    for module in HEAVY_MODULES:
        assert module not in loaded, f"{code!r} imported {module}"


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_option_leaves_out_heavy_modules(option):
    code = f"import sys\nfrom agent.cli import main\ntry:\n    main([{option!r}])\nexcept SystemExit:\n    pass"
    loaded = modules_after(code)
    for module in HEAVY_MODULES:
        assert module not in loaded, f"device-agent {option} imported {module}"


def test_store_server_still_importable_from_package():
    from agent.store import ProfileStoreServer
    from agent.store.server import ProfileStoreServer as server_class

    assert ProfileStoreServer is server_class


def test_version_skips_command_modules():
    loaded = modules_after("from agent.cli import main\nmain(['--version'])")
    assert "agent.commands" not in loaded
    assert "argparse" not in loaded


def test_version_matches_parser_output(capsys):
    from agent import __version__
    from agent.cli import build_parser, main

    assert main(["--version"]) == 0
    fast = capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == fast
    assert fast == f"device-agent {__version__}\n"
