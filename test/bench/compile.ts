/**
 * The real workload, side by side: building the Lua library (every .c of Lua 5.4 and 5.3 as the
 * lua-src crate vendors them, `make -j2`, gcc -O2, objects on tmpfs) with no tracer, with the floor (a
 * bare counter on every hook of config/bench.yaml), with Kite running config/bench.yaml, with
 * libbpf-tools execsnoop + opensnoop together, with bpftrace (exec and open printfs in one script) and
 * with auditd (execve and openat rules). The sources are fetched once from crates.io into
 * /var/cache/kite-bench (test/bench/fetch-sources.sh). Variants rotate per repetition.
 *
 * A compile is thousands of execs and tens of thousands of opens spread over seconds: what matters is
 * whether any tracer's slowdown stands out of the run-to-run noise, so the table gives the spread of
 * the no-agent runs as well. Environment: BENCH_COMPILE_REPS (5; quick 2), BENCH_COMPILE_VERSIONS
 * (lua-5.4.7,lua-5.3.6; quick lua-5.4.7), BENCH_VARIANTS.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  benchInt, FLOOR_SLOT, groupTracer, log, mainStorm, QUICK, ROOT, SHM_ROOT, spawnTracked, startAudit, startBpftrace, startFloor, startKite,
  startTool, StormCase, VariantSpec, waitExit,
} from './common';

const VERSIONS = (process.env.BENCH_COMPILE_VERSIONS || (QUICK ? 'lua-5.4.7' : 'lua-5.4.7,lua-5.3.6')).split(',');
const OUT = `${SHM_ROOT}/compile`;
const MK = resolve(ROOT, 'test', 'bench', 'lua.mk');
const SRC = execFileSync('bash', [resolve(ROOT, 'test', 'bench', 'fetch-sources.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

const never = (): boolean => false;
const variants: VariantSpec[] = [
  { name: 'none', what: 'the build alone.', start: async () => null },
  { name: 'floor', what: 'bare per-CPU counters on every hook of config/bench.yaml (bpf/bench/allcount.bpf.c).', start: () => startFloor(FLOOR_SLOT.exec) },
  { name: 'kite', what: 'the agent on config/bench.yaml (every receiver, enrich, filter, dedupe, to a file and to Kafka).', start: () => startKite('compile-kite', never) },
  {
    name: 'libbpf-tools', what: 'execsnoop and opensnoop together, to files on tmpfs.',
    start: async () => groupTracer([
      await startTool('compile-execsnoop', '/usr/sbin/execsnoop', [], { links: 2, match: never }),
      await startTool('compile-opensnoop', '/usr/sbin/opensnoop', [], { links: 2, match: never }),
    ]),
  },
  {
    name: 'bpftrace', what: 'one bpftrace with the exec and open printfs of the storms.',
    start: () => startBpftrace('compile-bpftrace', 'tracepoint:syscalls:sys_enter_execve { printf("%d %d %s\\n", pid, curtask->real_parent->tgid, str(args->filename)); } ' +
      'tracepoint:syscalls:sys_enter_openat { printf("%d %s\\n", pid, str(args->filename)); }', 2, never),
  },
  { name: 'auditd', what: 'auditd with execve and openat rules, its log on tmpfs.', start: () => startAudit('compile-audit', ['execve', 'openat']) },
];

async function build(): Promise<{ pid: number; n: number; ok: number; ns_per_op: number }> {
  rmSync(OUT, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  let ok = 1;
  let pid = 0;
  for (const v of VERSIONS) {
    const make = spawnTracked('make', ['-s', '-j2', '-f', MK, `SRC=${SRC}/${v}`, `OUT=${OUT}/${v}`], { stdio: ['ignore', 'ignore', 'ignore'] });
    pid ||= make.pid!;
    if ((await waitExit(make, 600_000)) !== 0) ok = 0;
  }
  if (!ok) throw new Error(`the Lua build failed (make -f ${MK} SRC=${SRC}/...)`);
  return { pid, n: 1, ok, ns_per_op: Number(process.hrtime.bigint() - t0) };
}

const only = process.env.BENCH_VARIANTS?.split(',');
const c: StormCase = {
  name: 'compile',
  title: `Real workload: building the Lua library (${VERSIONS.join(' and ')}, make -j2, gcc -O2)`,
  reps: benchInt('BENCH_COMPILE_REPS', 5, 2),
  settleMs: 500,
  workloads: ['lua'],
  variants: only ? variants.filter((v) => only.includes(v.name)) : variants,
  run: () => build(),
  key: () => '',
  eventsPerOp: 0,
  unit: 'build',
  inMs: true,
  notes: [
    'One op is the whole build; ns/build is its wall time. Tracers see every exec and open of the build (and of the rest of the machine); events are not matched per build here.',
    'Noise: the paired ratios of the floor, whose cost is tiny, show how far two builds differ for no reason on this machine.',
  ],
};

mainStorm(c, () => rmSync(OUT, { recursive: true, force: true })).catch((e: unknown) => {
  log(`compile failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
