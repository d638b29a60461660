#!/usr/bin/env bash
# Runs a command in the test guest (Debian 12's stock kernel) as root, inside the host's files
# (read-only; /tmp is a fresh tmpfs). Usage: test/vm/run.sh RESULTS_DIR 'command'
# The command's output lands in RESULTS_DIR/output.txt and its exit status in RESULTS_DIR/status;
# the guest's console goes to standard error. Exits with the command's status.
set -euo pipefail
results=$1; shift
cmd=$*
vm=$(bash "$(dirname "$0")/prepare.sh")
mkdir -p "$results"; rm -f "$results/status" "$results/output.txt"
b64=$(printf '%s' "$cmd" | base64 -w0)
timeout "${KITE_VM_TIMEOUT:-1800}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$vm/vmlinuz" -initrd "$vm/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 kite.cmd=$b64" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$results",mount_tag=results,security_model=none,multidevs=remap >&2 || true
[ -f "$results/status" ] || { echo "the guest did not finish (see its console above)" >&2; exit 125; }
exit "$(cat "$results/status")"
