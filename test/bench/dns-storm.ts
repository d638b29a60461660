/**
 * DNS query storm, side by side: build/bench/dnsstorm (BENCH_DNS_PROCS processes making BENCH_DNS_N
 * lookups in all against a local responder on 127.0.0.1:BENCH_DNS_PORT, each lookup on a new connected
 * UDP socket as the C library's resolver does) with no tracer, with Kite (dns receiver on loopback ->
 * file exporter) and with tcpdump (`-i lo port <port>`, decoding DNS to text, as Kite does). Repetitions
 * are interleaved and the variant order rotates, so slow drifts hit every variant alike.
 *
 * Measured per variant: workload time per lookup and slowdown against no tracer, events captured
 * (Kite: dns.query + dns.answer records of this run; tcpdump: printed packets) per second of workload,
 * how many queries carry the querying pid (Kite), drops the tracer reports (Kite: packet socket
 * drops, kernel_drops; tcpdump: "dropped by kernel"), and tracer CPU seconds (all threads, from just
 * before the workload to BENCH_SETTLE_MS after it).
 *
 * Runs on its own: `node dist/test/bench/dns-storm.js` (root; builds build/bench/dnsstorm if needed).
 * Prints a markdown table on stdout; raw runs go to build/bench/dns-storm.jsonl.
 * Environment: BENCH_REPS (3), BENCH_DNS_N (20000), BENCH_DNS_PROCS (2), BENCH_DNS_PORT (53),
 * BENCH_SETTLE_MS (500).
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BENCH_BUILD, envInt, fmt, int, LineReader, log, mdTable, median, processCpuSeconds, ROOT, sleep, spawnTracked, stopChild, waitExit,
} from './common';

type Variant = 'none' | 'kite' | 'tcpdump';
const VARIANTS: Variant[] = ['none', 'kite', 'tcpdump'];

const REPS = envInt('BENCH_REPS', 3);
const N = envInt('BENCH_DNS_N', 20000);
const PROCS = envInt('BENCH_DNS_PROCS', 2);
const PORT = envInt('BENCH_DNS_PORT', 53);
const SETTLE_MS = envInt('BENCH_SETTLE_MS', 500);
const SHM = '/dev/shm/kite-bench-dns';
const GENERATOR = resolve(BENCH_BUILD, 'dnsstorm');
const GENERATOR_SRC = resolve(ROOT, 'test', 'bench', 'dnsstorm.c');
const KITE_MAIN = resolve(ROOT, 'dist', 'src', 'main.js');
const TCPDUMP = '/usr/bin/tcpdump';
const RAW = resolve(BENCH_BUILD, 'dns-storm.jsonl');

interface Run {
  rep: number;
  variant: Variant;
  nsPerOp: number;
  performed: number;
  seconds: number;
  events?: number;
  attributed?: number;
  drops?: number;
  cpuS?: number;
}

interface Tracer {
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Events of this run's tag, queries carrying the pid, and drops the tracer reported. */
  count(tag: string): { events: number; attributed: number; drops: number };
}

class VariantUnavailable extends Error {}

function buildGenerator(): void {
  if (existsSync(GENERATOR) && statSync(GENERATOR).mtimeMs >= statSync(GENERATOR_SRC).mtimeMs) return;
  mkdirSync(BENCH_BUILD, { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-o', GENERATOR, GENERATOR_SRC]);
}

async function runGenerator(n: number, tag: string): Promise<{ pid: number; n: number; ok: number; ns_per_op: number }> {
  const gen = spawnTracked(GENERATOR, ['query', String(PORT), String(n), String(PROCS), tag], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  const line = await out.next(300_000);
  const code = await waitExit(gen, 10_000);
  if (!line || code !== 0) throw new Error(`dnsstorm query failed (exit ${code})`);
  return JSON.parse(line);
}

async function startKite(): Promise<Tracer> {
  if (!existsSync(KITE_MAIN)) throw new VariantUnavailable(`${KITE_MAIN} does not exist (make build)`);
  const yaml = `${SHM}/kite.yaml`;
  const out = `${SHM}/kite.jsonl`;
  writeFileSync(yaml, `receivers:
  dns:
    interfaces: [lo]
    ports: [${PORT}]
exporters:
  file:
    path: ${out}
service:
  pipelines:
    main:
      receivers: [dns]
      exporters: [file]
`);
  rmSync(out, { force: true });
  const proc = spawnTracked(process.execPath, [KITE_MAIN, 'run', '--config', yaml], { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let stats: Record<string, Record<string, number>> = {};
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((r) => (resolveReady = r));
  const err = new LineReader(proc.stderr!, (l) => {
    if (l.includes('"msg":"ready"')) resolveReady();
    if (l.includes('"msg":"stopped"')) {
      try {
        stats = (JSON.parse(l) as { stats: typeof stats }).stats;
      } catch {
        // keep what we have
      }
    }
  });
  const exited = waitExit(proc, 60_000).catch(() => -1).then(() => 'exit' as const);
  if ((await Promise.race([ready.then(() => 'ready' as const), exited])) !== 'ready') {
    throw new VariantUnavailable(`the Kite agent exited before it was ready: ${err.tail.slice(-3).join(' | ')}`);
  }
  return {
    proc,
    async stop() {
      await stopChild(proc, 'SIGTERM', 30_000);
    },
    count(tag) {
      let events = 0;
      let attributed = 0;
      for (const line of (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n')) {
        if (!line.includes(tag)) continue;
        try {
          const r = JSON.parse(line) as Record<string, unknown>;
          if (r['event.name'] !== 'dns.query' && r['event.name'] !== 'dns.answer') continue;
          events++;
          if (r['event.name'] === 'dns.query' && typeof r['process.pid'] === 'number') attributed++;
        } catch {
          // a torn last line
        }
      }
      return { events, attributed, drops: stats['receiver/dns']?.kernel_drops ?? 0 };
    },
  };
}

async function startTcpdump(): Promise<Tracer> {
  if (!existsSync(TCPDUMP)) throw new VariantUnavailable(`${TCPDUMP} is not installed (apt-get install tcpdump)`);
  const out = `${SHM}/tcpdump.txt`;
  const errPath = `${SHM}/tcpdump.err`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(errPath, 'w');
  const proc = spawnTracked(TCPDUMP, ['-i', 'lo', '-n', '-l', '-B', '4096', 'port', String(PORT)], { stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const deadline = Date.now() + 15_000;
  while (!readFileSync(errPath, 'utf8').includes('listening on')) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new VariantUnavailable(`tcpdump exited: ${readFileSync(errPath, 'utf8').trim()}`);
    if (Date.now() > deadline) throw new VariantUnavailable('tcpdump did not start listening within 15 s');
    await sleep(20);
  }
  return {
    proc,
    async stop() {
      await stopChild(proc, 'SIGINT', 10_000);
    },
    count(tag) {
      // a query line names the question; its answer line does not, but carries "1/0/0"
      let events = 0;
      for (const line of readFileSync(out, 'utf8').split('\n')) if (line.includes(tag) || line.includes(' 1/0/0 ')) events++;
      const m = /(\d+) packets? dropped by kernel/.exec(readFileSync(errPath, 'utf8'));
      return { events, attributed: 0, drops: m ? Number(m[1]) : 0 };
    },
  };
}

async function runOne(rep: number, variant: Variant): Promise<Run> {
  const tag = `r${randomBytes(4).toString('hex')}.storm.test`;
  let tracer: Tracer | null = null;
  if (variant === 'kite') tracer = await startKite();
  else if (variant === 'tcpdump') tracer = await startTcpdump();
  try {
    if (tracer) await sleep(300);
    const cpu0 = tracer ? processCpuSeconds(tracer.proc.pid!) : 0;
    const gen = await runGenerator(N, tag);
    const run: Run = { rep, variant, nsPerOp: gen.ns_per_op, performed: gen.ok, seconds: (gen.ns_per_op * gen.n) / 1e9 };
    if (!tracer) return run;
    await sleep(SETTLE_MS);
    run.cpuS = processCpuSeconds(tracer.proc.pid!) - cpu0;
    const t = tracer;
    tracer = null;
    await t.stop();
    Object.assign(run, t.count(tag));
    return run;
  } finally {
    if (tracer) await tracer.stop();
  }
}

function table(runs: Run[], unavailable: Map<Variant, string>): string {
  const baseMed = median(runs.filter((r) => r.variant === 'none').map((r) => r.nsPerOp));
  const rows = VARIANTS.map((v) => {
    const rs = runs.filter((r) => r.variant === v);
    if (!rs.length) return [v, '0', 'not run', '', '', '', '', '', '', ''];
    const med = median(rs.map((r) => r.nsPerOp));
    const tr = v !== 'none';
    const performed = rs.reduce((a, r) => a + r.performed, 0);
    const events = rs.reduce((a, r) => a + (r.events ?? 0), 0);
    return [
      v,
      String(rs.length),
      int(med),
      tr ? `${fmt(100 * (med / baseMed - 1), 1)}%` : '',
      int(median(rs.map((r) => r.performed / r.seconds))),
      tr ? `${events}/${2 * performed} (${fmt((100 * events) / (2 * performed), 2)}%)` : '',
      tr ? int(median(rs.map((r) => (r.events ?? 0) / r.seconds))) : '',
      v === 'kite' ? `${fmt((100 * rs.reduce((a, r) => a + (r.attributed ?? 0), 0)) / performed, 2)}%` : '',
      tr ? String(rs.reduce((a, r) => a + (r.drops ?? 0), 0)) : '',
      tr ? fmt(median(rs.map((r) => r.cpuS!)), 3) : '',
      tr ? fmt(median(rs.map((r) => (1e6 * r.cpuS!) / Math.max(1, r.events ?? 0))), 1) : '',
    ];
  });
  const notes = [...unavailable].map(([v, why]) => `* **${v}: not measured.** ${why.split('\n')[0]}`);
  return [
    `### DNS storm: ${N} lookups (new UDP socket each) by ${PROCS} processes against 127.0.0.1:${PORT}, ${REPS} interleaved reps`,
    '',
    mdTable(['variant', 'reps', 'median ns/lookup', 'workload slowdown', 'lookups/s', 'events captured / packets', 'events/s', 'queries with pid', 'drops reported', 'tracer CPU s per run (median)'], rows),
    '',
    'Events: Kite dns.query + dns.answer records; tcpdump printed packet lines. Tracer CPU covers the workload plus the settle time ' +
      '(a tracer that falls behind catches up then). Slowdown compares medians of interleaved runs: on a small shared machine, read it with the per-run lines on stderr.',
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  buildGenerator();
  mkdirSync(SHM, { recursive: true });
  mkdirSync(BENCH_BUILD, { recursive: true });
  writeFileSync(RAW, '');
  const server = spawnTracked(GENERATOR, ['serve', String(PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ready = await new LineReader(server.stdout!).next(5000);
    if (ready !== 'ready') throw new Error(`the responder did not start on port ${PORT}`);
    const unavailable = new Map<Variant, string>();
    const runs: Run[] = [];
    log(`dns storm: N=${N}, ${PROCS} procs, port ${PORT}, ${REPS} reps x ${VARIANTS.join('/')}`);
    await runGenerator(Math.min(1000, N), 'warmup.storm.test');
    for (let rep = 0; rep < REPS; rep++) {
      for (const v of VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!)) {
        if (unavailable.has(v)) continue;
        try {
          const r = await runOne(rep, v);
          runs.push(r);
          appendFileSync(RAW, `${JSON.stringify(r)}\n`);
          log(`rep ${rep + 1}/${REPS} ${v}: ${int(r.nsPerOp)} ns/lookup${v === 'none' ? '' : ` events ${r.events} drops ${r.drops} cpu ${fmt(r.cpuS ?? NaN, 3)} s`}`);
        } catch (e) {
          if (!(e instanceof VariantUnavailable)) throw e;
          unavailable.set(v, e.message);
          log(`${v} variant skipped: ${e.message}`);
        }
      }
    }
    process.stdout.write(`${table(runs, unavailable)}\n`);
  } finally {
    await stopChild(server, 'SIGKILL', 5000);
    rmSync(SHM, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  log(`dns storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
