/**
 * Connect storm, side by side: build/bench/connstorm (socket + connect to its own loopback listener +
 * accept + close, N times) with no tracer, with the floor (a bare counter on every hook of
 * config/bench.yaml), with Kite running config/bench.yaml, with libbpf-tools tcpstates (tcpconnect
 * needs kprobes, which this kernel lacks), with bpftrace (a sys_enter_connect printf) and with auditd
 * (a connect rule). Variants rotate per repetition (test/bench/common.ts, runStormCase).
 *
 * Prints a markdown table on stdout; raw runs in build/bench/connect-storm.jsonl, the summary in
 * build/bench/connect-storm.summary.json. Environment: BENCH_REPS (7; quick 3), BENCH_CONNECT_N
 * (20000; quick 5000), BENCH_SETTLE_MS (800), BENCH_VARIANTS (a comma-separated subset).
 */
import {
  benchInt, buildGenerator, envInt, FLOOR_SLOT, log, mainStorm, runGenerator, startAudit, startBpftrace, startFloor, startKite, startTool,
  StormCase, VariantSpec,
} from './common';

const N = benchInt('BENCH_CONNECT_N', 20_000, 5_000);
const PORT = String(40000 + (process.pid % 20000));

const variants: VariantSpec[] = [
  { name: 'none', what: 'the workload alone.', start: async () => null },
  { name: 'floor', what: 'bare per-CPU counters on every hook of config/bench.yaml (bpf/bench/allcount.bpf.c); its events are accept exits.', start: () => startFloor(FLOOR_SLOT.accept) },
  {
    name: 'kite', what: 'the agent on config/bench.yaml; events are network.connect records of the generator to the port (it also writes a network.accept per connect), dedupe summaries counted with their repeats.',
    start: () => startKite('connect-kite', (r, pid, key) => r['event.name'] === 'network.connect' && r['process.pid'] === pid && r['network.peer.port'] === Number(key)),
  },
  {
    name: 'tcpstates', what: 'libbpf-tools tcpstates (every TCP state change, about 7 per connect); events are CLOSE -> SYN_SENT lines to the port.',
    // SKADDR C-PID C-COMM LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS
    start: () => startTool('connect-tcpstates', '/usr/sbin/tcpstates', [], { links: 1, match: (f, _l, _pid, key) => f[6] === key && f[7] === 'CLOSE' && f[9] === 'SYN_SENT' }),
  },
  {
    name: 'bpftrace', what: 'bpftrace `tracepoint:syscalls:sys_enter_connect { printf("%d\\n", pid); }`.',
    start: () => startBpftrace('connect-bpftrace', 'tracepoint:syscalls:sys_enter_connect { printf("%d\\n", pid); }', 1, (f, _l, pid) => f.length === 1 && Number(f[0]) === pid),
  },
  { name: 'auditd', what: 'auditd with `-a always,exit -F arch=b64 -S connect`, its log on tmpfs.', start: () => startAudit('connect-audit', ['connect']) },
];

const only = process.env.BENCH_VARIANTS?.split(',');
const GEN = buildGenerator('connstorm', ['-lpthread']);

const c: StormCase = {
  name: 'connect-storm',
  title: `Connect storm: connect + accept + close on 127.0.0.1, N=${N}`,
  reps: benchInt('BENCH_REPS', 7, 3),
  settleMs: envInt('BENCH_SETTLE_MS', 800),
  workloads: ['loopback'],
  variants: only ? variants.filter((v) => only.includes(v.name)) : variants,
  run: (_w, n) => runGenerator(GEN, [String(n ?? N), PORT]),
  key: () => PORT,
  eventsPerOp: 1,
  unit: 'connect',
  notes: ['The generator accepts its own connections on a listener thread: the same process is the client and the server.'],
};

mainStorm(c).catch((e: unknown) => {
  log(`connect storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
