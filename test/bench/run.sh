#!/usr/bin/env bash
# Kite's benchmarks (`make bench`, after `make build mounts`): the exec storm side by side with
# execsnoop, then ring-buffer throughput. Tables go to stdout and to build/bench/results.md, progress
# to stderr, raw runs to build/bench/*.jsonl. Needs root. Knobs (environment): see test/bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/bench
RESULTS=$OUT/results.md

say() { echo "[bench] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	say "needs root (loads BPF programs, runs execsnoop)"
	exit 1
fi

for f in build/bpf/bench/ringbench.bpf.o dist/test/bench/exec-storm.js dist/test/bench/ringbench.js dist/test/bench/processors.js dist/test/bench/dns-storm.js dist/test/bench/security-overhead.js dist/test/bench/exporters.js dist/test/bench/open-storm.js dist/test/bench/connect-storm.js; do
	if [ ! -e "$f" ]; then
		say "$f is missing: run make bench (or make build) first"
		exit 1
	fi
done

mkdir -p "$OUT"
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

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d "$OUT/run.XXXXXX")
trap 'rm -rf "$TMP" /dev/shm/kite-bench' EXIT

status=0
run_case() {
	local name=$1
	shift
	say "== $name"
	local t0=$SECONDS
	if node "$@" >"$TMP/$name.md"; then
		say "== $name done in $((SECONDS - t0)) s"
	else
		say "== $name FAILED (exit $?)"
		echo "**$name: failed; see the progress log on stderr.**" >>"$TMP/$name.md"
		status=1
	fi
}

CASES=(exec-storm ringbench open-storm connect-storm processors dns-storm security-overhead exporters)
run_case exec-storm dist/test/bench/exec-storm.js
run_case ringbench dist/test/bench/ringbench.js
run_case open-storm dist/test/bench/open-storm.js
run_case connect-storm dist/test/bench/connect-storm.js
run_case processors dist/test/bench/processors.js
run_case dns-storm dist/test/bench/dns-storm.js
run_case security-overhead dist/test/bench/security-overhead.js
run_case exporters dist/test/bench/exporters.js

{
	echo "# Kite benchmarks"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+dirty'), kernel $(uname -r), $(nproc) CPUs, node $(node --version), load average before the run $LOAD_START"
	echo
	if [ -n "$FOREIGN" ]; then
		echo "**Warning: tracing BPF programs of something else were loaded when the suite started (their cost is in every variant, baseline included): $FOREIGN.**"
		echo
	fi
	for c in "${CASES[@]}"; do
		cat "$TMP/$c.md"
		echo
	done
} >"$RESULTS"

cat "$RESULTS"
say "results written to $RESULTS"

if bpftool prog show 2>/dev/null | grep -qE "name (handle_sys_enter_getppid)"; then
	say "error: the ringbench program is still loaded after the run"
	status=1
fi
exit $status
