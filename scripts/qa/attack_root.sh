#!/bin/bash
# Run `device-agent collect --json --root DIR` on hostile fake host trees.
# Expected: exit 0 within the collect timeouts, a status and a reason for
# every attribute, no traceback.
set -u
cd "$(dirname "$0")/../.."
PY=/work/main/.venv/bin/python
WORK=$(mktemp -d /tmp/qa-root.XXXXXX)

tree() { rm -rf "$WORK/r"; mkdir -p "$WORK/r/proc" "$WORK/r/sys/class/power_supply" "$WORK/r/etc" "$WORK/r/sys/class/net"; }
run() {
  local name=$1
  start=$(date +%s.%N)
  out=$(timeout 60 env PYTHONPATH=$PWD $PY -m agent collect --json --root "$WORK/r" 2>&1)
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  tb=""; echo "$out" | grep -q Traceback && tb=" TRACEBACK"
  summary=$(echo "$out" | $PY scripts/qa/summarize_collect.py 2>&1)
  printf '== %s rc=%s %.1fs%s\n  %s\n' "$name" "$rc" "$took" "$tb" "$summary"
  [ -n "$tb" ] && echo "$out" | grep -A12 Traceback | tail -4
}
export WATCH

WATCH=ram,battery_level,timezone,language,internal_storage,serial_number,device_ip,connect_type
export WATCH
tree; run empty_tree

tree; printf 'MemTotal: banana kB\nMemTotal: -5 kB\n\xff\xfe\n' > "$WORK/r/proc/meminfo"; run garbage_meminfo
tree; printf 'MemTotal: 99999999999999999999999999999999 kB\n' > "$WORK/r/proc/meminfo"; run huge_meminfo_number
tree; head -c 300000000 /dev/zero | tr '\0' 'M' > "$WORK/r/proc/meminfo"; run 300MB_meminfo_no_newline
tree; mkfifo "$WORK/r/proc/meminfo"; run fifo_meminfo
tree; ln -s meminfo "$WORK/r/proc/meminfo"; run symlink_loop_meminfo
tree; echo 'MemTotal: 1000 kB' > "$WORK/r/proc/meminfo"; chmod 000 "$WORK/r/proc/meminfo"; run denied_meminfo_as_root
tree; mkdir "$WORK/r/proc/meminfo"; run dir_meminfo

tree; b="$WORK/r/sys/class/power_supply/BAT0"; mkdir -p "$b"; echo Battery > "$b/type"; echo 250 > "$b/capacity"; echo 1 > "$b/present"; run capacity_250
tree; b="$WORK/r/sys/class/power_supply/BAT0"; mkdir -p "$b"; echo Battery > "$b/type"; echo -- 'nan' > "$b/capacity"; run capacity_nan
tree; b="$WORK/r/sys/class/power_supply/BAT0"; mkdir -p "$b"; echo Battery > "$b/type"; printf '\x00\x01' > "$b/capacity"; echo 5 > "$b/energy_now"; echo 0 > "$b/energy_full"; run capacity_binary_energy_full_zero
tree; b="$WORK/r/sys/class/power_supply/BAT0"; mkdir -p "$b"; echo Battery > "$b/type"; echo 1e308 > "$b/charge_now"; echo 1e-308 > "$b/charge_full"; run charge_overflow
tree; ln -s . "$WORK/r/sys/class/power_supply/loop"; ln -s /nonexistent "$WORK/r/sys/class/power_supply/dangling"; touch "$WORK/r/sys/class/power_supply/afile"; run power_supply_weird_entries
tree; ln -s ../../../../.. "$WORK/r/sys/class/power_supply/BAT0"; run power_supply_link_to_root
tree; b="$WORK/r/sys/class/power_supply/BAT0"; mkdir -p "$b"; mkfifo "$b/type"; mkfifo "$b/capacity"; run power_supply_fifos
tree; for i in $(seq 1 3000); do mkdir "$WORK/r/sys/class/power_supply/BAT$i"; echo Battery > "$WORK/r/sys/class/power_supply/BAT$i/type"; echo 50 > "$WORK/r/sys/class/power_supply/BAT$i/capacity"; done; run 3000_batteries

tree; ln -s localtime "$WORK/r/etc/localtime"; run localtime_loop
tree; ln -s "/usr/share/zoneinfo/../../../etc/passwd" "$WORK/r/etc/localtime"; run localtime_traversal
tree; ln -s "/usr/share/zoneinfo/$(head -c 5000 /dev/zero | tr '\0' a)" "$WORK/r/etc/localtime" 2>/dev/null || ln -s "/x/zoneinfo/$(head -c 3000 /dev/zero | tr '\0' a)" "$WORK/r/etc/localtime"; run localtime_long_link
tree; head -c 100000000 /dev/urandom > "$WORK/r/etc/localtime"; run localtime_100MB_garbage
tree; mkfifo "$WORK/r/etc/localtime"; run localtime_fifo
tree; mkdir -p "$WORK/r/etc/default"; printf 'LANG=\xff\xfe\nLC_ALL=$(reboot)\n' > "$WORK/r/etc/default/locale"; printf 'LANG="%s' "$(head -c 1000000 /dev/zero | tr '\0' x)" > "$WORK/r/etc/locale.conf"; run locale_garbage
tree; mkfifo "$WORK/r/etc/machine-id"; mkfifo "$WORK/r/etc/os-release"; run fifo_machine_id_os_release
tree; mkdir -p "$WORK/r/sys/class/dmi/id"; mkfifo "$WORK/r/sys/class/dmi/id/product_serial"; mkfifo "$WORK/r/sys/class/dmi/id/product_uuid"; run fifo_serial
tree; mkdir -p "$WORK/r/proc/net"; printf 'garbage\n\x00\x00\n' > "$WORK/r/proc/net/route"; printf 'x\n' > "$WORK/r/proc/net/dev"; run garbage_proc_net
tree; for n in lo eth0 "we ird" "$(printf 'a\tb')"; do mkdir -p "$WORK/r/sys/class/net/$n"; echo up > "$WORK/r/sys/class/net/$n/operstate"; printf '\xff' > "$WORK/r/sys/class/net/$n/type"; done; run weird_net_names
rm -rf "$WORK"
