"""scripts/install.sh into temporary roots: layout, idempotence, uninstall and purge."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import REPO

INSTALL = REPO / "scripts" / "install.sh"


def install(*arguments, check=True, **environment):
    result = subprocess.run(["sh", str(INSTALL), *arguments], capture_output=True, text=True, timeout=300, env=os.environ | environment)
    if check:
        assert result.returncode == 0, f"install.sh {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def files_under(root, skip=("opt",)):
    return {path.relative_to(root) for path in root.rglob("*") if path.relative_to(root).parts[0] not in skip}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    install("--root", str(root))
    return root


def test_agent_runs_from_venv(staged):
    result = subprocess.run([str(staged / "opt/device-agent/bin/python"), "-m", "agent", "--version"], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("device-agent ")


def test_scripts_name_final_path(staged):
    first_line = (staged / "opt/device-agent/bin/device-agent").read_text().splitlines()[0]

    assert first_line == "#!/opt/device-agent/bin/python"


def test_command_linked_on_path(staged):
    link = staged / "usr/local/bin/device-agent"

    assert os.readlink(link) == "/opt/device-agent/bin/device-agent"


def test_unit_installed_and_enabled(staged):
    unit = staged / "etc/systemd/system/device-agent.service"
    wants = staged / "etc/systemd/system/multi-user.target.wants/device-agent.service"

    assert unit.read_text() == (REPO / "systemd/device-agent.service").read_text()
    assert wants.is_symlink()
    assert os.readlink(wants) == "/etc/systemd/system/device-agent.service"


def test_system_user_recorded(staged):
    sysusers = (staged / "usr/lib/sysusers.d/device-agent.conf").read_text()

    assert sysusers.split()[:3] == ["u", "device-agent", "-"]
    assert "/var/lib/device-agent" in sysusers


def test_example_config_installed(staged):
    config = staged / "etc/device-agent/agent.yaml"

    assert config.read_text() == (REPO / "config/examples/linux.yaml").read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o644"


def test_second_run_idempotent(staged):
    config = staged / "etc/device-agent/agent.yaml"
    config.write_text(config.read_text() + "# edited on the device\n")
    edited = config.read_text()
    before = files_under(staged)

    result = install("--root", str(staged))

    assert config.read_text() == edited
    assert "keeping the existing config" in result.stdout
    assert files_under(staged) == before
    assert (staged / "opt/device-agent/bin/device-agent").read_text().startswith("#!/opt/device-agent/bin/python\n")


def python_without_ensurepip(directory):
    """Write a python3 that fails `-m venv` unless --without-pip, as Debian's does without python3-venv."""
    fake = directory / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '    case "$*" in *--without-pip*) ;; *) echo "ensurepip is not available" >&2; exit 1 ;; esac\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    return fake


def test_prefix_without_ensurepip_then_uninstall_purge(tmp_path):
    root = tmp_path / "root"
    python = python_without_ensurepip(tmp_path)
    # This test never runs the agent, so its dependencies are left out to save time.
    result = install("--root", str(root), "--prefix", "/srv/device-agent", "--python", str(python), PIP_NO_DEPS="1")

    assert "ensurepip is missing, so pip comes from the host's pip" in result.stdout
    unit = root / "etc/systemd/system/device-agent.service"
    state = root / "var/lib/device-agent"
    state.mkdir(parents=True)
    (state / "agent.db").write_bytes(b"outbox")

    assert "ExecStart=/srv/device-agent/bin/device-agent run" in unit.read_text()
    assert (root / "srv/device-agent/bin/device-agent").exists()

    install("--root", str(root), "--prefix", "/srv/device-agent", "--uninstall")

    assert not (root / "srv/device-agent").exists()
    assert not unit.exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/device-agent.service").is_symlink()
    assert not (root / "usr/lib/sysusers.d/device-agent.conf").exists()
    assert not (root / "usr/local/bin/device-agent").is_symlink()
    assert (root / "etc/device-agent/agent.yaml").exists()
    assert (state / "agent.db").read_bytes() == b"outbox"

    install("--root", str(root), "--prefix", "/srv/device-agent", "--purge")

    assert not (root / "etc/device-agent").exists()
    assert not state.exists()


def test_missing_venv_module_explained(tmp_path):
    # A Python whose venv and pip fail, as on Debian without python3-venv and python3-pip.
    fake = tmp_path / "python3"
    fake.write_text(f'#!/bin/sh\ncase "$1 $2" in "-m venv"|"-m pip") echo "No module named $2" >&2; exit 1;; esac\nexec {sys.executable} "$@"\n')
    fake.chmod(0o755)

    result = install("--root", str(tmp_path / "root"), "--python", str(fake), check=False)

    assert result.returncode == 1
    assert "apt-get install python3-venv" in result.stderr
    assert not (tmp_path / "root/opt/device-agent").exists()


def test_old_python_rejected(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\ncase \"$*\" in *version_info*) exit 1;; *) echo 3.9.2;; esac\n")
    fake.chmod(0o755)

    result = install("--root", str(tmp_path / "root"), "--python", str(fake), check=False)

    assert result.returncode == 1
    assert "needs Python 3.11 or later" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["--prefix", "opt/agent"], "--prefix must be an absolute path"),
        (["--prefix", "/"], "--prefix must not be /"),
    ],
)
def test_invalid_arguments(tmp_path, arguments, message):
    result = install("--root", str(tmp_path), *arguments, check=False)

    assert result.returncode != 0
    assert message in result.stderr
