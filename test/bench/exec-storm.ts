/**
 * Exec storm, side by side: build/bench/execstorm (fork + execve("/bin/true") + waitpid, N times) with
 * no tracer, with Kite (exec receiver -> file exporter) and with libbpf-tools execsnoop. Repetitions
 * are interleaved and the variant order rotates every repetition, so slow drifts of the machine hit
 * every variant alike; ratios are also given per repetition (paired with that repetition's baseline).
 *
 * Each tracer is started and confirmed attached before the workload, and stopped after it: only the
 * workload is timed (the generator measures itself). Tracer CPU is the tracer's CPU time over the
 * workload plus a short settle time, so events it processes just after the workload are included.
 *
 * Prints a markdown table on stdout; raw runs go to build/bench/exec-storm.jsonl.
 * Environment: BENCH_REPS (7), BENCH_EXEC_N (2000), BENCH_SETTLE_MS (500).
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BENCH_BUILD, envInt, fmt, int, LineReader, log, mdTable, median, minMax, peakRssMiB, processCpuSeconds, ROOT, sleep,
  spawnTracked, stopChild, waitExit,
} from './common';

type Variant = 'none' | 'kite' | 'execsnoop';
const VARIANTS: Variant[] = ['none', 'kite', 'execsnoop'];

const REPS = envInt('BENCH_REPS', 7);
const N = envInt('BENCH_EXEC_N', 2000);
const SETTLE_MS = envInt('BENCH_SETTLE_MS', 500);
const SHM = '/dev/shm/kite-bench';
const GENERATOR = resolve(BENCH_BUILD, 'execstorm');
const KITE_MAIN = resolve(ROOT, 'dist', 'src', 'main.js');
const EXECSNOOP = '/usr/sbin/execsnoop';
const RAW = resolve(BENCH_BUILD, 'exec-storm.jsonl');

const KITE_YAML = `receivers:
  exec: {}
exporters:
  file:
    path: ${SHM}/kite.jsonl
service:
  pipelines:
    main:
      receivers: [exec]
      exporters: [file]
`;

interface GenResult {
  pid: number;
  n: number;
  ok: number;
  ns_per_op: number;
}

interface Run {
  rep: number;
  variant: Variant;
  nsPerOp: number;
  performed: number;
  captured?: number;
  lost?: number;
  cpuS?: number;
  rssMiB?: number;
  startupS?: number;
  exitCode?: number;
}

/** A tracer that is attached and running. */
interface Tracer {
  proc: ChildProcess;
  startupS: number;
  /** Stops the tracer (it flushes) and waits for its exit. */
  stop(): Promise<number>;
  /** Events of the generator's children that the tracer recorded, and losses it reported. */
  count(genPid: number): { captured: number; lost: number };
}

/** The variant cannot run at all here (not built, not installed, fails to start): skip it. */
class VariantUnavailable extends Error {}
/** One run went wrong (the tracer died during it): drop that run, keep going. */
class RunFailed extends Error {}
const MAX_FAILED_RUNS = 2;

async function runGenerator(n: number): Promise<GenResult> {
  const gen = spawnTracked(GENERATOR, [String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  const line = await out.next(120_000);
  const code = await waitExit(gen, 10_000);
  if (!line || code !== 0) throw new Error(`execstorm ${n} failed (exit ${code}): ${out.tail.join(' | ')}`);
  return JSON.parse(line) as GenResult;
}

function tailOf(lines: string[], n = 8): string {
  if (!lines.length) return '    (none)';
  return lines.slice(-n).map((l) => `    ${l.slice(0, 300)}`).join('\n');
}

/** Kite logs its counters when it stops: {"msg":"stopped","stats":{"receiver/exec":{"ring_full":N,...},...}}. */
function ringFullOf(line: string): number {
  try {
    const stats = (JSON.parse(line) as { stats?: Record<string, Record<string, unknown>> }).stats ?? {};
    return Object.values(stats).reduce((a, c) => a + (typeof c['ring_full'] === 'number' ? c['ring_full'] : 0), 0);
  } catch {
    return 0;
  }
}

async function startKite(): Promise<Tracer> {
  if (!existsSync(KITE_MAIN)) {
    throw new VariantUnavailable(`${KITE_MAIN} does not exist: the Kite CLI has not been built yet (make build)`);
  }
  const yaml = `${SHM}/kite.yaml`;
  const out = `${SHM}/kite.jsonl`;
  writeFileSync(yaml, KITE_YAML);
  rmSync(out, { force: true });
  const t0 = performance.now();
  const proc = spawnTracked(process.execPath, [KITE_MAIN, 'run', '--config', yaml], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let ready = false;
  let ringFull = 0;
  let resolveReady: () => void = () => {};
  const readyP = new Promise<void>((r) => (resolveReady = r));
  const err = new LineReader(proc.stderr!, (l) => {
    if (!ready && l.includes('"msg":"ready"')) {
      ready = true;
      resolveReady();
    }
    if (l.includes('"msg":"stopped"')) ringFull += ringFullOf(l);
  });
  const stdout = new LineReader(proc.stdout!);
  const exited = waitExit(proc, 60_000).catch(() => -1);
  const timeout = sleep(60_000).then(() => 'timeout' as const);
  const first = await Promise.race([readyP.then(() => 'ready' as const), exited.then(() => 'exit' as const), timeout]);
  if (first !== 'ready') {
    const how = first === 'timeout' ? 'did not log "msg":"ready" within 60 s' : proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with code ${proc.exitCode}`;
    if (first === 'timeout') await stopChild(proc, 'SIGKILL', 5000);
    throw new VariantUnavailable(
      `the Kite agent (node ${KITE_MAIN} run --config ${yaml}) ${how} before it was ready; last stderr lines:\n${tailOf(err.tail)}` +
      (stdout.tail.length ? `\n  last stdout lines:\n${tailOf(stdout.tail)}` : ''),
    );
  }
  const startupS = (performance.now() - t0) / 1000;
  return {
    proc,
    startupS,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode ?? -1; // already reported by the caller
      const r = await stopChild(proc, 'SIGTERM', 30_000);
      if (r.killed) log(`kite: did not exit within 30 s of SIGTERM; killed`);
      else if (r.code !== 0) log(`kite: exit code ${r.code} after SIGTERM; last stderr lines:\n${tailOf(err.tail)}`);
      return r.code;
    },
    count(genPid) {
      let captured = 0;
      const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
      for (const line of text.split('\n')) {
        if (!line.includes('process.exec')) continue;
        try {
          const r = JSON.parse(line) as Record<string, unknown>;
          const path = r['process.executable.path'];
          if (r['event.name'] === 'process.exec' && r['process.parent_pid'] === genPid && typeof path === 'string' && path.endsWith('/true')) captured++;
        } catch {
          // a torn last line counts as not captured
        }
      }
      return { captured, lost: ringFull };
    },
  };
}

/** How many tracepoint perf links process `pid` holds, from `bpftool -j perf list`. */
function perfLinksOf(pid: number): number {
  try {
    const list = JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' })) as Array<{ pid: number }>;
    return list.filter((e) => e.pid === pid).length;
  } catch {
    return 0;
  }
}

async function startExecsnoop(): Promise<Tracer> {
  if (!existsSync(EXECSNOOP)) throw new VariantUnavailable(`${EXECSNOOP} is not installed (apt-get install libbpf-tools)`);
  const out = `${SHM}/execsnoop.txt`;
  const errPath = `${SHM}/execsnoop.err`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(errPath, 'w');
  const t0 = performance.now();
  const proc = spawnTracked(EXECSNOOP, [], { stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  // stdout to a file is block-buffered, so no header line can signal readiness: wait for its two
  // tracepoint attachments (sys_enter_execve, sys_exit_execve) instead.
  const deadline = Date.now() + 15_000;
  while (perfLinksOf(proc.pid!) < 2) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new VariantUnavailable(`execsnoop exited with ${proc.exitCode ?? proc.signalCode}: ${readFileSync(errPath, 'utf8').trim().slice(0, 500)}`);
    }
    if (Date.now() > deadline) {
      await stopChild(proc, 'SIGKILL', 5000);
      throw new VariantUnavailable('execsnoop did not attach within 15 s');
    }
    await sleep(20);
  }
  const startupS = (performance.now() - t0) / 1000;
  return {
    proc,
    startupS,
    async stop() {
      // SIGINT: execsnoop leaves its poll loop and returns from main, which flushes stdout.
      const r = await stopChild(proc, 'SIGINT', 10_000);
      if (r.killed) log('execsnoop: did not exit within 10 s of SIGINT; killed');
      return r.code;
    },
    count(genPid) {
      let captured = 0;
      let lost = 0;
      const text = readFileSync(out, 'utf8') + '\n' + readFileSync(errPath, 'utf8');
      for (const line of text.split('\n')) {
        const lostM = /lost (\d+) events/i.exec(line);
        if (lostM) {
          lost += Number(lostM[1]);
          continue;
        }
        // PCOMM PID PPID RET ARGS
        const f = line.trim().split(/\s+/);
        if (f[0] === 'true' && Number(f[2]) === genPid && f[3] === '0') captured++;
      }
      return { captured, lost };
    },
  };
}

async function runOne(rep: number, variant: Variant): Promise<Run> {
  let tracer: Tracer | null = null;
  if (variant === 'kite') tracer = await startKite();
  else if (variant === 'execsnoop') tracer = await startExecsnoop();
  /** CPU seconds and peak RSS of the tracer; RunFailed if it is gone. */
  const snapshot = (when: string): { cpuS: number; rssMiB: number } => {
    const p = tracer!.proc;
    try {
      if (p.exitCode === null && p.signalCode === null) return { cpuS: processCpuSeconds(p.pid!), rssMiB: peakRssMiB(p.pid!) };
    } catch (e) {
      if (p.exitCode === null && p.signalCode === null && existsSync(`/proc/${p.pid}`)) throw e;
    }
    const how = p.signalCode ? `killed by ${p.signalCode}` : p.exitCode !== null ? `exit code ${p.exitCode}` : 'gone from /proc';
    throw new RunFailed(`${variant} (pid ${p.pid}) ended ${when}: ${how}`);
  };
  try {
    if (tracer) await sleep(300); // let the tracer's start-up work settle before timing
    const cpu0 = tracer ? snapshot('before the workload').cpuS : 0;
    const gen = await runGenerator(N);
    const run: Run = { rep, variant, nsPerOp: gen.ns_per_op, performed: gen.ok };
    if (!tracer) return run;
    await sleep(SETTLE_MS);
    const after = snapshot('during the workload');
    run.cpuS = after.cpuS - cpu0;
    run.rssMiB = after.rssMiB;
    run.startupS = tracer.startupS;
    const t = tracer;
    tracer = null;
    run.exitCode = await t.stop();
    const c = t.count(gen.pid);
    run.captured = c.captured;
    run.lost = c.lost;
    return run;
  } finally {
    if (tracer) await tracer.stop();
  }
}

function table(runs: Run[], unavailable: Map<Variant, string>, failed: Map<Variant, number>): string {
  const base = runs.filter((r) => r.variant === 'none');
  const baseByRep = new Map(base.map((r) => [r.rep, r.nsPerOp]));
  const baseMed = median(base.map((r) => r.nsPerOp));
  const rows: string[][] = [];
  for (const v of VARIANTS) {
    const rs = runs.filter((r) => r.variant === v);
    if (!rs.length) {
      rows.push([v, '0', 'not run', '', '', '', '', '', '', '']);
      continue;
    }
    const med = median(rs.map((r) => r.nsPerOp));
    const paired = rs.filter((r) => baseByRep.has(r.rep)).map((r) => r.nsPerOp / baseByRep.get(r.rep)!);
    const performed = rs.reduce((a, r) => a + r.performed, 0);
    const captured = rs.reduce((a, r) => a + (r.captured ?? 0), 0);
    const lost = rs.reduce((a, r) => a + (r.lost ?? 0), 0);
    const tr = v !== 'none';
    rows.push([
      v,
      String(rs.length),
      int(med),
      `${fmt(med / baseMed)}x`,
      v === 'none' ? '' : minMax(paired),
      tr ? `${captured}/${performed} (${fmt((100 * captured) / performed, 2)}%)` : '',
      tr ? String(lost) : '',
      tr ? fmt(median(rs.map((r) => r.cpuS!)), 3) : '',
      tr ? fmt(Math.max(...rs.map((r) => r.rssMiB!)), 1) : '',
      tr ? fmt(median(rs.map((r) => r.startupS!)), 2) : '',
    ]);
  }
  const notes = [
    ...[...failed].filter(([v]) => !unavailable.has(v)).map(([v, n]) => `* ${v}: ${n} run(s) dropped because the tracer died during the run (see the progress log).`),
    ...[...unavailable].map(([v, why]) => `* **${v}: not measured (or stopped being measured).** ${why.split('\n')[0]}`),
  ];
  return [
    `### Exec storm: fork + execve("/bin/true") + waitpid, N=${N}, ${REPS} interleaved reps`,
    '',
    mdTable(
      ['variant', 'reps', 'median ns/op', 'ratio vs none (of medians)', 'paired ratio min-max', 'execs captured / performed', 'lost reported by the tracer', 'tracer CPU s per run (median)', 'tracer peak RSS MiB', 'tracer start-up s (median)'],
      rows,
    ),
    '',
    `Tracer CPU: all threads of the tracer process, from just before the workload to ${SETTLE_MS} ms after it. ` +
      'Both tracers are system-wide: their CPU includes every other exec/fork/exit on the machine; Kite also records fork and exit. ' +
      'Captured: process.exec records (Kite) or execsnoop lines of `true` with RET 0 whose parent is the generator. ' +
      'Lost: the ring_full counters Kite logs when it stops; "Lost N events" lines of execsnoop.',
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(GENERATOR)) throw new Error(`${GENERATOR} is missing: run test/bench/run.sh`);
  mkdirSync(SHM, { recursive: true });
  writeFileSync(RAW, '');
  const unavailable = new Map<Variant, string>();
  const failed = new Map<Variant, number>();
  const runs: Run[] = [];
  log(`exec storm: N=${N}, ${REPS} reps x ${VARIANTS.join('/')}`);
  await runGenerator(Math.min(200, N)); // warm the page cache and the fork path, untimed
  for (let rep = 0; rep < REPS; rep++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
    for (const v of order) {
      if (unavailable.has(v)) continue;
      try {
        const r = await runOne(rep, v);
        runs.push(r);
        appendFileSync(RAW, `${JSON.stringify(r)}\n`);
        const extra = r.variant === 'none' ? '' : ` captured ${r.captured}/${r.performed} cpu ${fmt(r.cpuS ?? NaN, 3)} s rss ${fmt(r.rssMiB ?? NaN, 1)} MiB`;
        log(`rep ${rep + 1}/${REPS} ${v}: ${int(r.nsPerOp)} ns/op${extra}`);
      } catch (e) {
        if (e instanceof RunFailed) {
          const n = (failed.get(v) ?? 0) + 1;
          failed.set(v, n);
          log(`rep ${rep + 1}/${REPS} ${v}: run dropped: ${e.message}`);
          if (n >= MAX_FAILED_RUNS) unavailable.set(v, `${n} runs failed, the last one: ${e.message}`);
          continue;
        }
        if (!(e instanceof VariantUnavailable)) throw e;
        if (runs.some((r) => r.variant === v)) {
          // it did run before: a start-up failure now is one bad run, not an unavailable variant
          const n = (failed.get(v) ?? 0) + 1;
          failed.set(v, n);
          log(`rep ${rep + 1}/${REPS} ${v}: run dropped: ${e.message}`);
          if (n >= MAX_FAILED_RUNS) unavailable.set(v, `${n} runs failed, the last one: ${e.message}`);
          continue;
        }
        unavailable.set(v, e.message);
        log(`${v} variant skipped: ${e.message}`);
      }
    }
  }
  process.stdout.write(`${table(runs, unavailable, failed)}\n`);
  rmSync(SHM, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  log(`exec storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
