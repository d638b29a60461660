/**
 * Open storm, side by side: build/bench/openstorm (open(PATH, O_RDONLY) + close, N times) on a watched
 * path (/etc/hostname, under the file receiver's default /etc) and on an unwatched one (a file on
 * tmpfs), with no tracer, with the floor (a bare counter on every hook of config/bench.yaml), with Kite
 * running config/bench.yaml, with libbpf-tools opensnoop, with bpftrace (an enter-side printf) and with
 * auditd (an openat rule). Within a repetition a tracer is started once and both workloads run under it
 * (their order alternates); variants rotate per repetition (test/bench/common.ts, runStormCase).
 *
 * Prints a markdown table on stdout; raw runs in build/bench/open-storm.jsonl, the summary in
 * build/bench/open-storm.summary.json. Environment: BENCH_REPS (7; quick 3), BENCH_OPEN_N (200000;
 * quick 50000), BENCH_SETTLE_MS (800), BENCH_VARIANTS (a comma-separated subset).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import {
  benchInt, buildGenerator, envInt, FLOOR_SLOT, log, mainStorm, runGenerator, SHM_ROOT, startAudit, startBpftrace, startFloor, startKite,
  startTool, StormCase, VariantSpec,
} from './common';

const N = benchInt('BENCH_OPEN_N', 200_000, 50_000);
const DIR = `${SHM_ROOT}/open`;
const TARGET: Record<string, string> = { watched: '/etc/hostname', unwatched: `${DIR}/plain/target` };

const variants: VariantSpec[] = [
  { name: 'none', what: 'the workload alone.', start: async () => null },
  { name: 'floor', what: 'bare per-CPU counters on every hook of config/bench.yaml (bpf/bench/allcount.bpf.c); its events are sys_enter_openat hits.', start: () => startFloor(FLOOR_SLOT.fileEnter) },
  {
    name: 'kite', what: 'the agent on config/bench.yaml (every receiver, enrich, filter, dedupe, to a file on tmpfs and to Kafka; the file receiver folds repeated opens in the kernel, `aggregate.window: 1s`); events are file records of the generator and the path, summaries (the kernel\'s `kernel_aggregate` and dedupe\'s) counted with their repeats. An unwatched open must produce none.',
    start: () => startKite('open-kite', (r, pid, key) => r['process.pid'] === pid && r['file.path'] === key),
  },
  {
    name: 'opensnoop', what: 'libbpf-tools opensnoop, every open on the system, to a file on tmpfs.',
    start: () => startTool('open-opensnoop', '/usr/sbin/opensnoop', [], { links: 2, match: (f, _l, pid, key) => Number(f[0]) === pid && f[f.length - 1] === key }),
  },
  {
    name: 'bpftrace', what: 'bpftrace `tracepoint:syscalls:sys_enter_openat { printf("%d %s\\n", pid, str(args->filename)); }`.',
    start: () => startBpftrace('open-bpftrace', 'tracepoint:syscalls:sys_enter_openat { printf("%d %s\\n", pid, str(args->filename)); }', 1,
      (f, _l, pid, key) => f.length === 2 && Number(f[0]) === pid && f[1] === key),
  },
  {
    name: 'auditd', what: `auditd with \`-a always,exit -F arch=b64 -S openat\`, its log on tmpfs; N/4 opens per run (the per-op cost is steady).`,
    start: () => startAudit('open-audit', ['openat']), n: Math.max(1000, Math.round(N / 4)),
  },
];

const only = process.env.BENCH_VARIANTS?.split(',');
const GEN = buildGenerator('openstorm');

const c: StormCase = {
  name: 'open-storm',
  title: `Open storm: open(PATH, O_RDONLY) + close, N=${N}, watched and unwatched path`,
  reps: benchInt('BENCH_REPS', 7, 3),
  settleMs: envInt('BENCH_SETTLE_MS', 800),
  workloads: ['watched', 'unwatched'],
  variants: only ? variants.filter((v) => only.includes(v.name)) : variants,
  run: (w, n) => runGenerator(GEN, [String(n ?? N), TARGET[w]!]),
  key: (w) => TARGET[w]!,
  eventsPerOp: 1,
  eventsPerOpFor: (v, w) => (v === 'kite' && w === 'unwatched' ? 0 : 1),
  unit: 'open',
  notes: [
    'watched: /etc/hostname (under /etc, a default watched prefix); unwatched: a file on tmpfs that no prefix covers, so Kite must report nothing for it (captured 0 is right there).',
    'over the floor: ratio minus the floor\'s ratio in the same run; the targets are at most +0.3x (watched) and +0.1x (unwatched).',
  ],
};

mkdirSync(`${DIR}/plain`, { recursive: true });
writeFileSync(TARGET.unwatched!, 'x');
mainStorm(c, () => rmSync(DIR, { recursive: true, force: true })).catch((e: unknown) => {
  log(`open storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
