#!/usr/bin/env bash
# Kite's benchmarks (`make bench`, after `make build mounts`): a real workload (compiling Lua) and exec,
# open, connect and DNS storms side by side with the floor and peer tracers, the throughput ladder,
# scale (process table, dedupe state, a fleet into Kafka), then ring-buffer throughput, processors,
# security overhead and exporters. Writes docs/benchmarks.md (tables, SVG plots) and the README's
# headline block; tables also go to build/bench/results.md, raw runs to build/bench/*.jsonl.
# KITE_BENCH_QUICK=1: fewer repetitions, smaller workloads, labelled as such everywhere.
# KITE_BENCH_CASES="open-storm ladder": run only these cases. Needs root. Knobs: test/bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/bench
RESULTS=$OUT/results.md
SECTIONS=$OUT/sections

say() { echo "[bench] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	say "needs root (loads BPF programs, runs the peer tracers and auditd)"
	exit 1
fi
# One run at a time: two would share the CPUs they measure, the broker's ports and generic XDP on lo.
LOCK=/run/lock/kite-bench.lock
exec 9>"$LOCK"
if ! flock -n 9; then
	say "another make bench is running (pid $(cat "$LOCK.pid" 2>/dev/null || echo unknown)); wait for it to finish: benchmarks need the machine to themselves"
	exit 1
fi
echo $$ >"$LOCK.pid"

[ "${KITE_BENCH_QUICK:-}" = 1 ] && say "QUICK RUN (KITE_BENCH_QUICK=1): fewer repetitions, smaller workloads; not for quoting"

ALL_CASES=(compile exec-storm open-storm connect-storm dns-storm ladder scale ringbench processors security-overhead exporters)
read -r -a CASES <<<"${KITE_BENCH_CASES:-${ALL_CASES[*]}}"

for c in "${CASES[@]}"; do
	if [ ! -e "dist/test/bench/$c.js" ]; then
		say "dist/test/bench/$c.js is missing: run make bench (or make build) first"
		exit 1
	fi
done
[ -e build/bpf/bench/allcount.bpf.o ] || { say "build/bpf/bench/allcount.bpf.o is missing: make bpf"; exit 1; }

# auditd is a peer of the storms; installed without starting it (RUNLEVEL=1: invoke-rc.d starts nothing)
if [ ! -x /usr/sbin/auditd ]; then
	say "installing auditd (not started: the benchmarks start it with their own config and stop it)"
	RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q auditd >&2 || say "auditd could not be installed: its variants will say so"
fi

mkdir -p "$OUT" "$SECTIONS"
# a partial run (KITE_BENCH_CASES) replaces only its own cases' results; the report takes every case's latest
for c in "${CASES[@]}"; do rm -f "$SECTIONS/$c.md" "$OUT/$c.summary.json"; done
[ -n "${KITE_BENCH_CASES:-}" ] || rm -f "$SECTIONS"/*.md "$OUT"/*.summary.json
for gen in execstorm getppidstorm; do
	if [ ! -x "$OUT/$gen" ] || [ "test/bench/$gen.c" -nt "$OUT/$gen" ]; then
		gcc -O2 -Wall -Wextra -o "$OUT/$gen" "test/bench/$gen.c"
	fi
done

bash test/scripts/mounts.sh

# Tracing programs already in the kernel (another agent, a test, an earlier interrupted run) tax the
# workloads of every variant, the baseline included: name them in the results.
tracing_progs() {
	bpftool -j prog show 2>/dev/null | node -e '
		let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
			const kinds = ["tracing", "tracepoint", "raw_tracepoint", "kprobe", "perf_event", "lsm"];
			const progs = JSON.parse(s || "[]").filter((p) => kinds.includes(p.type));
			console.log(progs.map((p) => `${p.id} ${p.type} ${p.name ?? "?"}`).join(", "));
		});' 2>/dev/null || true
}
FOREIGN=$(tracing_progs)
if [ -n "$FOREIGN" ]; then
	say "warning: tracing BPF programs are already loaded, results will include their cost: $FOREIGN"
fi

export KITE_BENCH_STARTED KITE_BENCH_LOAD KITE_BENCH_FOREIGN="$FOREIGN"
KITE_BENCH_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
KITE_BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d "$OUT/run.XXXXXX")
# the cases' files on tmpfs (generated workloads, outputs): this run's own folder
export KITE_BENCH_SHM=/dev/shm/kite-bench.$$
KAFKA_PID=""
cleanup() {
	if [ -n "$KAFKA_PID" ]; then kill -TERM -- "-$KAFKA_PID" 2>/dev/null || true; fi
	rm -rf "$TMP" "$KITE_BENCH_SHM" "$LOCK.pid"
}
trap cleanup EXIT

# The Kafka broker the benchmark pipeline (config/bench.yaml) exports to, on ports apart from the
# peer tests' so that both can run on one machine.
export KITE_PEER_KAFKA_PORT=${KITE_BENCH_KAFKA_PORT:-29092} KITE_PEER_KAFKA_CONTROLLER_PORT=${KITE_BENCH_KAFKA_CONTROLLER_PORT:-29093}
export KITE_BENCH_KAFKA=127.0.0.1:$KITE_PEER_KAFKA_PORT
say "starting the Kafka broker on $KITE_BENCH_KAFKA"
KAFKA_PID=$(node dist/test/bench/kafka-peer.js "$TMP/kafka")
export KITE_BENCH_KAFKA_PID=$KAFKA_PID

status=0
run_case() {
	local name=$1
	shift
	say "== $name"
	local t0=$SECONDS
	if "$@" >"$SECTIONS/$name.md"; then
		say "== $name done in $((SECONDS - t0)) s"
	else
		say "== $name FAILED (exit $?)"
		echo "**$name: failed; see the progress log on stderr.**" >>"$SECTIONS/$name.md"
		status=1
	fi
}

for c in "${CASES[@]}"; do
	case $c in
	scale) run_case "$c" node --expose-gc "dist/test/bench/$c.js" ;;
	# the exporters case starts its own broker and collector: ports apart from ours and the tests'
	exporters) run_case "$c" env KITE_PEER_KAFKA_PORT=29192 KITE_PEER_KAFKA_CONTROLLER_PORT=29193 KITE_PEER_OTLP_GRPC_PORT=24317 \
		KITE_PEER_OTLP_HTTP_PORT=24318 KITE_PEER_HEALTH_PORT=24133 node "dist/test/bench/$c.js" ;;
	# the ladder runs the receivers and the exporter in its own process: with the agent's node options
	ladder) run_case "$c" node --max-semi-space-size=4 "dist/test/bench/$c.js" ;;
	*) run_case "$c" node "dist/test/bench/$c.js" ;;
	esac
done

{
	echo "# Kite benchmarks"
	echo
	echo "$KITE_BENCH_STARTED, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), kernel $(uname -r), $(nproc) CPUs, node $(node --version), load average before the run $KITE_BENCH_LOAD${KITE_BENCH_QUICK:+, QUICK RUN}"
	echo
	for c in "${ALL_CASES[@]}"; do
		[ -f "$SECTIONS/$c.md" ] || continue
		cat "$SECTIONS/$c.md"
		echo
	done
} >"$RESULTS"

REPORTED=()
for c in "${ALL_CASES[@]}"; do [ -f "$SECTIONS/$c.md" ] && REPORTED+=("$c"); done
PARTIAL=${KITE_BENCH_CASES:-}
KITE_BENCH_CASES="${REPORTED[*]}" KITE_BENCH_PARTIAL="$PARTIAL" node dist/test/bench/report.js
say "results: docs/benchmarks.md (and $RESULTS)"

if bpftool prog show 2>/dev/null | grep -qE "name (handle_sys_enter_getppid|count_[a-z_0-9]+)\b"; then
	say "error: a bench program is still loaded after the run"
	status=1
fi
if [ "$(auditctl -s 2>/dev/null | sed -n 's/^enabled //p')" = 1 ]; then
	say "error: audit is still enabled after the run"
	status=1
fi
exit $status
