# Sourced by the other scripts: create .venv with the project installed when it is missing.
# Usage: . scripts/venv.sh [EXTRAS]   (EXTRAS such as "test")

set -euo pipefail

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_dir="$project_dir/.venv"
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "device-agent needs Python 3.11 or newer; set PYTHON to one, such as PYTHON=python3.11" >&2
    exit 1
fi

create_venv() {
    "$python" -m venv "$venv_dir" 2>/dev/null && return 0
    rm -rf "$venv_dir"
    # Debian ships venv's pip bootstrap separately, in python3-venv.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing python3-venv with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$python" -m venv "$venv_dir" && return 0
    fi
    echo "cannot create a virtual environment: install python3-venv (apt-get install python3-venv) and run again" >&2
    exit 1
}

extras=${1:-}
stamp="$venv_dir/.installed-${extras:-runtime}"
if [ ! -x "$venv_dir/bin/python" ]; then
    create_venv
fi
if [ ! -e "$stamp" ] || [ "$project_dir/pyproject.toml" -nt "$stamp" ]; then
    echo "Installing device-agent into $venv_dir" >&2
    "$venv_dir/bin/python" -m pip install --quiet --upgrade pip >/dev/null
    "$venv_dir/bin/python" -m pip install --quiet -e "$project_dir${extras:+[$extras]}"
    touch "$stamp"
fi
