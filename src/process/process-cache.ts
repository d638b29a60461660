/**
 * The process table of the enrich processor: what is known of each process (executable, command
 * line, exec id, parent, cgroup), seeded from /proc and kept current by process.exec, process.fork and
 * process.exit records. Bounded in entries and in bytes of strings held (oldest dropped first); an
 * exited process is kept for `exitedTtlMs` so that late events of it are still enriched.
 * Single-threaded; every operation is O(1) amortised.
 */
import { CgroupInfo } from './cgroup';

export interface ProcEntry {
  pid: number;
  ppid: number;
  path: string;
  args: string[];
  /** args joined by spaces, computed once. */
  cmdline: string;
  execId: string;
  /** CLOCK_BOOTTIME ns of the process start, when known. */
  startNs: bigint | undefined;
  /** Scheduler time (ms) of the exit; 0 while the process runs. */
  exitedAt: number;
  cgroup: CgroupInfo | undefined;
  /** The cgroup (v2) id `cgroup` belongs to, when known from a record. */
  cgroupId: number | undefined;
  /** SHA-256 of the executable, once computed. */
  hash: string | undefined;
  /** The ancestors of its children (this process first), computed at the first record that needed them. */
  childAncestry: Ancestry | undefined;
  /** Approximate bytes held by this entry's strings. */
  bytes: number;
  /** The exec generation (kite.process.exec_seq) of the program this entry describes, once known. */
  execSeq?: number;
  /** The program the process ran before its last exec (for late records of it), when known. */
  previous?: { path: string; args: string[]; cmdline: string; execId: string; execSeq: number };
}

/** A process's ancestors, parent first, as lists shared by every record of the process (never modified). */
export interface Ancestry {
  pids: number[];
  paths: string[];
  cmdlines: string[];
  execIds: string[];
  /** False when the chain stopped at an ancestor not known (yet): it is then computed again. */
  complete: boolean;
}

export interface ProcessCacheBounds {
  maxEntries: number;
  maxBytes: number;
  exitedTtlMs: number;
}

const ENTRY_OVERHEAD = 200; // object, map slot and array headers, roughly

export function entryBytes(path: string, args: string[]): number {
  let n = ENTRY_OVERHEAD + path.length;
  for (const a of args) n += a.length + 16;
  return n;
}

export class ProcessCache {
  private readonly procs = new Map<number, ProcEntry>();
  private exited: ProcEntry[] = [];
  private exitedHead = 0;
  private heldBytes = 0;
  /** Entries dropped to stay within the bounds (not counting expired exited ones). */
  evicted = 0;

  constructor(private readonly bounds: ProcessCacheBounds) {}

  get size(): number {
    return this.procs.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get(pid: number): ProcEntry | undefined {
    return this.procs.get(pid);
  }

  /** Adds or replaces the entry of `e.pid` (a new program or a reused pid); drops the oldest over bounds. */
  set(e: ProcEntry): void {
    // a replaced entry keeps its place in the eviction order (pid reuse is rare; an exec is not new)
    const old = this.procs.get(e.pid);
    if (old) this.heldBytes -= old.bytes;
    this.procs.set(e.pid, e);
    this.heldBytes += e.bytes;
    while (this.procs.size > this.bounds.maxEntries || (this.heldBytes > this.bounds.maxBytes && this.procs.size > 1)) {
      const oldest = this.procs.values().next().value as ProcEntry;
      this.procs.delete(oldest.pid);
      this.heldBytes -= oldest.bytes;
      this.evicted++;
    }
  }

  /** Marks a process exited at `now`; it is forgotten `exitedTtlMs` later (see sweep). */
  markExited(pid: number, now: number): void {
    const e = this.procs.get(pid);
    if (!e || e.exitedAt) return;
    e.exitedAt = now || 1;
    this.exited.push(e);
  }

  /** Forgets exited processes older than the ttl; cheap enough to call per record. */
  sweep(now: number): void {
    const ttl = this.bounds.exitedTtlMs;
    const q = this.exited;
    let h = this.exitedHead;
    while (h < q.length && q[h]!.exitedAt + ttl <= now) {
      const e = q[h]!;
      if (this.procs.get(e.pid) === e) {
        this.procs.delete(e.pid);
        this.heldBytes -= e.bytes;
      }
      h++;
    }
    if (h > 1024 && h * 2 > q.length) {
      this.exited = q.slice(h);
      h = 0;
    }
    this.exitedHead = h;
  }

  /** Exited processes whose entries are still in the table, kept for late events (a walk: call it rarely). */
  get exitedKept(): number {
    let n = 0;
    for (let i = this.exitedHead; i < this.exited.length; i++) {
      const e = this.exited[i]!;
      if (this.procs.get(e.pid) === e) n++;
    }
    return n;
  }

  /** Exited processes still remembered (for tests and the table's gauge). */
  get exitedPending(): number {
    return this.exited.length - this.exitedHead;
  }
}
