#!/usr/bin/env bash
# Run the whole test suite. Creates .venv with the test extras when missing and,
# when run as root on Debian, installs the system tools the tests start
# (dbus-daemon, ip, systemd-analyze). Extra arguments go to pytest.

set -euo pipefail
. "$(dirname "$0")/venv.sh" test

need_packages=()
command -v dbus-daemon >/dev/null || need_packages+=(dbus)
command -v ip >/dev/null || need_packages+=(iproute2)
command -v systemd-analyze >/dev/null || need_packages+=(systemd)
if [ ${#need_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing ${need_packages[*]} with apt-get for the tests" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
    else
        echo "Missing ${need_packages[*]}: the tests that need them are skipped. Install them with apt-get to run everything." >&2
    fi
fi

cd "$project_dir"
exec "$venv_dir/bin/python" -m pytest "$@"
