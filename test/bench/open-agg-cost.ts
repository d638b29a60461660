/**
 * In-kernel cost per open of the file receiver's exit program on openat, with the aggregation of
 * repeated opens (`aggregate`) off and on: build/bench/openstorm opens /etc/hostname N times (a watched
 * path), and a file on /dev/shm that no prefix covers (unwatched: decided in the kernel, no record),
 * while the receiver runs in this process; the kernel's run statistics (BPF_ENABLE_STATS) give
 * run time / run count of handle_exit_openat over the run. Variants interleave per repetition; also
 * the generator's own ns per open, the records the receiver delivered (every watched path of the
 * default prefixes, so other processes' opens too) and those lost because the ring was full.
 *
 * Prints a markdown table. Environment: BENCH_REPS (6; quick 3), BENCH_OPEN_N (200000; quick 50000).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { enableRunTimeStats, objectRunStats } from '../../src/bpf/prog-stats';
import { fileReceiverFactory } from '../../src/receivers/file/factory';
import { FileReceiver } from '../../src/receivers/file/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { benchInt, buildGenerator, fmt, int, log, mdTable, quantile, runGenerator, sleep } from './common';

const N = benchInt('BENCH_OPEN_N', 200_000, 50_000);
const REPS = benchInt('BENCH_REPS', 6, 3);
const GEN = buildGenerator('openstorm');
const TARGET = '/etc/hostname';
const UNWATCHED = '/dev/shm/kite-open-agg-cost';
const PROGRAM = 'handle_exit_openat';

interface Run {
  variant: string;
  nsPerRun: number;
  runs: number;
  genNsPerOp: number;
  records: number;
  ringFull: number;
}

async function once(variant: string, window: string, target: string): Promise<Run> {
  const host = testHost();
  const rx = fileReceiverFactory.create(parseComponentId('file/cost')!, settings(fileReceiverFactory, { operations: ['open'], aggregate: { window } }), host) as FileReceiver;
  let records = 0;
  rx.records$.subscribe(() => records++);
  await rx.start();
  const obj = (rx as unknown as { obj: Parameters<typeof objectRunStats>[0] }).obj;
  await sleep(300);
  const before = objectRunStats(obj).find((p) => p.name === PROGRAM)!;
  const gen = await runGenerator(GEN, [String(N), target]);
  const after = objectRunStats(obj).find((p) => p.name === PROGRAM)!;
  await rx.shutdown();
  const runs = after.runCount - before.runCount;
  const ringFull = host.stats.get('receiver/file/cost', 'ring_full');
  return { variant, nsPerRun: (after.runTimeNs - before.runTimeNs) / Math.max(1, runs), runs, genNsPerOp: gen.ns_per_op, records, ringFull };
}

async function main(): Promise<void> {
  setLibbpfLogger(() => {});
  const st = enableRunTimeStats();
  if (!st.on) throw new Error(st.reason);
  writeFileSync(UNWATCHED, 'x');
  const variants: [string, string, string][] = [['watched, off', '0s', TARGET], ['watched, on (window 1s)', '1s', TARGET], ['unwatched path', '0s', UNWATCHED], ['unwatched path, on (window 1s)', '1s', UNWATCHED]];
  const runs: Run[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, window, target] of rep % 2 ? [...variants].reverse() : variants) {
      const r = await once(name, window, target);
      runs.push(r);
      log(`open-agg-cost rep ${rep + 1}/${REPS} ${name}: ${fmt(r.nsPerRun, 0)} ns per run of ${PROGRAM} (${int(r.runs)} runs), generator ${int(r.genNsPerOp)} ns/open, ${int(r.records)} records, ${int(r.ringFull)} lost (ring full)`);
    }
  }
  const rows = variants.map(([name]) => {
    const rs = runs.filter((r) => r.variant === name);
    const ns = rs.map((r) => r.nsPerRun).sort((a, b) => a - b);
    const gen = rs.map((r) => r.genNsPerOp).sort((a, b) => a - b);
    const rec = rs.map((r) => r.records).sort((a, b) => a - b);
    const full = rs.map((r) => r.ringFull).sort((a, b) => a - b);
    return [name, String(rs.length), `${fmt(quantile(ns, 0.5), 0)} (${fmt(ns[0]!, 0)}-${fmt(ns[ns.length - 1]!, 0)})`, `${int(quantile(gen, 0.5))} (${int(gen[0]!)}-${int(gen[gen.length - 1]!)})`, int(quantile(rec, 0.5)), int(quantile(full, 0.5))];
  });
  rmSync(UNWATCHED, { force: true });
  console.log(`### In-kernel cost per open, aggregation off and on: ${int(N)} opens of ${TARGET}, and of ${UNWATCHED} (unwatched)\n`);
  console.log(mdTable(['variant', 'reps', `ns per run of ${PROGRAM}, median (min-max)`, 'generator ns/open, median (min-max)', 'records delivered, median', 'lost (ring full), median'], rows));
}

main().catch((e: unknown) => {
  log(`open-agg-cost failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
