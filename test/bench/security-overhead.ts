/**
 * Overhead of the security receiver on a syscall-heavy workload that does none of the things it
 * reports: build/bench/getppidstorm's workers call getppid() in a tight loop. Four variants per
 * repetition, in a rotated order: no program; a bare counter on the receiver's hooks (one per-CPU
 * increment per program, bpf/bench/syscount.bpf.c: the same per-syscall tracepoint pairs the
 * receiver attaches with every family); a bare counter on every syscall (tp_btf/sys_enter and
 * sys_exit, the receiver's hooks before); and the security receiver with every family enabled (in
 * this process, as the agent runs it). Reported: the generator's getppid() calls per second, the
 * ratio to no program, and the receiver's ratio to each counter (what it costs beyond its hooks, and
 * against the all-syscalls hooks).
 *
 * Usage (root, after make build): node dist/test/bench/security-overhead.js
 * Environment: BENCH_SEC_REPS (5), BENCH_SEC_SECONDS (2), BENCH_SEC_PROCS (1); KITE_BENCH_QUICK=1 for 3
 * repetitions of 1 s.
 * Prints a markdown table on stdout; raw runs go to build/bench/security-overhead.jsonl.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { parseComponentId } from '../../src/component/component';
import { securityFactory } from '../../src/receivers/security/factory';
import { SecurityReceiver } from '../../src/receivers/security/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { hooksOf, FAMILIES } from '../../src/receivers/security/syscalls';
import { BENCH_BUILD, benchInt, envInt, fmt, int, LineReader, log, mdTable, median, minMax, QUICK, ROOT, spawnTracked, waitExit } from './common';

const REPS = benchInt('BENCH_SEC_REPS', 5, 3);
const SECONDS = benchInt('BENCH_SEC_SECONDS', 2, 1);
const PROCS = envInt('BENCH_SEC_PROCS', 1);
const GENERATOR = resolve(BENCH_BUILD, 'getppidstorm');
const COUNTER = resolve(ROOT, 'build', 'bpf', 'bench', 'syscount.bpf.o');
const RAW = resolve(BENCH_BUILD, 'security-overhead.jsonl');
const VARIANTS = ['none', 'counter_same', 'counter_all', 'security'] as const;
type Variant = (typeof VARIANTS)[number];
/** The counter's programs on the receiver's hooks: every family, as this kernel has them. */
const SAME_HOOKS = hooksOf(FAMILIES).syscalls.flatMap((s) => [`count_enter_${s}`, `count_exit_${s}`]);

function buildGenerator(): void {
  const src = resolve(ROOT, 'test', 'bench', 'getppidstorm.c');
  mkdirSync(BENCH_BUILD, { recursive: true });
  if (!existsSync(GENERATOR) || statSync(GENERATOR).mtimeMs < statSync(src).mtimeMs) execFileSync('gcc', ['-O2', '-Wall', '-o', GENERATOR, src]);
}

/** Attaches the variant's programs; returns how to detach them. */
async function attach(v: Variant): Promise<() => Promise<void>> {
  if (v === 'none') return async () => {};
  if (v === 'counter_same' || v === 'counter_all') {
    const obj = BpfObject.open(COUNTER);
    const progs = v === 'counter_all' ? ['count_sys_enter', 'count_sys_exit'] : SAME_HOOKS;
    for (const p of obj.programs()) if (!progs.includes(p.name)) p.setAutoload(false);
    obj.load();
    for (const p of progs) obj.attach(p);
    return async () => {
      obj.detach();
      obj.close();
    };
  }
  const rx = securityFactory.create(parseComponentId('security')!, settings(securityFactory, { ring_buffer_size: '1MiB' }), testHost()) as SecurityReceiver;
  let records = 0;
  rx.records$.subscribe(() => records++);
  await rx.start();
  return async () => {
    await rx.shutdown();
    if (records) log(`security: ${records} records during the run (other activity on the machine)`);
  };
}

async function runOnce(v: Variant): Promise<number> {
  const gen = spawnTracked(GENERATOR, [String(SECONDS), String(PROCS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  await out.next(5000);
  const detach = await attach(v);
  try {
    gen.stdin!.end('go\n');
    const line = await out.next((SECONDS + 10) * 1000);
    await waitExit(gen, (SECONDS + 10) * 1000);
    if (!line) throw new Error(`${v}: the generator printed no result`);
    return (JSON.parse(line) as { calls_per_s: number }).calls_per_s;
  } finally {
    await detach();
  }
}

async function main(): Promise<void> {
  setLibbpfLogger(() => {});
  buildGenerator();
  const rates: Record<Variant, number[]> = { none: [], counter_same: [], counter_all: [], security: [] };
  const vsNone: Record<Variant, number[]> = { none: [], counter_same: [], counter_all: [], security: [] };
  const secVsSame: number[] = [];
  const secVsAll: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
    const got: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      const r = await runOnce(v);
      got[v] = r;
      rates[v].push(r);
      appendFileSync(RAW, `${JSON.stringify({ rep, variant: v, procs: PROCS, seconds: SECONDS, calls_per_s: r })}\n`);
      log(`rep ${rep + 1}/${REPS} ${v}: ${int(r)} getppid/s`);
    }
    for (const v of VARIANTS) vsNone[v].push(got[v]! / got.none!);
    secVsSame.push(got.security! / got.counter_same!);
    secVsAll.push(got.security! / got.counter_all!);
  }
  const label: Record<Variant, string> = {
    none: 'no program',
    counter_same: `bare counter on the receiver's hooks (${SAME_HOOKS.length} per-syscall tracepoints)`,
    counter_all: 'bare counter on every syscall (tp_btf sys_enter + sys_exit)',
    security: 'security receiver, every family',
  };
  const rows = VARIANTS.map((v) => [
    label[v],
    int(median(rates[v])),
    fmt(median(vsNone[v]), 3),
    minMax(vsNone[v], 3),
    v === 'security' ? `${fmt(median(secVsSame), 3)} (${minMax(secVsSame, 3)})` : '',
    v === 'security' ? `${fmt(median(secVsAll), 3)} (${minMax(secVsAll, 3)})` : '',
  ]);
  process.stdout.write(`### Security receiver overhead: getppid() storm, ${PROCS} process(es), ${SECONDS} s, ${REPS} repetitions${QUICK ? ' (quick run)' : ''}

`);
  process.stdout.write(mdTable(['variant', 'median getppid/s', 'ratio vs none', 'paired min-max', 'receiver vs counter on its hooks (min-max)', 'receiver vs counter on every syscall (min-max)'], rows));
  process.stdout.write('\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
