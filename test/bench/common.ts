/**
 * Shared pieces of the benchmark drivers: statistics, markdown tables, /proc readers and child
 * processes that never outlive the driver. Progress goes to stderr; only tables go to stdout.
 */
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
