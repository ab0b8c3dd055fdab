#!/bin/sh
# Install device-agent as a systemd service, or remove it.
#
#   scripts/install.sh [--prefix DIR] [--root DIR] [--python PYTHON] [--start]
#   scripts/install.sh --uninstall [--purge] [--prefix DIR] [--root DIR]
#
# Installs the agent from this source tree into its own virtual environment
# (default /opt/device-agent) with a link in /usr/local/bin. The unit goes
# into /etc/systemd/system and the system user into a sysusers.d entry. The
# example config goes into /etc/device-agent when no config exists. Running it
# again upgrades the agent and leaves the config alone. --uninstall keeps
# /etc/device-agent and the state in /var/lib/device-agent; --purge removes
# them too. --start starts the service; otherwise a running agent is
# restarted on upgrade and a stopped one stays stopped.
#
# With --root DIR every path above lies under DIR, nothing talks to systemd,
# no user is created, and scripts get the final paths in their #! lines, so
# DIR can be copied into an image as it is.

set -eu

NAME=device-agent
PREFIX=/opt/device-agent
ROOT=
PYTHON=python3
ACTION=install
PURGE=no
START=no
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '%s: %s\n' "$NAME install" "$*"; }
die() { printf '%s: error: %s\n' "$NAME install" "$*" >&2; exit 1; }

usage() {
    sed -n '2,19s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
        --root=*) ROOT=${1#*=}; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs an interpreter"; PYTHON=$2; shift 2 ;;
        --python=*) PYTHON=${1#*=}; shift ;;
        --start) START=yes; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) ACTION=uninstall; PURGE=yes; shift ;;
        -h|--help) usage 0 ;;
        *) printf '%s: error: unknown option %s\n' "$NAME install" "$1" >&2; usage 2 ;;
    esac
done

case $PREFIX in
    /*) ;;
    *) die "--prefix must be an absolute path, not '$PREFIX'" ;;
esac
[ "$PREFIX" != / ] || die "--prefix must not be /"
PREFIX=${PREFIX%/}
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=
fi

VENV=$ROOT$PREFIX
UNIT_DIR=$ROOT/etc/systemd/system
UNIT=$UNIT_DIR/$NAME.service
WANTS=$UNIT_DIR/multi-user.target.wants/$NAME.service
SYSUSERS=$ROOT/usr/lib/sysusers.d/$NAME.conf
COMMAND_LINK=$ROOT/usr/local/bin/$NAME
CONFIG_DIR=$ROOT/etc/$NAME
STATE_DIR=$ROOT/var/lib/$NAME

# systemctl talks to a running systemd only when installing into this machine.
systemd_running() {
    [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

# install

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or later (apt-get install python3) or pass --python"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$NAME needs Python 3.11 or later, but $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'); pass --python"
}

create_venv() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
        say "reusing the virtual environment in $VENV"
        return
    fi
    if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
        die "$VENV exists and is not a virtual environment; remove it or pass another --prefix"
    fi
    say "creating a virtual environment in $VENV"
    if "$PYTHON" -m venv --clear "$VENV" >/dev/null 2>&1; then
        return
    fi
    # Debian and Ubuntu ship ensurepip separately (python3-venv), so a host pip may have to fill the venv.
    if "$PYTHON" -m pip --version >/dev/null 2>&1 && "$PYTHON" -m venv --clear --without-pip "$VENV"; then
        say "ensurepip is missing, so pip comes from the host's pip"
        "$PYTHON" -m pip --python "$VENV/bin/python" install --quiet --no-cache-dir pip ||
            die "cannot install pip into $VENV; install python3-venv (apt-get install python3-venv) and run this script again"
        return
    fi
    rm -rf "$VENV"
    die "cannot create a virtual environment with $PYTHON: the venv module or ensurepip is missing; install python3-venv (apt-get install python3-venv) and run this script again"
}

install_agent() {
    [ -f "$SOURCE/pyproject.toml" ] || die "no pyproject.toml in $SOURCE; run the script from a device-agent source tree"
    say "installing $NAME from $SOURCE"
    "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check --upgrade "$SOURCE" ||
        die "pip failed to install $NAME into $VENV; see the pip output above"
    mkdir -p "$VENV/share/doc/$NAME"
    cp "$SOURCE/docs/service.md" "$SOURCE/config/examples/linux.yaml" "$VENV/share/doc/$NAME/"
    if [ -n "$ROOT" ]; then
        relocate_scripts
    fi
    # Puts `device-agent status` on the PATH without putting the venv's other scripts there.
    mkdir -p "$(dirname "$COMMAND_LINK")"
    ln -sfn "$PREFIX/bin/$NAME" "$COMMAND_LINK"
}

# pip writes the staging path into each script's #! line, so point it at the final path.
relocate_scripts() {
    for script in "$VENV"/bin/*; do
        [ -f "$script" ] && [ ! -L "$script" ] || continue
        if grep -Iq "$VENV" "$script" 2>/dev/null; then
            sed -i "s|$VENV|$PREFIX|g" "$script"
        fi
    done
}

install_user() {
    mkdir -p "$(dirname "$SYSUSERS")"
    printf 'u %s - "device-agent service" /var/lib/%s\n' "$NAME" "$NAME" >"$SYSUSERS.tmp"
    mv "$SYSUSERS.tmp" "$SYSUSERS"
    [ -z "$ROOT" ] || return 0
    if id "$NAME" >/dev/null 2>&1; then
        return
    fi
    say "creating the system user $NAME"
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers "$SYSUSERS"
    else
        useradd --system --user-group --no-create-home --home-dir "/var/lib/$NAME" --shell /usr/sbin/nologin "$NAME"
    fi
}

install_config() {
    mkdir -p "$CONFIG_DIR"
    if [ -e "$CONFIG_DIR/agent.yaml" ]; then
        say "keeping the existing config $CONFIG_DIR/agent.yaml"
        return
    fi
    say "writing the example config to $CONFIG_DIR/agent.yaml"
    cp "$SOURCE/config/examples/linux.yaml" "$CONFIG_DIR/agent.yaml.tmp"
    chmod 0644 "$CONFIG_DIR/agent.yaml.tmp"
    mv "$CONFIG_DIR/agent.yaml.tmp" "$CONFIG_DIR/agent.yaml"
}

install_unit() {
    mkdir -p "$UNIT_DIR"
    sed "s|/opt/device-agent|$PREFIX|g" "$SOURCE/systemd/$NAME.service" >"$UNIT.tmp"
    chmod 0644 "$UNIT.tmp"
    mv "$UNIT.tmp" "$UNIT"
    if systemd_running; then
        systemctl daemon-reload
        systemctl enable "$NAME.service"
        if [ "$START" = yes ]; then
            systemctl restart "$NAME.service"
        else
            # A running agent restarts so the upgrade takes effect, but a stopped one stays stopped.
            systemctl try-restart "$NAME.service"
        fi
    else
        # What `systemctl enable` does for WantedBy=multi-user.target, without a running systemd.
        mkdir -p "$(dirname "$WANTS")"
        ln -sfn "/etc/systemd/system/$NAME.service" "$WANTS"
        [ "$START" = no ] || say "not starting $NAME: systemd is not running here"
    fi
}

do_install() {
    if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
        die "installing into this machine needs root; run with sudo, or pass --root DIR to stage the files"
    fi
    check_python
    create_venv
    install_agent
    install_user
    install_config
    install_unit
    say "installed $NAME ${ROOT:+under $ROOT }(agent in $PREFIX, config in /etc/$NAME/agent.yaml)"
}

# uninstall

do_uninstall() {
    if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
        die "uninstalling from this machine needs root; run with sudo"
    fi
    if systemd_running; then
        systemctl disable --now "$NAME.service" 2>/dev/null || true
    fi
    rm -f "$WANTS" "$UNIT" "$SYSUSERS"
    if [ "$(readlink "$COMMAND_LINK" 2>/dev/null)" = "$PREFIX/bin/$NAME" ]; then
        rm -f "$COMMAND_LINK"
    fi
    if [ -e "$VENV" ]; then
        [ -f "$VENV/pyvenv.cfg" ] || die "$VENV is not a virtual environment, so it was left in place; check --prefix"
        rm -rf "$VENV"
    fi
    if systemd_running; then
        systemctl daemon-reload
    fi
    if [ "$PURGE" = yes ]; then
        rm -rf "$CONFIG_DIR" "$STATE_DIR" "$ROOT/var/lib/private/$NAME"
        say "removed $NAME with its config and state ${ROOT:+under $ROOT}"
    else
        say "removed $NAME; kept $CONFIG_DIR and $STATE_DIR (pass --purge to remove them)"
    fi
    # The system user stays, as with Debian packages, so files it owns never pass to a reused uid.
}

if [ "$ACTION" = install ]; then
    do_install
else
    do_uninstall
fi
