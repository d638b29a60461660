/**
 * enrich processor: adds to every record that has a `process.pid` what the agent knows of that
 * process, its ancestors, its container and pod, and the host. The process table is seeded from /proc
 * at start and kept current by the process.exec, process.fork and process.exit records that flow
 * through. Nothing is read from disk per record: what is not known yet (a process seen for the first
 * time, a new cgroup, a container's user names, an executable's hash) is looked up in the background,
 * counted as a cache miss, and added to later records.
 *
 * Counters (processor/<id>): received, emitted, cache_miss.{process,parent,cgroup,container_users,hash},
 * table_evicted, lookups_failed, hash_computed, hash_skipped.too_large,
 * exec_wait.{held,timeout,overflow} (records held for an exec record: see exec_wait; held records are
 * emitted later, so received = emitted still holds once they are released); levels, every second:
 * process_table_size (entries), process_table_exited (entries of exited processes kept for late
 * events) and process_table_bytes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { hostname, release } from 'node:os';
import { asyncScheduler, Observable, OperatorFunction, SchedulerLike, Subscription } from 'rxjs';
import { AttrValue, ComponentId, Host, KiteRecord, Processor } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { CgroupInfo, parseCgroupPath } from '../../process/cgroup';
import { NameTables, readNameTables } from '../../process/names';
import { Ancestry, entryBytes, ProcEntry, ProcessCache } from '../../process/process-cache';
import { ProcSnapshot, readCgroup, readMachineId, readProc, readProcSync } from '../../process/procfs';
import { execId, readBootId } from '../../receivers/exec/process-table';
import { UserNames } from '../../receivers/exec/users';
import { cgroup2Root } from '../../receivers/filters';
import { Counter, ProcessorCounters } from '../counters';
import { EnrichConfig } from './config';
import { ExecutableHasher } from './hasher';
import { KubeletPods } from './kubelet';
import type { CriPods } from './cri';

const MAX_PENDING = 4096;
const MAX_CGROUPS = 8192;
const MAX_CONTAINERS = 1024;
const GONE_RETRY_MS = 10_000;

/** Where cgroup v2 is mounted: read on first use (only when a cgroup is looked up through a parent). */
let cgroup2RootPath: string | null = null;

function boundedSet<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as K);
}

interface ContainerNames extends NameTables {
  /** The process they were read through. */
  pid: number;
  /** Read through the agent's own root (the process had not entered the container's yet): read again later. */
  provisional: boolean;
  readAt: number;
}

/** Device and inode of a root directory, to tell a container's root from the agent's. */
async function rootKey(path: string): Promise<string | null> {
  try {
    const st = await stat(`${path}/`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function rootKeySync(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return '';
  }
}

export interface EnrichDeps {
  scheduler?: SchedulerLike;
  /** Host identity (tests); read from the system when absent. */
  identity?: { hostName: string; hostId: string; bootId: string; kernelRelease: string };
  hostUsers?: { user(uid: number): string | undefined; group(gid: number): string | undefined };
}

export class EnrichProcessor implements Processor {
  readonly mutatesRecords = true;
  readonly table: ProcessCache;
  readonly counters: ProcessorCounters;
  private readonly scheduler: SchedulerLike;
  private readonly identity: { hostName: string; hostId: string; bootId: string; kernelRelease: string };
  private readonly hostUsers: { user(uid: number): string | undefined; group(gid: number): string | undefined };
  private readonly cgroups = new Map<number, CgroupInfo>();
  /**
   * Containers that cgroup directory names gave (exec receiver records carry the name), by cgroup id,
   * until /proc gives the cgroup's path: for the cgroup's records that carry no name (file, network),
   * whose processes may be gone before /proc is read.
   */
  private readonly namedCgroups = new Map<number, CgroupInfo>();
  private readonly containerNames = new Map<string, ContainerNames>();
  private readonly agentRoot: string;
  private readonly pendingPids = new Set<number>();
  /** Pids found missing from /proc, with the scheduler time until which they are not looked up again. */
  private readonly gonePids = new Map<number, number>();
  /** Cgroups whose /proc/<pid>/cgroup is being read, each with another pid seen in it meanwhile (to read through if that one is gone). */
  private readonly pendingCgroups = new Map<number, number | null>();
  /** Containers whose names are being read, each with the pid of an exec seen meanwhile (to read again through). */
  private readonly pendingContainers = new Map<string, number | null>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly hasher: ExecutableHasher | null;
  private readonly kubelet: KubeletPods | null;
  private readonly cri: CriPods | null;
  private readonly clock = new BootClock();
  private readonly missProcess: Counter;
  private readonly missParent: Counter;
  private readonly missCgroup: Counter;
  private readonly missContainerUsers: Counter;
  private readonly missHash: Counter;
  private readonly lookupsFailed: Counter;
  private readonly execWaitHeld: Counter;
  private readonly execWaitTimeout: Counter;
  private readonly execWaitOverflow: Counter;
  private started = false;
  /** Whether process.exec/fork records come through (the pipeline has an exec receiver). */
  private seesProcessEvents = false;

  constructor(id: ComponentId, private readonly host: Host, private readonly cfg: EnrichConfig, deps: EnrichDeps = {}) {
    this.scheduler = deps.scheduler ?? asyncScheduler;
    this.counters = new ProcessorCounters(host, id.key);
    this.missProcess = this.counters.counter('cache_miss.process');
    this.missParent = this.counters.counter('cache_miss.parent');
    this.missCgroup = this.counters.counter('cache_miss.cgroup');
    this.missContainerUsers = this.counters.counter('cache_miss.container_users');
    this.missHash = this.counters.counter('cache_miss.hash');
    this.lookupsFailed = this.counters.counter('lookups_failed');
    this.execWaitHeld = this.counters.counter('exec_wait.held');
    this.execWaitTimeout = this.counters.counter('exec_wait.timeout');
    this.execWaitOverflow = this.counters.counter('exec_wait.overflow');
    this.table = new ProcessCache({ maxEntries: cfg.maxProcesses, maxBytes: cfg.maxTableBytes, exitedTtlMs: cfg.exitedTtlMs });
    this.counters.levels = () => ({
      process_table_size: this.table.size,
      process_table_exited: this.table.exitedKept,
      process_table_bytes: this.table.bytes,
      table_evicted: this.table.evicted,
    });
    this.identity = deps.identity ?? {
      hostName: typeof host.resource['host.name'] === 'string' ? (host.resource['host.name'] as string) : hostname(),
      hostId: readMachineId(),
      bootId: readBootId(),
      kernelRelease: release(),
    };
    this.hostUsers = deps.hostUsers ?? new UserNames();
    this.agentRoot = rootKeySync('/');
    this.hasher = cfg.hashExecutables ? new ExecutableHasher(cfg.procRoot, cfg.maxHashFileBytes) : null;
    this.kubelet = cfg.kubeletEndpoint ? new KubeletPods(cfg.kubeletEndpoint, cfg.kubeletPollMs, host.logger, this.counters.key) : null;
    // the CRI client (gRPC) is loaded only when an endpoint is configured
    this.cri = cfg.criEndpoint ? new (require('./cri') as typeof import('./cri')).CriPods(cfg.criEndpoint, cfg.criPollMs, host.logger, this.counters.key) : null;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.cfg.seed) {
      const n = this.seedFromProc();
      this.host.logger.info('process table seeded from /proc', { component: this.counters.key, processes: n });
    }
    this.kubelet?.start();
    this.cri?.start();
    this.counters.startPublishing();
  }

  async shutdown(): Promise<void> {
    this.kubelet?.stop();
    this.cri?.stop();
    this.counters.stopPublishing();
  }

  /** Resolves once every background lookup started so far has finished (tests, benchmarks). */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
    await this.kubelet?.settled();
    await this.cri?.settled();
  }

  private track<T>(p: Promise<T>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Reads every process of /proc into the table (start-up only). */
  seedFromProc(): number {
    let names: string[];
    try {
      names = readdirSync(this.cfg.procRoot);
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
      const pid = Number(name);
      if (this.table.get(pid)) continue;
      const snap = readProcSync(pid, this.cfg.procRoot);
      if (!snap) continue;
      this.table.set(this.fromSnapshot(snap));
      this.afterLearn(pid, snap.cgroup);
      n++;
    }
    return n;
  }

  private fromSnapshot(s: ProcSnapshot): ProcEntry {
    const e: ProcEntry = {
      pid: s.pid, ppid: s.ppid, path: s.path, args: s.args, cmdline: s.args.join(' '),
      execId: execId(this.identity.bootId, s.pid, s.startNs), startNs: s.startNs, exitedAt: 0,
      cgroup: s.cgroup, cgroupId: undefined, hash: undefined, childAncestry: undefined, bytes: entryBytes(s.path, s.args),
    };
    return e;
  }

  /** Background work once a process's cgroup is known: container user names, executable hash. */
  private afterLearn(pid: number, cg: CgroupInfo | undefined): void {
    if (cg?.containerId && this.cfg.containerUsers) this.loadContainerNames(cg.containerId, pid);
    if (this.hasher) this.requestHash(pid);
  }

  private requestHash(pid: number): void {
    const entry = this.table.get(pid);
    if (!entry || entry.hash || !entry.path) return;
    this.hasher!.request(pid, (hash) => {
      if (hash && this.table.get(pid) === entry) entry.hash = hash;
    });
  }

  private lookupProcess(pid: number): void {
    if (this.pendingPids.has(pid) || this.pendingPids.size >= MAX_PENDING) return;
    const gone = this.gonePids.get(pid);
    if (gone !== undefined) {
      if (gone > this.scheduler.now()) return;
      this.gonePids.delete(pid);
    }
    this.pendingPids.add(pid);
    this.track(readProc(pid, this.cfg.procRoot).then((snap) => {
      this.pendingPids.delete(pid);
      if (!snap) {
        this.lookupsFailed.n++;
        // not in /proc (exited): not asked again for a while
        boundedSet(this.gonePids, pid, this.scheduler.now() + GONE_RETRY_MS, MAX_PENDING);
        return;
      }
      if (!this.table.get(pid)) {
        this.table.set(this.fromSnapshot(snap));
        this.afterLearn(pid, snap.cgroup);
      }
    }));
  }

  private resolveCgroup(cgid: number, pid: number, viaParent = false): void {
    if (this.pendingCgroups.has(cgid)) {
      if (pid !== this.pendingCgroups.get(cgid)) this.pendingCgroups.set(cgid, pid);
      return;
    }
    if (this.pendingCgroups.size >= MAX_PENDING) return;
    this.pendingCgroups.set(cgid, null);
    this.track(readCgroup(pid, this.cfg.procRoot).then((read) => {
      const again = this.pendingCgroups.get(cgid) ?? null;
      this.pendingCgroups.delete(cgid);
      // read through the parent: only if the parent is in that very cgroup (its folder's inode is the id)
      const cg = read && viaParent && cgroupIdOf(read.path) !== cgid ? null : read;
      if (!cg) {
        this.lookupsFailed.n++;
        // the process is gone (short-lived ones often are by now): read through another process seen
        // in the cgroup meanwhile, if any (a cgroup's first records come in a burst: the runtime's
        // short-lived helpers, then the long-lived program, whose records would otherwise be skipped),
        // else through its parent, with which a storm of short-lived processes (a build, a shell loop)
        // usually shares its cgroup
        if (again !== null && again !== pid) this.resolveCgroup(cgid, again);
        else if (!viaParent) {
          const ppid = this.table.get(pid)?.ppid;
          if (ppid && ppid !== pid) this.resolveCgroup(cgid, ppid, true);
        }
        return;
      }
      boundedSet(this.cgroups, cgid, cg, MAX_CGROUPS);
      this.namedCgroups.delete(cgid);
      const e = this.table.get(pid);
      if (e && e.cgroupId === undefined) {
        e.cgroup = cg;
        e.cgroupId = cgid;
      }
      if (cg.containerId && this.cfg.containerUsers) this.loadContainerNames(cg.containerId, pid);
    }));
  }

  /**
   * Reads a container's passwd and group through /proc/<pid>/root. A process seen in a container's
   * cgroup may not have entered the container's root yet (the runtime's init moves into the cgroup
   * before pivot_root): names read through the agent's own root are provisional and read again from a
   * later process of the container: at its next exec (by then the runtime has entered the container's
   * root), or at most once a second otherwise. One read per container at a time.
   */
  private loadContainerNames(containerId: string, pid: number, exec = false): void {
    const known = this.containerNames.get(containerId);
    if (this.pendingContainers.has(containerId)) {
      if (exec) this.pendingContainers.set(containerId, pid);
      return;
    }
    // an exec is the moment to read again, even by the same process (the runtime's init execs the
    // container's first program after entering its root)
    if (known && (!known.provisional || (!exec && (known.pid === pid || this.scheduler.now() - known.readAt < 1000)))) return;
    this.pendingContainers.set(containerId, null);
    const root = `${this.cfg.procRoot}/${pid}/root`;
    // in this order, one after the other: the root is the same before and after the files were read
    // only if the process still had it while they were read (read concurrently, a process that exits
    // in between would leave an empty table that looks final)
    const readInOrder = async (): Promise<[string | null, NameTables, string | null]> => {
      const before = await rootKey(root);
      const names = await readNameTables(root);
      return [before, names, await rootKey(root)];
    };
    this.track(readInOrder().then(([before, names, after]) => {
      const again = this.pendingContainers.get(containerId) ?? null;
      this.pendingContainers.delete(containerId);
      let provisional = true;
      if (before === null || before !== after) {
        // the process exited (or changed root) while its files were read: keep what was known, or
        // remember an empty provisional table, read again like any provisional one
        if (known) known.readAt = this.scheduler.now();
        else boundedSet(this.containerNames, containerId, { users: new Map(), groups: new Map(), pid, provisional: true, readAt: this.scheduler.now() }, MAX_CONTAINERS);
      } else {
        provisional = after === this.agentRoot;
        boundedSet(this.containerNames, containerId, { ...names, pid, provisional, readAt: this.scheduler.now() }, MAX_CONTAINERS);
      }
      if (provisional && again !== null) this.loadContainerNames(containerId, again, true);
    }));
  }

  operator(): OperatorFunction<KiteRecord, KiteRecord> {
    return (source) => new Observable<KiteRecord>((sub) => {
      const c = this.counters;
      const waitMs = this.cfg.execWaitMs;
      /**
       * Records of a process that has exec'd while its exec record has not come yet (the exec record
       * travels in the exec receiver's ring, the others in their own), per pid in arrival order, each
       * group with the timer that releases it anyway after exec_wait.
       */
      const waiting = new Map<number, { records: KiteRecord[]; timer: Subscription }>();
      let held = 0;
      const emit = (r: KiteRecord): void => {
        const out = this.enrich(r);
        c.emitted++;
        sub.next(out);
      };
      const release = (pid: number): void => {
        const w = waiting.get(pid);
        if (!w) return;
        waiting.delete(pid);
        w.timer.unsubscribe();
        held -= w.records.length;
        for (const r of w.records) emit(r);
      };
      const hold = (pid: number, r: KiteRecord): void => {
        let w = waiting.get(pid);
        if (!w) {
          w = { records: [], timer: this.scheduler.schedule(() => { this.execWaitTimeout.n++; release(pid); }, waitMs) };
          waiting.set(pid, w);
        }
        w.records.push(r);
        held++;
        this.execWaitHeld.n++;
        while (held > this.cfg.maxHeldRecords) {
          const oldest = waiting.keys().next().value as number;
          this.execWaitOverflow.n += waiting.get(oldest)!.records.length;
          release(oldest);
        }
      };
      const s = source.subscribe({
        next: (r) => {
          c.received++;
          const pid = r['process.pid'];
          if (waitMs > 0 && typeof pid === 'number') {
            const ev = r['event.name'];
            if (ev === 'process.exec' || ev === 'process.fork') {
              this.seesProcessEvents = true;
              emit(r);
              release(pid);
              return;
            }
            if (ev === 'process.exit') {
              release(pid);
            } else if (waiting.has(pid) || this.followsUnseenExec(r, pid)) {
              hold(pid, r);
              return;
            }
          }
          emit(r);
        },
        error: (e) => {
          for (const pid of [...waiting.keys()]) release(pid);
          c.publish();
          sub.error(e);
        },
        complete: () => {
          for (const pid of [...waiting.keys()]) release(pid);
          c.publish();
          sub.complete();
        },
      });
      return () => {
        s.unsubscribe();
        for (const w of waiting.values()) w.timer.unsubscribe();
        waiting.clear();
        c.publish();
      };
    });
  }

  /**
   * Whether `r` was made by a program of `pid` newer than the one the table knows: its exec generation
   * (kite.process.exec_seq, 15 bits, bumped by every exec) is ahead of the entry's, or the process is not
   * in the table yet while process records flow through this pipeline. Learns the
   * generation of entries seeded from /proc from their first record.
   */
  private followsUnseenExec(r: KiteRecord, pid: number): boolean {
    const seq = r['kite.process.exec_seq'];
    if (typeof seq !== 'number') return false;
    const e = this.table.get(pid);
    // not known at all: its fork or exec record is probably still in the exec ring (when the pipeline
    // has an exec receiver: it has sent process records before)
    if (!e) return this.seesProcessEvents;
    if (e.execSeq === undefined) {
      e.execSeq = seq;
      return false;
    }
    const ahead = (seq - e.execSeq) & 0x7fff;
    return ahead > 0 && ahead < 0x4000;
  }

  /**
   * Adds what is known to `r`, in place (the pipeline gives each pipeline its own copy of a record when
   * a receiver feeds several: see Processor.mutatesRecords), and updates the table from process events.
   * Copying every record would cost more than the enrichment itself.
   */
  enrich(r: KiteRecord): KiteRecord {
    const out = r;
    const id = this.identity;
    if (out['host.name'] === undefined) out['host.name'] = id.hostName;
    if (id.hostId) out['host.id'] = id.hostId;
    out['kite.host.boot_id'] = id.bootId;
    out['kite.host.kernel_release'] = id.kernelRelease;
    const pid = r['process.pid'];
    if (typeof pid !== 'number') return out;
    const table = this.table;
    const ev = r['event.name'];
    let e: ProcEntry | undefined;
    if (ev === 'process.exec') e = this.onExec(r, pid);
    else if (ev === 'process.fork') e = this.onFork(r, pid);
    else {
      e = table.get(pid);
      if (ev === 'process.exit') {
        const now = this.scheduler.now();
        table.sweep(now);
        if (e) table.markExited(pid, now);
      }
    }
    if (!e) {
      this.missProcess.n++;
      this.lookupProcess(pid);
    }

    // cgroup: by the record's cgroup id when it has one, else what the table knows of the process
    let cg: CgroupInfo | undefined;
    const cgid = r['kite.cgroup.id'];
    if (typeof cgid === 'number') {
      cg = this.cgroups.get(cgid);
      if (cg) {
        if (e && e.cgroupId !== cgid) {
          e.cgroup = cg;
          e.cgroupId = cgid;
        }
      } else {
        this.missCgroup.n++;
        this.resolveCgroup(cgid, pid);
        // until /proc is read: the container its cgroup's own name gives (exec receiver records),
        // remembered for the cgroup's records without a name
        cg = containerFromCgroupName(r['kite.cgroup.name']);
        if (cg) boundedSet(this.namedCgroups, cgid, cg, MAX_CGROUPS);
        else cg = this.namedCgroups.get(cgid);
      }
    } else {
      cg = e?.cgroup;
    }

    if (e) {
      // a late record of the program the process ran before its last exec: describe that program
      const seq = r['kite.process.exec_seq'];
      const prev = e.previous;
      const img = prev && typeof seq === 'number' && seq === prev.execSeq && seq !== e.execSeq ? prev : e;
      if (out['process.executable.path'] === undefined && img.path) {
        out['process.executable.path'] = img.path;
        out['process.executable.name'] = basename(img.path);
      }
      if (out['process.command_line'] === undefined && img.args.length) {
        out['process.command_args'] = img.args;
        out['process.command_line'] = img.cmdline;
      }
      if (out['kite.process.exec_id'] === undefined) out['kite.process.exec_id'] = img.execId;
      if (out['process.creation.time'] === undefined && e.startNs !== undefined) out['process.creation.time'] = this.clock.formatNs(e.startNs);
      if (this.hasher) {
        if (img !== e) { /* the hash is the current program's */ } else if (e.hash) out['process.executable.hash.sha256'] = e.hash;
        else this.missHash.n++;
      }
    }

    this.addAncestry(out, r, e);
    this.addWorkload(out, cg, r);
    return out;
  }

  /** For records from receivers that do not mint exec ids: boot id + pid + the record's time and kind. */
  private fallbackExecId(r: KiteRecord, pid: number): string {
    return createHash('sha256').update(`${this.identity.bootId}:${pid}:${r.time}:${r['event.name']}`).digest('base64url').slice(0, 22);
  }

  private onExec(r: KiteRecord, pid: number): ProcEntry {
    const old = this.table.get(pid);
    const path = typeof r['process.executable.path'] === 'string' ? r['process.executable.path'] : '';
    const args = Array.isArray(r['process.command_args']) ? (r['process.command_args'] as string[]) : [];
    const ppid = typeof r['process.parent_pid'] === 'number' ? r['process.parent_pid'] : (old?.ppid ?? 0);
    const given = r['kite.process.exec_id'];
    const e: ProcEntry = {
      pid, ppid, path, args, cmdline: typeof r['process.command_line'] === 'string' ? r['process.command_line'] : args.join(' '),
      execId: typeof given === 'string' ? given : this.fallbackExecId(r, pid),
      startNs: old?.startNs, exitedAt: 0, cgroup: old?.cgroup, cgroupId: old?.cgroupId, hash: undefined, childAncestry: undefined,
      bytes: entryBytes(path, args) + (old && old.execSeq !== undefined ? entryBytes(old.path, old.args) : 0),
      execSeq: seqOf(r),
      previous: old && old.execSeq !== undefined ? { path: old.path, args: old.args, cmdline: old.cmdline, execId: old.execId, execSeq: old.execSeq } : undefined,
    };
    this.table.set(e);
    if (this.hasher) this.requestHash(pid);
    return e;
  }

  private onFork(r: KiteRecord, pid: number): ProcEntry {
    const ppid = typeof r['process.parent_pid'] === 'number' ? r['process.parent_pid'] : 0;
    const parent = this.table.get(ppid);
    const args = Array.isArray(r['process.command_args']) ? (r['process.command_args'] as string[]) : (parent?.args ?? []);
    const path = typeof r['process.executable.path'] === 'string' ? r['process.executable.path'] : (parent?.path ?? '');
    const given = r['kite.process.exec_id'];
    const line = r['process.command_line'];
    const e: ProcEntry = {
      // the command line as the record gives it with its args (as for an exec), else joined once here
      pid, ppid, path, args, cmdline: args === parent?.args ? parent.cmdline : args === r['process.command_args'] && typeof line === 'string' ? line : args.join(' '),
      execId: typeof given === 'string' ? given : this.fallbackExecId(r, pid),
      startNs: undefined, exitedAt: 0, cgroup: parent?.cgroup, cgroupId: parent?.cgroupId, hash: parent?.path === path ? parent?.hash : undefined, childAncestry: undefined,
      bytes: entryBytes(path, args),
      execSeq: seqOf(r),
    };
    this.table.set(e);
    return e;
  }

  private addAncestry(out: KiteRecord, r: KiteRecord, e: ProcEntry | undefined): void {
    const given = r['process.parent_pid'];
    const ppid = typeof given === 'number' ? given : e?.ppid;
    if (!ppid) return;
    const a = this.table.get(ppid);
    if (typeof given !== 'number') out['process.parent_pid'] = ppid;
    if (!a) {
      this.missParent.n++;
      this.lookupProcess(ppid);
      return;
    }
    if (a.path) out['process.parent.executable.path'] = a.path;
    if (a.cmdline) out['process.parent.command_line'] = a.cmdline;
    if (out['kite.process.parent.exec_id'] === undefined) out['kite.process.parent.exec_id'] = a.execId;
    if (!this.cfg.ancestryDepth) return;
    // the chain is computed once per parent program and shared by all its children's records (the
    // lists are never modified); a chain cut short by an unknown ancestor is computed again
    let chain = a.childAncestry;
    if (!chain || !chain.complete) {
      chain = this.ancestryOf(a);
      a.childAncestry = chain;
    }
    out['kite.process.ancestors.pid'] = chain.pids;
    out['kite.process.ancestors.executable.path'] = chain.paths;
    out['kite.process.ancestors.command_line'] = chain.cmdlines;
    out['kite.process.ancestors.exec_id'] = chain.execIds;
  }

  private ancestryOf(parent: ProcEntry): Ancestry {
    const chain: Ancestry = { pids: [], paths: [], cmdlines: [], execIds: [], complete: true };
    let a: ProcEntry | undefined = parent;
    for (let i = 0; i < this.cfg.ancestryDepth; i++) {
      chain.pids.push(a.pid);
      chain.paths.push(a.path);
      chain.cmdlines.push(a.cmdline);
      chain.execIds.push(a.execId);
      if (!a.ppid || a.ppid === a.pid) break;
      const up: ProcEntry | undefined = this.table.get(a.ppid);
      if (!up) {
        chain.complete = false;
        break;
      }
      a = up;
    }
    return chain;
  }

  private addWorkload(out: KiteRecord, cg: CgroupInfo | undefined, r: KiteRecord): void {
    if (cg) {
      if (cg.path) out['kite.cgroup.path'] = cg.path;
      if (cg.systemdUnit) out['kite.systemd.unit'] = cg.systemdUnit;
      // the CRI runtime knows containers by id (and their pods), the kubelet pods by uid
      const ctr = cg.containerId ? this.cri?.containers.get(cg.containerId) : undefined;
      const podUid = cg.podUid ?? ctr?.pod.uid;
      if (podUid) {
        out['k8s.pod.uid'] = podUid;
        const pod = ctr?.pod ?? this.cri?.pods.get(podUid) ?? this.kubelet?.pods.get(podUid);
        if (pod) {
          out['k8s.pod.name'] = pod.name;
          out['k8s.namespace.name'] = pod.namespace;
          for (const k in pod.labels) out[`k8s.pod.label.${k}`] = pod.labels[k]!;
        }
      }
      if (ctr?.name) out['k8s.container.name'] = ctr.name;
    }
    const uid = r['process.user.id'];
    const ruid = r['process.real_user.id'];
    const gid = r['process.group.id'];
    if (cg?.containerId) {
      out['container.id'] = cg.containerId;
      if (cg.containerRuntime) out['container.runtime'] = cg.containerRuntime;
      // names of ids inside a container come from the container's files, never the host's
      // (set to undefined rather than deleted: deleting slows every later access to the record)
      if (out['process.user.name'] !== undefined) out['process.user.name'] = undefined;
      if (out['process.real_user.name'] !== undefined) out['process.real_user.name'] = undefined;
      if (out['process.group.name'] !== undefined) out['process.group.name'] = undefined;
      if (!this.cfg.containerUsers) return;
      const names = this.containerNames.get(cg.containerId);
      // read when unknown too: the container may be known from its cgroup's name while the cgroup's
      // path is not read yet (or cannot be: its process is gone)
      if (!names || names.provisional) this.loadContainerNames(cg.containerId, r['process.pid'] as number, r['event.name'] === 'process.exec');
      if (!names) {
        if (typeof uid === 'number') this.missContainerUsers.n++;
        return;
      }
      setName(out, 'process.user.name', names.users, uid);
      setName(out, 'process.real_user.name', names.users, ruid);
      setName(out, 'process.group.name', names.groups, gid);
      return;
    }
    const u = this.hostUsers;
    if (typeof uid === 'number' && out['process.user.name'] === undefined) {
      const n = u.user(uid);
      if (n !== undefined) out['process.user.name'] = n;
    }
    if (typeof ruid === 'number' && out['process.real_user.name'] === undefined) {
      const n = u.user(ruid);
      if (n !== undefined) out['process.real_user.name'] = n;
    }
    if (typeof gid === 'number' && out['process.group.name'] === undefined) {
      const n = u.group(gid);
      if (n !== undefined) out['process.group.name'] = n;
    }
  }
}

/**
 * The container a cgroup directory's name alone says (`libpod-<id>`, `docker-<id>.scope`,
 * `cri-containerd-<id>.scope`, `crio-<id>.scope`), with no path: for the first records of a new cgroup,
 * before its path is read from /proc. Names that need their parents (cgroupfs drivers) give nothing.
 */
export function containerFromCgroupName(name: AttrValue | undefined): CgroupInfo | undefined {
  if (typeof name !== 'string' || !name) return undefined;
  const info = parseCgroupPath(`/${name}`);
  return info.containerId ? { ...info, path: '' } : undefined;
}

/** The id of the cgroup v2 folder at `path` (its inode number, as the kernel reports cgroup ids); -1 if unknown. */
function cgroupIdOf(path: string): number {
  try {
    cgroup2RootPath ??= cgroup2Root();
    return statSync(`${cgroup2RootPath}${path === '/' ? '' : path}`).ino;
  } catch {
    return -1;
  }
}

function setName(out: KiteRecord, key: string, names: Map<number, string>, id: AttrValue | undefined): void {
  if (typeof id !== 'number') return;
  const n = names.get(id);
  if (n !== undefined) out[key] = n;
}

/** A record's exec generation (kite.process.exec_seq), when the kernel stamped one. */
function seqOf(r: KiteRecord): number | undefined {
  const v = r['kite.process.exec_seq'];
  return typeof v === 'number' ? v : undefined;
}
