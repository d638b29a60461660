/**
 * Exec storm, side by side: build/bench/execstorm (fork + execve("/bin/true") + waitpid, N times)
 * with no tracer, with the floor (a bare counter on every hook of config/bench.yaml), with Kite running
 * config/bench.yaml, with libbpf-tools execsnoop, with bpftrace (a sys_enter_execve printf) and with
 * auditd (an execve rule). Variants rotate per repetition (test/bench/common.ts, runStormCase).
 *
 * Prints a markdown table on stdout; raw runs in build/bench/exec-storm.jsonl, the summary in
 * build/bench/exec-storm.summary.json. Environment: BENCH_REPS (7; quick 3), BENCH_EXEC_N (2000;
 * quick 500), BENCH_SETTLE_MS (800), BENCH_VARIANTS (a comma-separated subset).
 */
import {
  benchInt, buildGenerator, envInt, FLOOR_SLOT, log, mainStorm, runGenerator, startAudit, startBpftrace, startFloor, startKite, startTool,
  StormCase, VariantSpec,
} from './common';

const N = benchInt('BENCH_EXEC_N', 2000, 500);

const variants: VariantSpec[] = [
  { name: 'none', what: 'the workload alone.', start: async () => null },
  { name: 'floor', what: 'bare per-CPU counters on every hook of config/bench.yaml (bpf/bench/allcount.bpf.c); its events are sched_process_exec hits.', start: () => startFloor(FLOOR_SLOT.exec) },
  {
    name: 'kite', what: 'the agent on config/bench.yaml; events are process.exec records of /bin/true whose parent is the generator (Kite also records every fork and exit).',
    start: () => startKite('exec-kite', (r, pid) => r['event.name'] === 'process.exec' && r['process.parent_pid'] === pid && String(r['process.executable.path']).endsWith('/true')),
  },
  {
    name: 'execsnoop', what: 'libbpf-tools execsnoop; events are lines of `true` with RET 0 whose parent is the generator.',
    // PCOMM PID PPID RET ARGS
    start: () => startTool('exec-execsnoop', '/usr/sbin/execsnoop', [], { links: 2, match: (f, _l, pid) => f[0] === 'true' && Number(f[2]) === pid && f[3] === '0' }),
  },
  {
    name: 'bpftrace', what: 'bpftrace `tracepoint:syscalls:sys_enter_execve { printf("%d %d %s\\n", pid, curtask->real_parent->tgid, str(args->filename)); }`.',
    start: () => startBpftrace('exec-bpftrace', 'tracepoint:syscalls:sys_enter_execve { printf("%d %d %s\\n", pid, curtask->real_parent->tgid, str(args->filename)); }', 1,
      (f, _l, pid) => f.length === 3 && Number(f[1]) === pid && f[2] === '/bin/true'),
  },
  { name: 'auditd', what: 'auditd with `-a always,exit -F arch=b64 -S execve`, its log on tmpfs; events are SYSCALL records whose ppid is the generator.', start: () => startAudit('exec-audit', ['execve']) },
];

const only = process.env.BENCH_VARIANTS?.split(',');
const GEN = buildGenerator('execstorm');

const c: StormCase = {
  name: 'exec-storm',
  title: `Exec storm: fork + execve("/bin/true") + waitpid, N=${N}`,
  reps: benchInt('BENCH_REPS', 7, 3),
  settleMs: envInt('BENCH_SETTLE_MS', 800),
  workloads: ['true'],
  variants: only ? variants.filter((v) => only.includes(v.name)) : variants,
  run: (_w, n) => runGenerator(GEN, [String(n ?? N)]),
  key: () => '/bin/true',
  eventsPerOp: 1,
  unit: 'exec',
  notes: ['fork + exec costs about half a millisecond here and varies by ±15% from minute to minute: read the ratios with their spread.'],
};

mainStorm(c).catch((e: unknown) => {
  log(`exec storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
