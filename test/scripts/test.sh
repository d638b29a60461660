#!/usr/bin/env bash
# Runs every test with node's test runner: unit and layout tests (no privileges), kernel tests (root,
# real programs), then the kernel tests again on a second kernel in a qemu guest. Afterwards, checks
# that the suite left no BPF program, map or link behind on this kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  echo "make test runs kernel tests and needs root" >&2
  exit 1
fi

ids() { bpftool -j "$1" show 2>/dev/null | python3 -c 'import json,sys; print(" ".join(str(x["id"]) for x in json.load(sys.stdin)))'; }
before_progs=" $(ids prog) "
before_maps=" $(ids map) "
before_links=" $(ids link) "

# Peer builds (collector and Loki from the Go module proxy, Kafka and OpenSearch from Maven Central)
# are cached in $KITE_PEERS_CACHE; a cold build takes minutes (Loki: 15-60 on 2 shared cores), so it
# runs in the background while the other tests do.
mkdir -p build
peers_log=build/peers-build.log
( bash test/peers/otelcol/build.sh >/dev/null && bash test/peers/kafka/fetch.sh >/dev/null && bash test/peers/opensearch/fetch.sh >/dev/null && bash test/peers/loki/build.sh >/dev/null ) >"$peers_log" 2>&1 &
peers_build=$!

status=0
# unit and layout tests need no privileges; kernel tests load real programs on this kernel; vm tests
# run the kernel tests again in a qemu guest booting Debian 12's stock kernel (test/vm/).
node --test --test-concurrency=1 --test-reporter=spec \
  dist/test/unit/ dist/test/layout/ dist/test/kernel/ dist/test/vm/ || status=$?

echo "peer tests: waiting for the peer builds (progress in $peers_log)"
while kill -0 "$peers_build" 2>/dev/null; do
  sleep 30
  kill -0 "$peers_build" 2>/dev/null && echo "peer tests: still building: $(tail -n 1 "$peers_log")"
done
wait "$peers_build" || { echo "peer builds failed:" >&2; cat "$peers_log" >&2; status=1; }
node --test --test-concurrency=1 --test-reporter=spec dist/test/peers/ || status=$?

# programs and maps are freed after an RCU grace period: look again for up to 5 s
for _ in $(seq 50); do
  leftover=()
  for kind in prog map link; do
    before_var="before_${kind}s"
    for id in $(ids "$kind"); do
      case "${!before_var}" in *" $id "*) ;; *) leftover+=("$kind $id") ;; esac
    done
  done
  [ ${#leftover[@]} -eq 0 ] && break
  sleep 0.1
done
if [ ${#leftover[@]} -gt 0 ]; then
  echo "BPF objects created during the tests are still in the kernel: ${leftover[*]}" >&2
  bpftool prog show >&2 || true
  status=1
fi
exit $status
