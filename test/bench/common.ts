/**
 * Shared pieces of the benchmark drivers: statistics, markdown tables, /proc readers and child
 * processes that never outlive the driver. Progress goes to stderr; only tables go to stdout.
 */
import { ChildProcess, execFileSync, spawn, SpawnOptions } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';

/** The repository root (this file runs from dist/test/bench/). */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const BENCH_BUILD = resolve(ROOT, 'build', 'bench');

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/** 1234567 -> "1 234 567" (readable in a table, unambiguous in every locale). */
export function int(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

export function minMax(xs: number[], digits = 2): string {
  if (!xs.length) return '';
  return `${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)}`;
}

export function mdTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

const CLK_TCK = 100;

/**
 * CPU time of a process in seconds, all its threads: the sum of /proc/PID/task/ * /schedstat (ns,
 * exact), or utime+stime+cutime+cstime of /proc/PID/stat (clock ticks) if schedstat is absent.
 */
export function processCpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    // fall through
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14-17 (1-based) are utime stime cutime cstime; f[0] is field 3
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** Peak resident set size (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const children = new Set<ChildProcess>();
let guarded = false;

function guard(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping`);
      process.exit(130);
    });
  }
}

/** Spawns a child that is killed if the driver exits first. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  guard();
  const c = spawn(cmd, args, opts);
  children.add(c);
  c.on('exit', () => children.delete(c));
  c.on('error', () => children.delete(c));
  return c;
}

/** Resolves with the exit code (or 128 + signal number) once `c` has exited; rejects on timeout. */
export function waitExit(c: ChildProcess, timeoutMs: number): Promise<number> {
  const code = (): number => c.exitCode ?? 128 + signalNumber(c.signalCode);
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(code());
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`pid ${c.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    c.once('exit', () => {
      clearTimeout(t);
      res(code());
    });
  });
}

function signalNumber(sig: NodeJS.Signals | null): number {
  const n: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 };
  return sig ? (n[sig] ?? 0) : 0;
}

/** Stops `c` with `signal`; SIGKILL after `timeoutMs`. Returns how it ended. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<{ code: number; killed: boolean }> {
  if (c.exitCode !== null || c.signalCode !== null) return { code: await waitExit(c, 0), killed: false };
  c.kill(signal);
  try {
    return { code: await waitExit(c, timeoutMs), killed: false };
  } catch {
    c.kill('SIGKILL');
    return { code: await waitExit(c, 5000), killed: true };
  }
}

/** Line-by-line reader of a child's pipe; keeps the last lines for error messages. */
export class LineReader {
  private buf = '';
  private readonly queue: string[] = [];
  private waiters: Array<(l: string | null) => void> = [];
  private ended = false;
  readonly tail: string[] = [];

  constructor(stream: Readable, private readonly onLine?: (line: string) => void) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
    stream.on('end', () => {
      if (this.buf) this.push(this.buf);
      this.buf = '';
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  private push(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
    this.onLine?.(line);
    const w = this.waiters.shift();
    if (w) w(line);
    else this.queue.push(line);
  }

  /** The next line, or null at end of stream; rejects after `timeoutMs`. */
  next(timeoutMs: number): Promise<string | null> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    if (this.ended) return Promise.resolve(null);
    return new Promise((res, rej) => {
      const w = (l: string | null): void => {
        clearTimeout(t);
        res(l);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        rej(new Error(`no output within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The side-by-side harness shared by every workload case (compile, exec, open, connect, dns):
// tracers that start, confirm they are attached, count what they saw and stop; interleaved
// repetitions with a rotated variant order; medians, spread, slowdown, loss and CPU per event.
// ---------------------------------------------------------------------------------------------

/** KITE_BENCH_QUICK=1: fewer repetitions, smaller workloads; every output says so. */
export const QUICK = process.env.KITE_BENCH_QUICK === '1';

/** An integer knob: the environment, else the full or the quick default. */
export function benchInt(name: string, full: number, quick: number): number {
  return envInt(name, QUICK ? quick : full);
}

/** Calls `fn` for every line of `file`, reading it in 4 MiB chunks (outputs can outgrow a string). */
export function forEachLine(file: string, fn: (line: string) => void): void {
  if (!existsSync(file)) return;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    let rest = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      const text = rest + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) fn(l);
    }
    if (rest) fn(rest);
  } finally {
    closeSync(fd);
  }
}

/** Linear-interpolated quantile (q in [0, 1]). */
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** The cases' files on tmpfs: run.sh gives each run its own folder (and removes it at the end). */
export const SHM_ROOT = process.env.KITE_BENCH_SHM || '/dev/shm/kite-bench';
export const KITE_MAIN = resolve(ROOT, 'dist', 'src', 'main.js');
/** node options the agent is launched with (its shebang, the Dockerfile, `make run`). */
export const KITE_NODE_FLAGS = ['--max-semi-space-size=4'];
export const BENCH_CONFIG = resolve(ROOT, 'config', 'bench.yaml');

/** The variant cannot run here (not installed, refused by the kernel): the case goes on without it. */
export class VariantUnavailable extends Error {}

export interface GenResult { pid: number; n: number; ok: number; ns_per_op: number }

/** Compiles test/bench/<name>.c into build/bench/<name> when the source is newer. */
export function buildGenerator(name: string, extra: string[] = []): string {
  const bin = resolve(BENCH_BUILD, name);
  const src = resolve(ROOT, 'test', 'bench', `${name}.c`);
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(BENCH_BUILD, { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, src, ...extra]);
  return bin;
}

/** Runs a generator that prints one JSON result line. */
export async function runGenerator(bin: string, args: string[], timeoutMs = 600_000): Promise<GenResult> {
  const gen = spawnTracked(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  const line = await out.next(timeoutMs);
  const code = await waitExit(gen, 30_000);
  if (!line || code !== 0) throw new Error(`${bin} ${args.join(' ')} failed (exit ${code})`);
  return JSON.parse(line) as GenResult;
}

/** How many tracepoint/perf links process `pid` holds (`bpftool -j perf list`). */
export function perfLinksOf(pid: number): number {
  try {
    const list = JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' })) as Array<{ pid: number }>;
    return list.filter((e) => e.pid === pid).length;
  } catch {
    return 0;
  }
}

/** A tracer that is attached and running. */
export interface Tracer {
  /** Processes whose CPU time is the tracer's (empty: its cost is all in the traced tasks). */
  cpuPids: number[];
  /** A file that grows while the tracer catches up (null: nothing to wait for). */
  output: string | null;
  /** Called just before and just after each workload run. */
  before?(): void;
  after?(genPid: number): void;
  /** Stops it (it flushes) and waits for its exit. */
  stop(): Promise<void>;
  /** After stop: workload events it recorded for the generator `genPid` (`key` names the workload's target). */
  count(genPid: number, key: string): number;
  /** After stop: events it said it lost during its whole session. */
  lost(): number;
  /** Peak RSS of the tracer's main process, MiB (NaN: none). */
  rssMiB(): number;
}

/** Several tracers at once (the libbpf-tools of a case together, the bpftrace scripts together). */
export function groupTracer(ts: Tracer[]): Tracer {
  return {
    cpuPids: ts.flatMap((t) => t.cpuPids),
    output: null,
    before: () => ts.forEach((t) => t.before?.()),
    after: (p) => ts.forEach((t) => t.after?.(p)),
    async stop() { for (const t of ts) await t.stop(); },
    count: (p, k) => ts.reduce((a, t) => a + t.count(p, k), 0),
    lost: () => ts.reduce((a, t) => a + t.lost(), 0),
    rssMiB: () => ts.reduce((a, t) => a + (Number.isFinite(t.rssMiB()) ? t.rssMiB() : 0), 0),
  };
}

/**
 * Waits until `t` has caught up: at least `settleMs`, then until its output grows by less than 16 KiB
 * in 300 ms (a system-wide tracer never stops printing on a busy machine), at most 30 s.
 */
export async function settle(t: Tracer, settleMs: number): Promise<void> {
  await sleep(settleMs);
  const outputs = t.output ? [t.output] : [];
  if (!outputs.length) return;
  const size = (): number => outputs.reduce((a, f) => a + (existsSync(f) ? statSync(f).size : 0), 0);
  const end = Date.now() + 30_000;
  let last = -1;
  while (Date.now() < end) {
    const now = size();
    if (last >= 0 && now - last < 16 << 10) return;
    last = now;
    await sleep(300);
  }
}

// --- the floor: bpf/bench/allcount.bpf.c on every hook of config/bench.yaml ----------------------

/** Slots of allcount_hits (bpf/bench/allcount.bpf.c). */
export const FLOOR_SLOT = { exec: 0, fileEnter: 1, fileExit: 2, connect: 3, accept: 4, dnsPacket: 5, sockAddr: 6, xdp: 8, egress: 9 } as const;
const FLOOR_OBJ = resolve(ROOT, 'build', 'bpf', 'bench', 'allcount.bpf.o');
const SYSCOUNT_OBJ = resolve(ROOT, 'build', 'bpf', 'bench', 'syscount.bpf.o');

/**
 * Loads the bare counters on every hook the benchmark pipeline attaches (same programs' kinds, same
 * tracepoints, cgroup hooks on the cgroup v2 root, a socket filter that keeps nothing on a packet
 * socket of every interface, generic XDP on lo, and bpf/bench/syscount.bpf.c on the security
 * receiver's per-syscall tracepoint pairs). `slot` is what count() reports: its hits per run.
 */
export async function startFloor(slot: number): Promise<Tracer> {
  if (!existsSync(FLOOR_OBJ)) throw new VariantUnavailable(`${FLOOR_OBJ} is missing (make bpf)`);
  const { BpfObject, setLibbpfLogger } = await import('../../src/bpf/object');
  const { cgroup2Root } = await import('../../src/receivers/filters');
  const { PacketCapture, interfaceIndex } = await import('../../src/bpf/packet-socket');
  setLibbpfLogger(() => {});
  const obj = BpfObject.open(FLOOR_OBJ);
  const { hooksOf, FAMILIES } = await import('../../src/receivers/security/syscalls');
  let capture: InstanceType<typeof PacketCapture> | null = null;
  let security: ReturnType<typeof BpfObject.open> | null = null;
  try {
    obj.load();
    const names = obj.programs().map((p) => p.name);
    const cgroupProgs = names.filter((n) => n.startsWith('count_connect_') || n.startsWith('count_dns_') || n === 'count_egress');
    for (const name of names) {
      if (cgroupProgs.includes(name) || name === 'count_packet' || name === 'count_xdp') continue;
      try {
        obj.attach(name);
      } catch (e) {
        // a syscall this kernel does not have (fchmodat2 before 6.6): the file receiver skips it too
        if (!/fchmodat2/.test(name)) throw e;
      }
    }
    const fd = openSync(cgroup2Root(), 'r');
    try {
      for (const p of cgroupProgs) obj.attachCgroup(p, fd);
    } finally {
      closeSync(fd);
    }
    obj.attachXdpMode('count_xdp', interfaceIndex('lo'), 'generic', 'lo');
    capture = new PacketCapture(obj.program('count_packet').fd, [0], () => {});
    capture.start();
    // the security receiver's hooks: one tracepoint pair per watched syscall, every family
    security = BpfObject.open(SYSCOUNT_OBJ);
    const same = hooksOf(FAMILIES).syscalls.flatMap((s) => [`count_enter_${s}`, `count_exit_${s}`]);
    for (const p of security.programs()) if (!same.includes(p.name)) p.setAutoload(false);
    security.load();
    for (const p of same) security.attach(p);
  } catch (e) {
    await capture?.stop();
    security?.close();
    obj.close();
    throw new VariantUnavailable(`the floor could not attach: ${e instanceof Error ? e.message : String(e)}`);
  }
  const hits = new Map<number, number>();
  let mark = 0;
  const read = (): number => Number(obj.map('allcount_hits').sumPerCpuU64(slot));
  return {
    cpuPids: [],
    output: null,
    before() { mark = read(); },
    after(genPid) { hits.set(genPid, read() - mark); },
    async stop() {
      await capture?.stop();
      security?.close();
      obj.close();
    },
    count: (genPid) => hits.get(genPid) ?? 0,
    lost: () => 0,
    rssMiB: () => NaN,
  };
}

// --- Kite with config/bench.yaml ---------------------------------------------------------------

/** config/bench.yaml with the bench's own file path, Kafka brokers and XDP interface. */
export async function kiteBenchConfig(outFile: string, kafka: string): Promise<string> {
  const YAML = await import('yaml');
  const doc = YAML.parse(readFileSync(BENCH_CONFIG, 'utf8')) as Record<string, any>;
  doc.exporters.file.path = outFile;
  doc.exporters.kafka.brokers = [kafka];
  return YAML.stringify(doc);
}

/** Kite's counters from its "stopped" log line: lost in the kernel (ring_full, kernel_drops) and dropped anywhere. */
function kiteLosses(line: string): number {
  try {
    const stats = (JSON.parse(line) as { stats?: Record<string, Record<string, unknown>> }).stats ?? {};
    let n = 0;
    for (const c of Object.values(stats)) {
      for (const [k, v] of Object.entries(c)) if (typeof v === 'number' && (k === 'ring_full' || k === 'kernel_drops' || k.startsWith('dropped.queue') || k === 'dropped.shutdown')) n += v;
    }
    return n;
  } catch {
    return 0;
  }
}

/**
 * Runs `kite run` on config/bench.yaml (or on `yaml` when given) as its own process, ready when it logs
 * "ready". count() reads its file exporter's output: records for which `match` is true, each standing
 * for one event, a summary (dedupe, or the file receiver's kernel_aggregate) for the kite.repeat_count
 * repeats it folded.
 */
export async function startKite(tag: string, match: (r: Record<string, unknown>, genPid: number, key: string) => boolean, opts: { yaml?: string; prefilter?: 'pid' | 'key' } = {}): Promise<Tracer> {
  const yaml = opts.yaml;
  if (!existsSync(KITE_MAIN)) throw new VariantUnavailable(`${KITE_MAIN} is missing (make build)`);
  const dir = `${SHM_ROOT}/${tag}`;
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/kite.jsonl`;
  const cfg = `${dir}/kite.yaml`;
  writeFileSync(cfg, yaml ?? (await kiteBenchConfig(out, kafkaBootstrap())));
  rmSync(out, { force: true });
  const proc = spawnTracked(process.execPath, [...KITE_NODE_FLAGS, KITE_MAIN, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let lost = 0;
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => (readyResolve = r));
  const err = new LineReader(proc.stderr!, (l) => {
    if (l.includes('"msg":"ready"')) readyResolve();
    if (l.includes('"msg":"stopped"')) lost = kiteLosses(l);
  });
  const first = await Promise.race([ready.then(() => 'ready'), waitExit(proc, 90_000).then(() => 'exit', () => 'timeout')]);
  if (first !== 'ready') {
    await stopChild(proc, 'SIGKILL', 5000);
    throw new VariantUnavailable(`kite did not start: ${err.tail.slice(-4).join(' | ')}`);
  }
  let rss = NaN;
  return {
    cpuPids: [proc.pid!],
    output: out,
    async stop() {
      try {
        rss = peakRssMiB(proc.pid!);
      } catch {
        // gone
      }
      const r = await stopChild(proc, 'SIGTERM', 60_000);
      if (r.killed || r.code !== 0) log(`kite: stopped with ${r.killed ? 'SIGKILL' : `exit code ${r.code}`}: ${err.tail.slice(-3).join(' | ')}`);
    },
    count(genPid, key) {
      let n = 0;
      const pre = opts.prefilter === 'key' ? key : String(genPid);
      forEachLine(out, (line) => {
        if (!line.includes(pre)) return;
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return; // a torn last line counts as not captured
        }
        // a summary (dedupe, or the file receiver's in-kernel aggregation) stands for the repeats it
        // folded; the first record went out on its own
        if (match(r, genPid, key)) n += typeof r['kite.summary'] === 'string' && typeof r['kite.repeat_count'] === 'number' ? r['kite.repeat_count'] : 1;
      });
      return n;
    },
    lost: () => lost,
    rssMiB: () => rss,
  };
}

/** The Kafka broker the benchmark pipeline exports to: KITE_BENCH_KAFKA (run.sh starts one). */
export function kafkaBootstrap(): string {
  return process.env.KITE_BENCH_KAFKA || '127.0.0.1:29092';
}

// --- peer tracers: libbpf-tools, bpftrace, auditd, tcpdump --------------------------------------

/**
 * A peer tracer as its own process, stdout and stderr to files on tmpfs; attached when it holds
 * `links` perf links (or `ready(stderr)` says so). `match(line, genPid, key)` counts its lines.
 */
export async function startTool(tag: string, bin: string, args: string[], opts: {
  links?: number; ready?: (err: string) => boolean; stopSignal?: NodeJS.Signals;
  match: (fields: string[], line: string, genPid: number, key: string) => boolean;
}): Promise<Tracer> {
  if (!existsSync(bin)) throw new VariantUnavailable(`${bin} is not installed`);
  const dir = `${SHM_ROOT}/${tag}`;
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/out.txt`;
  const errPath = `${dir}/err.txt`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(errPath, 'w');
  const proc = spawnTracked(bin, args, { stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new VariantUnavailable(`${bin} exited: ${readFileSync(errPath, 'utf8').trim().slice(0, 300)}`);
    if (opts.links !== undefined ? perfLinksOf(proc.pid!) >= opts.links : opts.ready!(readFileSync(errPath, 'utf8'))) break;
    if (Date.now() > deadline) {
      await stopChild(proc, 'SIGKILL', 5000);
      throw new VariantUnavailable(`${bin} did not attach within 20 s`);
    }
    await sleep(20);
  }
  await sleep(200);
  let rss = NaN;
  return {
    cpuPids: [proc.pid!],
    output: out,
    async stop() {
      try {
        rss = peakRssMiB(proc.pid!);
      } catch {
        // gone
      }
      await stopChild(proc, opts.stopSignal ?? 'SIGINT', 10_000);
    },
    count(genPid, key) {
      let n = 0;
      const each = (line: string): void => {
        if (opts.match(line.trim().split(/\s+/), line, genPid, key)) n++;
      };
      forEachLine(out, each);
      forEachLine(errPath, each);
      return n;
    },
    lost() {
      let n = 0;
      const each = (line: string): void => {
        for (const m of line.matchAll(/lost (\d+) events/gi)) n += Number(m[1]);
        const d = /(\d+) packets? dropped by kernel/.exec(line);
        if (d) n += Number(d[1]);
      };
      forEachLine(out, each);
      forEachLine(errPath, each);
      return n;
    },
    rssMiB: () => rss,
  };
}

export const BPFTRACE = '/usr/bin/bpftrace';

/** bpftrace running `script`, attached when it holds `links` perf links; lines "PID ..." (or what `match` says). */
export function startBpftrace(tag: string, script: string, links: number, match: (f: string[], line: string, genPid: number, key: string) => boolean): Promise<Tracer> {
  return startTool(tag, BPFTRACE, ['-e', script], { links, match });
}

const AUDIT_KEY = 'kite-bench';
const SYSCALL_NR: Record<string, number> = { execve: 59, openat: 257, connect: 42, sendto: 44 };

/**
 * auditd (Debian's, its log on tmpfs) with one `-a always,exit -F arch=b64 -S <syscall>` rule per
 * syscall, as an auditing deployment would watch the same activity. count(): SYSCALL records of the
 * rule's key by the generator (by its children for execve) whose PATH record names `key` when the
 * key looks like a path. Teardown leaves audit off with `-a task,never` (tasks forked meanwhile keep
 * an audit context for life, which would tax later runs otherwise).
 */
export async function startAudit(tag: string, syscalls: string[]): Promise<Tracer> {
  const AUDITCTL = '/usr/sbin/auditctl';
  const AUDITD = '/usr/sbin/auditd';
  if (!existsSync(AUDITCTL) || !existsSync(AUDITD)) throw new VariantUnavailable('auditd is not installed (apt-get install auditd)');
  const dir = `${SHM_ROOT}/${tag}`;
  mkdirSync(dir, { recursive: true });
  const logFile = `${dir}/audit.log`;
  rmSync(logFile, { force: true });
  writeFileSync(`${dir}/auditd.conf`, [
    `log_file = ${logFile}`, 'log_format = ENRICHED', 'flush = INCREMENTAL_ASYNC', 'freq = 50', 'max_log_file = 0',
    'max_log_file_action = IGNORE', 'space_left = 2', 'space_left_action = IGNORE', 'admin_space_left = 1',
    'admin_space_left_action = IGNORE', 'disk_full_action = IGNORE', 'disk_error_action = IGNORE', 'priority_boost = 4',
    'local_events = yes', 'write_logs = yes', 'num_logs = 1', 'name_format = NONE',
  ].join('\n') + '\n', { mode: 0o640 });
  const ctl = (...a: string[]): string => execFileSync(AUDITCTL, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (/^pid [1-9]/m.test(ctl('-s'))) throw new VariantUnavailable('an audit daemon is already running on this machine: not touching it');
  const proc = spawnTracked(AUDITD, ['-n', '-c', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const errR = new LineReader(proc.stderr!);
  const deadline = Date.now() + 15_000;
  while (!/^pid [1-9]/m.test(ctl('-s'))) {
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      await stopChild(proc, 'SIGKILL', 5000);
      throw new VariantUnavailable(`auditd did not start: ${errR.tail.slice(-3).join(' | ')}`);
    }
    await sleep(50);
  }
  ctl('-D');
  ctl('-b', '8192');
  ctl('--backlog_wait_time', '60000');
  ctl('-f', '1');
  for (const s of syscalls) ctl('-a', 'always,exit', '-F', 'arch=b64', '-S', s, '-k', AUDIT_KEY);
  ctl('-e', '1');
  const kaudit = kauditdPid();
  const lost0 = auditLost(ctl('-s'));
  let lost = 0;
  let rss = NaN;
  let records: Map<string, { pid: number; ppid: number; nr: number; names: string[] }> | null = null;
  const parse = (): typeof records => {
    if (records) return records;
    const recs = new Map<string, { pid: number; ppid: number; nr: number; names: string[] }>();
    records = recs;
    forEachLine(logFile, (line) => {
      const id = /msg=audit\(([\d.:]+)\)/.exec(line)?.[1];
      if (!id) return;
      if (line.startsWith('type=SYSCALL') && line.includes(`key="${AUDIT_KEY}"`)) {
        const num = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(line)?.[1] ?? -1);
        const e = recs.get(id) ?? { pid: 0, ppid: 0, nr: 0, names: [] };
        Object.assign(e, { pid: num('pid'), ppid: num('ppid'), nr: num('syscall') });
        recs.set(id, e);
      } else if (line.startsWith('type=PATH') && recs.has(id)) {
        const name = /\bname="([^"]*)"/.exec(line)?.[1];
        if (name) recs.get(id)!.names.push(name);
      }
    });
    return records;
  };
  return {
    cpuPids: kaudit ? [proc.pid!, kaudit] : [proc.pid!],
    output: logFile,
    async stop() {
      try {
        rss = peakRssMiB(proc.pid!);
        lost = auditLost(ctl('-s')) - lost0;
      } catch {
        // gone
      }
      try {
        ctl('-D');
        ctl('-a', 'task,never');
      } finally {
        await stopChild(proc, 'SIGTERM', 15_000);
        ctl('-e', '0'); // auditd leaves audit enabled when it exits
      }
      parse(); // what count() needs, then the log goes: it is large (every process's records) and on tmpfs
      rmSync(logFile, { force: true });
    },
    count(genPid, key) {
      let n = 0;
      for (const e of parse()!.values()) {
        if (e.nr === SYSCALL_NR.execve ? e.ppid !== genPid : e.pid !== genPid) continue;
        if (key.startsWith('/') && e.nr === SYSCALL_NR.openat && !e.names.includes(key)) continue;
        n++;
      }
      return n;
    },
    lost: () => lost,
    rssMiB: () => rss,
  };
}

function auditLost(status: string): number {
  return Number(/^lost (\d+)/m.exec(status)?.[1] ?? 0);
}

function kauditdPid(): number | null {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'kauditd') return Number(p);
    } catch {
      // gone
    }
  }
  return null;
}

// --- interleaved repetitions ----------------------------------------------------------------------

export interface VariantSpec {
  name: string;
  /** What it is, for the notes under the table. */
  what: string;
  start(): Promise<Tracer | null>;
  /** Workload size for this variant when it must differ (auditd on an open storm). */
  n?: number;
}

export interface StormCase {
  name: string;
  title: string;
  reps: number;
  settleMs: number;
  workloads: string[];
  variants: VariantSpec[];
  /** Runs one workload (of `n` ops, or its default); `key` is what tracers' count() gets. */
  run(workload: string, n?: number): Promise<GenResult>;
  key(workload: string): string;
  /** Events each op should produce for the tracers (one per open, exec, connect; query + answer for DNS). */
  eventsPerOp: number;
  /** Events per op a variant should report for a workload when it differs (Kite on an unwatched path: 0). */
  eventsPerOpFor?(variant: string, workload: string): number;
  /** The unit of one op, for the table ("open", "exec", ...). */
  unit: string;
  /** Show the time per op in ms instead of ns (long ops such as a whole build). */
  inMs?: boolean;
  notes: string[];
}

export interface StormRun {
  rep: number;
  variant: string;
  workload: string;
  nsPerOp: number;
  performed: number;
  captured?: number;
  lost?: number;
  cpuS?: number;
  rssMiB?: number;
}

/** Runs every repetition of a case, variants in an order rotated per repetition; one tracer session per (rep, variant) covers every workload. */
export async function runStormCase(c: StormCase): Promise<{ runs: StormRun[]; unavailable: Map<string, string> }> {
  mkdirSync(BENCH_BUILD, { recursive: true });
  const raw = resolve(BENCH_BUILD, `${c.name}.jsonl`);
  writeFileSync(raw, '');
  const unavailable = new Map<string, string>();
  const runs: StormRun[] = [];
  log(`${c.name}: ${c.reps} reps x ${c.variants.map((v) => v.name).join('/')} x ${c.workloads.join('/')}${QUICK ? ' (quick)' : ''}`);
  for (const w of c.workloads) await c.run(w).catch(() => undefined); // warm caches, untimed
  for (let rep = 0; rep < c.reps; rep++) {
    const order = c.variants.map((_, i) => c.variants[(i + rep) % c.variants.length]!);
    for (const v of order) {
      if (unavailable.has(v.name)) continue;
      let tracer: Tracer | null = null;
      try {
        tracer = await v.start();
      } catch (e) {
        if (!(e instanceof VariantUnavailable)) throw e;
        unavailable.set(v.name, e.message);
        log(`${c.name}: ${v.name} skipped: ${e.message}`);
        continue;
      }
      const mine: { run: StormRun; genPid: number; key: string }[] = [];
      try {
        if (tracer) await sleep(300);
        const ws = rep % 2 ? [...c.workloads].reverse() : c.workloads;
        for (const w of ws) {
          const cpu0 = tracer ? tracer.cpuPids.reduce((a, p) => a + processCpuSeconds(p), 0) : 0;
          tracer?.before?.();
          const gen = await c.run(w, v.n);
          tracer?.after?.(gen.pid);
          const run: StormRun = { rep, variant: v.name, workload: w, nsPerOp: gen.ns_per_op, performed: gen.ok };
          if (tracer) {
            await settle(tracer, c.settleMs);
            if (tracer.cpuPids.length) run.cpuS = tracer.cpuPids.reduce((a, p) => a + processCpuSeconds(p), 0) - cpu0;
          }
          mine.push({ run, genPid: gen.pid, key: c.key(w) });
        }
      } finally {
        await tracer?.stop();
      }
      mine.forEach((m, i) => {
        if (tracer) {
          m.run.captured = tracer.count(m.genPid, m.key);
          m.run.lost = i === 0 ? tracer.lost() : 0;
          m.run.rssMiB = tracer.rssMiB();
        }
        runs.push(m.run);
        appendFileSync(raw, `${JSON.stringify(m.run)}\n`);
        const r = m.run;
        log(`${c.name} rep ${rep + 1}/${c.reps} ${v.name} ${r.workload}: ${int(r.nsPerOp)} ns/op` +
          (tracer ? ` captured ${r.captured}/${r.performed * c.eventsPerOp} lost ${r.lost} cpu ${fmt(r.cpuS ?? NaN, 3)} s` : ''));
      });
    }
  }
  return { runs, unavailable };
}

/** One row of a case's summary, also written as JSON for the report and its plots. */
export interface StormRow {
  workload: string;
  variant: string;
  reps: number;
  medianNs: number;
  ratio: number;
  pairedMin: number;
  pairedQ1: number;
  pairedQ3: number;
  pairedMax: number;
  overFloor: number;
  captured: number;
  expected: number;
  lost: number;
  cpuSPerMillion: number;
  cpuSPerRun: number;
  rssMiB: number;
}

export function summarizeStorm(c: StormCase, runs: StormRun[]): StormRow[] {
  const rows: StormRow[] = [];
  for (const w of c.workloads) {
    const of = (v: string): StormRun[] => runs.filter((r) => r.workload === w && r.variant === v);
    const baseMed = median(of('none').map((r) => r.nsPerOp));
    const floorMed = median(of('floor').map((r) => r.nsPerOp));
    const baseByRep = new Map(of('none').map((r) => [r.rep, r.nsPerOp]));
    for (const v of c.variants) {
      const rs = of(v.name);
      if (!rs.length) continue;
      const med = median(rs.map((r) => r.nsPerOp));
      const paired = rs.filter((r) => baseByRep.has(r.rep)).map((r) => r.nsPerOp / baseByRep.get(r.rep)!);
      const captured = rs.reduce((a, r) => a + (r.captured ?? 0), 0);
      const cpu = rs.filter((r) => r.cpuS !== undefined && (r.captured ?? 0) > 0).map((r) => (r.cpuS! * 1e6) / r.captured!);
      rows.push({
        workload: w,
        variant: v.name,
        reps: rs.length,
        medianNs: med,
        ratio: med / baseMed,
        pairedMin: Math.min(...paired),
        pairedQ1: quantile(paired, 0.25),
        pairedQ3: quantile(paired, 0.75),
        pairedMax: Math.max(...paired),
        overFloor: v.name === 'none' || v.name === 'floor' ? NaN : med / baseMed - floorMed / baseMed,
        captured,
        expected: rs.reduce((a, r) => a + r.performed, 0) * (c.eventsPerOpFor?.(v.name, w) ?? c.eventsPerOp),
        lost: rs.reduce((a, r) => a + (r.lost ?? 0), 0),
        cpuSPerMillion: cpu.length && c.eventsPerOp ? median(cpu) : NaN,
        cpuSPerRun: median(rs.filter((r) => r.cpuS !== undefined).map((r) => r.cpuS!)),
        rssMiB: ((xs: number[]) => (xs.length ? Math.max(...xs) : NaN))(rs.map((r) => r.rssMiB ?? NaN).filter(Number.isFinite)),
      });
    }
  }
  return rows;
}

export function stormTable(c: StormCase, rows: StormRow[], unavailable: Map<string, string>): string {
  const body = rows.map((r) => {
    const tr = r.variant !== 'none';
    return [
      r.workload, r.variant, String(r.reps), c.inMs ? int(r.medianNs / 1e6) : int(r.medianNs), `${fmt(r.ratio)}x`,
      tr ? `${fmt(r.pairedMin)}-${fmt(r.pairedMax)} (IQR ${fmt(r.pairedQ1)}-${fmt(r.pairedQ3)})` : '',
      Number.isFinite(r.overFloor) ? `${r.overFloor >= 0 ? '+' : ''}${fmt(r.overFloor)}x` : '',
      !c.eventsPerOp && tr ? 'not matched' : !r.expected && tr ? `${int(r.captured)} (none expected)` : r.variant === 'floor' ? `${int(r.captured)} hook hits, system-wide` : tr ? `${int(r.captured)} / ${int(r.expected)} (${fmt((100 * r.captured) / Math.max(1, r.expected), 1)}%)` : '',
      tr && r.variant !== 'floor' ? String(r.lost) : '',
      Number.isFinite(r.cpuSPerMillion) ? fmt(r.cpuSPerMillion, 1) : '',
      Number.isFinite(r.cpuSPerRun) ? fmt(r.cpuSPerRun, 2) : '',
      Number.isFinite(r.rssMiB) ? fmt(r.rssMiB, 0) : '',
    ];
  });
  const notes = [
    ...c.variants.map((v) => `* **${v.name}**: ${v.what}`),
    ...c.notes.map((n) => `* ${n}`),
    ...[...unavailable].map(([v, why]) => `* **${v}: not measured.** ${why.split('\n')[0]}`),
  ];
  return [
    `### ${c.title}${QUICK ? ' (quick run)' : ''}`,
    '',
    mdTable(['workload', 'variant', 'reps', `median ${c.inMs ? 'ms' : 'ns'}/${c.unit}`, 'slowdown vs none (ratio of medians)', 'paired ratio min-max (IQR)',
      'over the floor', 'events captured / performed', 'lost reported', 'tracer CPU s per 1M events', 'tracer CPU s per run', 'tracer peak RSS MiB'], body),
    '',
    ...notes,
  ].join('\n');
}

/** Runs a case, prints its table on stdout and writes build/bench/<name>.summary.json. */
export async function mainStorm(c: StormCase, cleanup?: () => Promise<void> | void): Promise<void> {
  try {
    const { runs, unavailable } = await runStormCase(c);
    const rows = summarizeStorm(c, runs);
    writeFileSync(resolve(BENCH_BUILD, `${c.name}.summary.json`), JSON.stringify({ case: c.name, title: c.title, quick: QUICK, unit: c.unit, reps: c.reps, rows, unavailable: [...unavailable] }, null, 1));
    process.stdout.write(`${stormTable(c, rows, unavailable)}\n`);
  } finally {
    await cleanup?.();
  }
}
