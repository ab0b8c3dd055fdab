#!/bin/bash
# Run `device-agent run --once` on hostile config files and print the exit
# code and the first lines of output of each. Expected: exit 78, a
# file:line:column message, no traceback, no state directory created.
set -u
cd "$(dirname "$0")/../.."
PY=/work/main/.venv/bin/python
WORK=$(mktemp -d /tmp/qa-config.XXXXXX)
BASE='device:
  platform: linux
  app_id: qa
monitors:
  one_time: [ram]
'
state="$WORK/state"

write() { printf '%s' "$2" > "$WORK/$1.yaml"; }
write tabs $'device:\n\tplatform: linux\n'
printf '\xef\xbb\xbf%s' "$BASE" > "$WORK/bom.yaml"
$PY -c "print('device:\n  platform: linux\n  app_id: qa\n' + '#'*300000)" > "$WORK/huge.yaml"
write alias_bomb $'a: &a [x,x,x]\nb: &b [*a,*a,*a]\nc: [*b,*b,*b]\n'
$PY -c "print('a: ' + '['*5000 + ']'*5000)" > "$WORK/deep_flow.yaml"
$PY -c "
lines=['a:']
for i in range(3000): lines.append('  '*(i+1)+'- ')
print('\n'.join(lines))" > "$WORK/deep_block.yaml"
head -c 4000 /dev/urandom > "$WORK/garbage.yaml"
printf 'device:\n  platform: linux\x00\x01\n' > "$WORK/nul.yaml"
ln -sf "$WORK/loop_b.yaml" "$WORK/loop_a.yaml"; ln -sf "$WORK/loop_a.yaml" "$WORK/loop_b.yaml"
mkdir -p "$WORK/dir.yaml"
mkfifo "$WORK/fifo.yaml"
printf '%s' "$BASE" > "$WORK/unreadable.yaml"; chmod 000 "$WORK/unreadable.yaml"
write interval_nan "${BASE}  interval:
    battery_level: .nan
"
write interval_inf "${BASE}  interval:
    battery_level: .inf
"
write interval_huge "${BASE}  interval:
    battery_level: 99999999999999d
"
write poll_huge "${BASE}  event:
    - timezone: {poll_interval: 99999999999999d}
"
write flush_nan "${BASE}store:
  flush_interval: .nan
"
write timeout_inf "${BASE}store:
  read_timeout: .inf
"
write jitter_huge "${BASE}  interval:
    battery_level: {every: 5m, jitter: 1e400}
"
write jitter_nan "${BASE}  interval:
    battery_level: {every: 5m, jitter: .nan}
"
write state_dir_list "${BASE}state_dir: [a, b]
"
write state_dir_nul "${BASE}state_dir: \"/tmp/a\\0b\"
"
write app_id_map 'device:
  platform: linux
  app_id: {a: 1}
monitors:
  one_time: [ram]
'
write platform_list 'device:
  platform: [linux]
  app_id: qa
monitors: {}
'
write sdk_weird 'device:
  platform: android
  sdk_version: .nan
  app_id: qa
monitors:
  one_time: [ram]
'
write sdk_list 'device:
  platform: android
  sdk_version: [2, 12]
  app_id: qa
monitors:
  one_time: [ram]
'
write monitor_int_key "${BASE}  event:
    - 5: {privacy: hash}
"
write monitor_list_entry "${BASE}  event:
    - [timezone]
"
write interval_list_options "${BASE}  interval:
    battery_level: [5m]
"
write interval_int_key "${BASE}  interval:
    7: 5m
"
write privacy_list "${BASE}  event:
    - timezone: {privacy: [hash]}
"
write privacy_map "${BASE}  event:
    - timezone: {privacy: {a: b}}
"
write logging_list "${BASE}logging: [info]
"
write level_map "${BASE}logging:
  level: {a: 1}
"
write geofence_str "${BASE}geofences: [home]
"
write batch_float "${BASE}store:
  batch_size: 1.5
"
write key_file_loop "${BASE}store:
  url: http://127.0.0.1:1
  key_file: $WORK/loop_a.yaml
"
write key_file_nul "${BASE}store:
  url: http://127.0.0.1:1
  key_file: \"/tmp/a\\0b\"
"
write url_weird "${BASE}store:
  url: \"http://[::1\"
"
write url_port "${BASE}store:
  url: \"http://127.0.0.1:99999\"
"
write monitors_none "${BASE}  event:
"
write top_scalar 'hello'
write top_list '- a'
write unknown_top "${BASE}colour: red
"
write set_tag "${BASE}  event: !!set {timezone}
"
write python_tag '!!python/object/apply:os.system ["echo pwned"]'
write binary_tag "${BASE}state_dir: !!binary aGVsbG8=
"
write timestamp_key "${BASE}state_dir: 2020-01-01
"
write key_map "? [a, b]
: c
"
write complex_key_in_monitors "${BASE}  interval:
    ? [battery_level]
    : 5m
"
write long_line "$(printf 'device: {platform: linux, app_id: %s}\nmonitors: {one_time: [ram]}\n' "$(head -c 200000 /dev/zero | tr '\0' a)")"

for f in "$WORK"/*.yaml; do
  name=$(basename "$f" .yaml)
  [ "$name" = loop_b ] && continue
  rm -rf "$state"
  out=$(timeout 10 env PYTHONPATH=$PWD $PY -m agent run --once --config "$f" --state-dir "$state" 2>&1 </dev/null)
  rc=$?
  tb=""; echo "$out" | grep -q Traceback && tb=" TRACEBACK"
  started=""; [ -e "$state" ] && started=" STATE-CREATED"
  printf '== %s rc=%s%s%s\n' "$name" "$rc" "$tb" "$started"
  echo "$out" | grep -v '^\s*$' | tail -3 | cut -c1-220
done
rm -rf "$WORK"
