#!/usr/bin/env bash
# Run the agent once on this machine with config/examples/linux.yaml, delivering
# into the embedded profile store, then print what the store holds for this device.
# The state directory is ./state unless STATE_DIR names another one.

set -euo pipefail
. "$(dirname "$0")/venv.sh"

state_dir=${STATE_DIR:-$project_dir/state}
config="$project_dir/config/examples/linux.yaml"

"$venv_dir/bin/device-agent" run --once --config "$config" --state-dir "$state_dir"
"$venv_dir/bin/device-agent" profile show --config "$config" --state-dir "$state_dir"
