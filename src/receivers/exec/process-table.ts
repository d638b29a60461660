/**
 * What the exec receiver knows of each live process: executable, argv, parent and exec id. Seeded from
 * /proc at start so that processes already running when the agent starts are known, then kept current
 * by exec, fork and exit events. Bounded: at most `maxEntries` (oldest dropped first); an exited
 * process is forgotten at once, after its exit record has used it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';

export interface ProcessInfo {
  ppid: number;
  path: string;
  args: string[];
  execId: string;
  /** CLOCK_BOOTTIME ns of the process start (ticks precision for processes seeded from /proc). */
  startNs: bigint;
}

const CLK_TCK = 100n; // USER_HZ on every Linux architecture Kite supports

/** A stable id for one program run by one process: boot id + pid + boot-time of the exec (or start). */
export function execId(bootId: string, pid: number, bootNs: bigint): string {
  return createHash('sha256').update(`${bootId}:${pid}:${bootNs}`).digest('base64url').slice(0, 22);
}

export function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

/** Parses /proc/<pid>/stat: the comm may contain spaces and parentheses. */
export function parseStat(stat: string): { ppid: number; startTicks: bigint } | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const f = stat.slice(close + 2).split(' ');
  // fields after comm: state(3) ppid(4) ... starttime(22) -> index 0 is field 3
  const ppid = Number(f[1]);
  const start = f[19];
  if (!Number.isFinite(ppid) || start === undefined) return null;
  return { ppid, startTicks: BigInt(start) };
}

export class ProcessTable {
  private readonly procs = new Map<number, ProcessInfo>();

  constructor(private readonly bootId: string, private readonly maxEntries = 65536) {}

  get size(): number {
    return this.procs.size;
  }

  get(pid: number): ProcessInfo | undefined {
    return this.procs.get(pid);
  }

  set(pid: number, info: ProcessInfo): void {
    this.procs.delete(pid);
    this.procs.set(pid, info);
    if (this.procs.size > this.maxEntries) {
      const oldest = this.procs.keys().next().value;
      if (oldest !== undefined) this.procs.delete(oldest);
    }
  }

  delete(pid: number): void {
    this.procs.delete(pid);
  }

  execId(pid: number, bootNs: bigint): string {
    return execId(this.bootId, pid, bootNs);
  }

  /** Reads every process in /proc. Entries already set by events are newer and are kept. */
  seedFromProc(root = '/proc'): number {
    let n = 0;
    let entries: string[];
    try {
      entries = readdirSync(root);
    } catch {
      return 0;
    }
    for (const name of entries) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (this.procs.has(pid)) continue;
      try {
        const st = parseStat(readFileSync(`${root}/${name}/stat`, 'latin1'));
        if (!st) continue;
        const cmdline = readFileSync(`${root}/${name}/cmdline`);
        const args = cmdline.length ? cmdline.toString('utf8').replace(/\0$/, '').split('\0') : [];
        let path = '';
        try {
          path = readlinkSync(`${root}/${name}/exe`);
        } catch {
          // kernel threads have no executable
        }
        const startNs = (st.startTicks * 1_000_000_000n) / CLK_TCK;
        this.procs.set(pid, { ppid: st.ppid, path, args, startNs, execId: this.execId(pid, startNs) });
        n++;
      } catch {
        // the process exited while we read it
      }
    }
    return n;
  }
}
