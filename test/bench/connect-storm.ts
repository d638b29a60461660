/**
 * Connect storm, side by side: build/bench/connstorm (socket + connect to a loopback listener + accept
 * + close, N times) with no tracer, with a bare in-kernel counter on every hook the connect receiver
 * attaches (the floor: bpf/bench/conncount.bpf.c), with Kite (connect receiver -> file exporter), with
 * libbpf-tools tcpstates (tcpconnect needs kprobes) and with bpftrace (a sys_enter_connect printf).
 *
 * Repetitions are interleaved and the variant order rotates every repetition.
 * Only the workload is timed (the generator measures itself). Tracer CPU: the tracer process over the
 * workload and until its output stops growing (it has caught up), so the next workload runs on a quiet
 * machine; not counted for the floor, whose cost is all in the traced task. Losses are per run: what
 * the tracer reported during that run (Kite: the kernel's ring_full counter, logged as lost_total).
 *
 * Prints a markdown table on stdout; raw runs go to build/bench/connect-storm.jsonl.
 * Environment: BENCH_REPS (7), BENCH_CONNECT_N (20000), BENCH_SETTLE_MS (1200), BENCH_VARIANTS
 * (comma-separated subset of none,floor,kite,tcpstates,bpftrace).
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BENCH_BUILD, envInt, fmt, int, LineReader, log, mdTable, median, minMax, processCpuSeconds, ROOT, sleep, spawnTracked,
  stopChild, waitExit,
} from './common';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { cgroup2Root } from '../../src/receivers/filters';

type Variant = 'none' | 'floor' | 'kite' | 'tcpstates' | 'bpftrace';
type Workload = 'loopback';
const ALL: Variant[] = ['none', 'floor', 'kite', 'tcpstates', 'bpftrace'];
const VARIANTS: Variant[] = process.env.BENCH_VARIANTS ? (process.env.BENCH_VARIANTS.split(',') as Variant[]).filter((v) => ALL.includes(v)) : ALL;
const WORKLOADS: Workload[] = ['loopback'];

const REPS = envInt('BENCH_REPS', 7);
const N = envInt('BENCH_CONNECT_N', 20000);
const SETTLE_MS = envInt('BENCH_SETTLE_MS', 1200);
const SHM = '/dev/shm/kite-bench-connect';
const PORT = 40000 + (process.pid % 20000);
const TARGET: Record<Workload, string> = { loopback: String(PORT) };
const GENERATOR = resolve(BENCH_BUILD, 'connstorm');
const GENERATOR_SRC = resolve(ROOT, 'test', 'bench', 'connstorm.c');
const FLOOR_OBJ = resolve(ROOT, 'build', 'bpf', 'bench', 'conncount.bpf.o');
const KITE_MAIN = resolve(ROOT, 'dist', 'src', 'main.js');
const TCPSTATES = '/usr/sbin/tcpstates';
const BPFTRACE = '/usr/bin/bpftrace';
const RAW = resolve(BENCH_BUILD, 'connect-storm.jsonl');

interface GenResult { pid: number; n: number; ok: number; ns_per_op: number }

interface Run {
  rep: number;
  variant: Variant;
  workload: Workload;
  nsPerOp: number;
  performed: number;
  captured?: number;
  lost?: number;
  cpuS?: number;
}

interface Tracer {
  pid: number | null;
  /** Output file that grows while the tracer catches up (null: nothing to wait for). */
  output: string | null;
  stop(): Promise<void>;
  /** Events for `path` by process `genPid`, and losses the tracer reported (all runs so far). */
  count(genPid: number, path: string): { captured: number; lost: number };
}

class VariantUnavailable extends Error {}

function buildGenerator(): void {
  if (existsSync(GENERATOR) && statSync(GENERATOR).mtimeMs >= statSync(GENERATOR_SRC).mtimeMs) return;
  mkdirSync(BENCH_BUILD, { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-o', GENERATOR, GENERATOR_SRC]);
}

async function runGenerator(n: number, path: string): Promise<GenResult> {
  const gen = spawnTracked(GENERATOR, [String(n), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  const line = await out.next(300_000);
  const code = await waitExit(gen, 10_000);
  if (!line || code !== 0) throw new Error(`connstorm ${n} ${path} failed (exit ${code})`);
  return JSON.parse(line) as GenResult;
}

function perfLinksOf(pid: number): number {
  try {
    const list = JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' })) as Array<{ pid: number }>;
    return list.filter((e) => e.pid === pid).length;
  } catch {
    return 0;
  }
}

async function waitLinks(proc: ChildProcess, n: number, what: string, errPath: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (perfLinksOf(proc.pid!) < n) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new VariantUnavailable(`${what} exited: ${readFileSync(errPath, 'utf8').slice(0, 400)}`);
    if (Date.now() > deadline) {
      await stopChild(proc, 'SIGKILL', 5000);
      throw new VariantUnavailable(`${what} did not attach within 20 s`);
    }
    await sleep(20);
  }
}

function startFloor(): Tracer {
  if (!existsSync(FLOOR_OBJ)) throw new VariantUnavailable(`${FLOOR_OBJ} is missing (make bpf)`);
  setLibbpfLogger(() => {});
  const obj = BpfObject.open(FLOOR_OBJ);
  obj.load();
  for (const p of ['handle_set_state', 'handle_exit_accept4', 'handle_exit_accept']) obj.attach(p);
  const fd = openSync(cgroup2Root(), 'r');
  try {
    for (const p of ['handle_connect4', 'handle_connect6', 'handle_sendmsg4', 'handle_sendmsg6']) obj.attachCgroup(p, fd);
  } finally {
    closeSync(fd);
  }
  return {
    pid: null,
    output: null,
    async stop() { obj.close(); },
    count() { return { captured: Number(obj.map('conncount_hits').sumPerCpuU64(0)), lost: 0 }; },
  };
}

async function startKite(): Promise<Tracer> {
  if (!existsSync(KITE_MAIN)) throw new VariantUnavailable(`${KITE_MAIN} is missing (make build)`);
  const yaml = `${SHM}/kite.yaml`;
  const out = `${SHM}/kite.jsonl`;
  writeFileSync(yaml, `receivers:\n  connect: {}\n` +
    `exporters:\n  file:\n    path: ${out}\nservice:\n  pipelines:\n    main: { receivers: [connect], exporters: [file] }\n`);
  rmSync(out, { force: true });
  const proc = spawnTracked(process.execPath, [KITE_MAIN, 'run', '--config', yaml], { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let lost = 0;
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => (readyResolve = r));
  const err = new LineReader(proc.stderr!, (l) => {
    if (l.includes('"msg":"ready"')) readyResolve();
    const m = /"lost_total":(\d+)/.exec(l);
    if (m) lost = Number(m[1]);
  });
  const first = await Promise.race([ready.then(() => 'ready'), waitExit(proc, 60_000).then(() => 'exit', () => 'timeout')]);
  if (first !== 'ready') throw new VariantUnavailable(`kite did not start: ${err.tail.slice(-5).join(' | ')}`);
  return {
    pid: proc.pid!,
    output: out,
    async stop() { await stopChild(proc, 'SIGTERM', 30_000); },
    count(genPid, path) {
      let captured = 0;
      const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
      const pidKey = `"process.pid":${genPid},`;
      const portKey = `"network.peer.port":${path},`;
      for (const line of text.split('\n')) if (line.includes('"network.connect"') && line.includes(pidKey) && line.includes(portKey)) captured++;
      return { captured, lost };
    },
  };
}

async function startTool(variant: 'tcpstates' | 'bpftrace'): Promise<Tracer> {
  const bin = variant === 'tcpstates' ? TCPSTATES : BPFTRACE;
  if (!existsSync(bin)) throw new VariantUnavailable(`${bin} is not installed (apt-get install ${variant === 'tcpstates' ? 'libbpf-tools' : 'bpftrace'})`);
  const out = `${SHM}/${variant}.txt`;
  const errPath = `${SHM}/${variant}.err`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(errPath, 'w');
  const args = variant === 'tcpstates' ? [] : ['-e', 'tracepoint:syscalls:sys_enter_connect { printf("%d\\n", pid); }'];
  const proc = spawnTracked(bin, args, { stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  await waitLinks(proc, 1, variant, errPath);
  await sleep(200);
  return {
    pid: proc.pid!,
    output: out,
    async stop() { await stopChild(proc, 'SIGINT', 10_000); },
    count(genPid, path) {
      let captured = 0;
      let lost = 0;
      const text = readFileSync(out, 'utf8') + '\n' + readFileSync(errPath, 'utf8');
      for (const line of text.split('\n')) {
        const l = /lost (\d+) events/i.exec(line);
        if (l) { lost += Number(l[1]); continue; }
        const f = line.trim().split(/\s+/);
        // tcpstates: SKADDR C-PID C-COMM LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS; bpftrace: PID
        if (variant === 'tcpstates' ? f[6] === path && f[7] === 'CLOSE' && f[9] === 'SYN_SENT' : f.length === 1 && Number(f[0]) === genPid) captured++;
      }
      return { captured, lost };
    },
  };
}

/** Waits until the tracer has caught up: its output stops growing for 300 ms (at most 60 s), and at
 * least SETTLE_MS, so that its CPU and its events are counted and the next workload runs on a quiet
 * machine. */
async function settle(t: Tracer): Promise<void> {
  await sleep(SETTLE_MS);
  if (!t.output) return;
  const size = () => (existsSync(t.output!) ? statSync(t.output!).size : 0);
  const end = Date.now() + 60_000;
  let last = -1;
  while (Date.now() < end) {
    const now = size();
    if (now === last) return;
    last = now;
    await sleep(300);
  }
}

async function start(v: Variant): Promise<Tracer | null> {
  if (v === 'none') return null;
  if (v === 'floor') return startFloor();
  if (v === 'kite') return startKite();
  return startTool(v);
}

async function runRep(rep: number, v: Variant): Promise<Run[]> {
  const tracer = await start(v);
  const runs: Run[] = [];
  const pending: { run: Run; gen: GenResult; path: string; lostBefore: number; lostAfter: number }[] = [];
  try {
    if (tracer) await sleep(300);
    const order = WORKLOADS;
    for (const w of order) {
      const cpu0 = tracer?.pid ? processCpuSeconds(tracer.pid) : 0;
      const before = tracer && v === 'floor' ? tracer.count(0, '').captured : 0;
      const lostBefore = tracer && v !== 'floor' ? tracer.count(0, '').lost : 0;
      const gen = await runGenerator(N, TARGET[w]);
      const run: Run = { rep, variant: v, workload: w, nsPerOp: gen.ns_per_op, performed: gen.ok };
      if (tracer) {
        await settle(tracer);
        if (tracer.pid) run.cpuS = processCpuSeconds(tracer.pid) - cpu0;
        if (v === 'floor') run.captured = Math.round((tracer.count(0, '').captured - before));
      }
      runs.push(run);
      pending.push({ run, gen, path: TARGET[w], lostBefore, lostAfter: tracer && v !== 'floor' ? tracer.count(0, '').lost : 0 });
    }
  } finally {
    await tracer?.stop();
  }
  if (tracer && v !== 'floor') {
    for (const p of pending) {
      const c = tracer.count(p.gen.pid, p.path);
      p.run.captured = c.captured;
      p.run.lost = p.lostAfter - p.lostBefore;
    }
  }
  return runs;
}

function table(runs: Run[], unavailable: Map<Variant, string>): string {
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    const of = (v: Variant) => runs.filter((r) => r.workload === w && r.variant === v);
    const baseMed = median(of('none').map((r) => r.nsPerOp));
    const floorMed = median(of('floor').map((r) => r.nsPerOp));
    const baseByRep = new Map(of('none').map((r) => [r.rep, r.nsPerOp]));
    for (const v of VARIANTS) {
      const rs = of(v);
      if (!rs.length) continue;
      const med = median(rs.map((r) => r.nsPerOp));
      const paired = (m: Map<number, number>) => minMax(rs.filter((r) => m.has(r.rep)).map((r) => r.nsPerOp / m.get(r.rep)!));
      const performed = rs.reduce((a, r) => a + r.performed, 0);
      const captured = rs.reduce((a, r) => a + (r.captured ?? 0), 0);
      const lost = rs.reduce((a, r) => a + (r.lost ?? 0), 0);
      const evs = median(rs.map((r) => (r.captured ?? 0) / ((r.performed * r.nsPerOp) / 1e9)));
      const cpu = rs.filter((r) => r.cpuS !== undefined).map((r) => r.cpuS!);
      rows.push([
        w, v, String(rs.length), int(med), `${fmt(med / baseMed)}x`, v === 'none' ? '' : paired(baseByRep),
        Number.isFinite(floorMed) && v !== 'none' ? `${fmt(med / baseMed - floorMed / baseMed, 2)}x` : '',
        v === 'none' ? '' : `${captured}/${performed}`, v === 'none' ? '' : int(evs), v === 'none' || v === 'floor' ? '' : String(lost),
        cpu.length ? fmt(median(cpu), 3) : '',
      ]);
    }
  }
  const notes = [...unavailable].map(([v, why]) => `* **${v}: not measured.** ${why.split('\n')[0]}`);
  return [
    `### Connect storm: connect + accept + close on 127.0.0.1, N=${N}, ${REPS} interleaved reps`,
    '',
    mdTable(['workload', 'variant', 'reps', 'median ns/op', 'ratio vs none', 'paired ratio vs none min-max', 'over the floor (ratio - floor ratio)', 'connects seen / performed', 'events/s (median)', 'lost reported', 'tracer CPU s per run (median)'], rows),
    '',
    'floor: a bare per-CPU counter on every hook the connect receiver attaches; its "events" are SYN_SENT transitions. ' +
      'kite: the connect receiver with defaults (UDP hooks too), writing JSON lines to a file on tmpfs; it also writes one network.accept per connect. ' +
      'tcpstates prints every TCP state change (about 7 per connect): connects seen = CLOSE -> SYN_SENT lines to the port. bpftrace: lines of the generator\'s pid.',
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  buildGenerator();
  mkdirSync(SHM, { recursive: true });
  mkdirSync(BENCH_BUILD, { recursive: true });
  writeFileSync(RAW, '');
  const unavailable = new Map<Variant, string>();
  const runs: Run[] = [];
  log(`connect storm: N=${N}, ${REPS} reps x ${VARIANTS.join('/')} x ${WORKLOADS.join('/')}`);
  await runGenerator(Math.min(2000, N), TARGET.loopback);
  for (let rep = 0; rep < REPS; rep++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
    for (const v of order) {
      if (unavailable.has(v)) continue;
      try {
        for (const r of await runRep(rep, v)) {
          runs.push(r);
          appendFileSync(RAW, `${JSON.stringify(r)}\n`);
          log(`rep ${rep + 1}/${REPS} ${v} ${r.workload}: ${int(r.nsPerOp)} ns/op captured ${r.captured ?? '-'} lost ${r.lost ?? '-'} cpu ${fmt(r.cpuS ?? NaN, 3)}`);
        }
      } catch (e) {
        if (!(e instanceof VariantUnavailable)) throw e;
        unavailable.set(v, e.message);
        log(`${v} skipped: ${e.message}`);
      }
    }
  }
  process.stdout.write(`${table(runs, unavailable)}\n`);
  rmSync(SHM, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  log(`connect storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
