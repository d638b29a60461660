/**
 * file receiver: opens, unlink, rename, chmod, chown and truncate of watched paths (bpf/file.bpf.c,
 * per-syscall tracepoints; Linux 5.17+ for bpf_loop).
 *
 * Paths are made absolute and matched against the watched prefixes in the kernel; what is not watched
 * never reaches user space and is counted (`path_filtered`). Each record pairs the call's entry
 * (arguments) with its exit (result: the fd, 0, or the errno as error.type).
 */
import { posix } from 'node:path';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { syscallsWithTracepoints } from '../../bpf/tracefs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject, BpfProgram, errnoName } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import { UserNames } from '../exec/users';
import { FileConfig, FileOperation } from './config';
import { PrefixMatcher, prefixEntries, writeTrie } from './prefixes';
import { FilePrefixPushdown, narrowPrefixEntries, takeFilePrefixes } from './pushdown';
import type { KernelPredicate, PushdownField, PushdownPlan } from '../../processors/filter/pushdown';
import { decodeFile, decodeFileAgg, FileAggStat, FileAggWire, fileOpOf, FileOp, FileStat, FileWire, FILE_AGG_FLUSH_ARGS, FILE_AGG_MAP, FILE_RODATA, FILE_SYSCALLS, PathFlags, PrefixAction } from './wire';
import { addExecSeq } from '../wire-header';

const EVENT_NAMES: Record<number, string> = {
  [FileOp.OPEN]: 'file.open',
  [FileOp.UNLINK]: 'file.unlink',
  [FileOp.RENAME]: 'file.rename',
  [FileOp.CHMOD]: 'file.chmod',
  [FileOp.CHOWN]: 'file.chown',
  [FileOp.TRUNCATE]: 'file.truncate',
};

/** The system calls behind each operation (one entry and one exit program each; opens: exit only). */
export const OPERATION_SYSCALLS: Record<FileOperation, string[]> = {
  open: ['open', 'openat', 'openat2', 'creat'],
  unlink: ['unlink', 'unlinkat'],
  rename: ['rename', 'renameat', 'renameat2'],
  chmod: ['chmod', 'fchmod', 'fchmodat', 'fchmodat2'],
  chown: ['chown', 'lchown', 'fchown', 'fchownat'],
  truncate: ['truncate', 'ftruncate'],
};

const ALL_SYSCALLS = Object.values(OPERATION_SYSCALLS).flat();
const OPEN_SYSCALLS = new Set(OPERATION_SYSCALLS.open);

/** The programs of a system call (bpf/file.bpf.c). Opens have two sets: decided at exit only on the
 * opened file (`resolve`), or at entry on the name. */
export function programsOf(syscall: string, resolve = true): string[] {
  if (!OPEN_SYSCALLS.has(syscall)) return [`handle_enter_${syscall}`, `handle_exit_${syscall}`];
  return resolve ? [`handle_exit_${syscall}`] : [`handle_named_enter_${syscall}`, `handle_named_exit_${syscall}`];
}
/** System calls that may change a folder's path: with `resolve`, their exits drop the kernel's cache
 * of unwatched folders (bpf/file.bpf.c, handle_epoch_<call>). */
export const EPOCH_SYSCALLS = ['rename', 'renameat', 'renameat2', 'rmdir', 'unlinkat', 'mount', 'umount', 'move_mount', 'pivot_root'];

/** The system calls this kernel has a tracepoint for (all of them when tracefs cannot be read). */
const existing = (wanted: string[]): string[] => syscallsWithTracepoints(wanted);

function syscallsOf(ops: FileOperation[]): string[] {
  return existing(ops.flatMap((o) => OPERATION_SYSCALLS[o]));
}

const O = { ACCMODE: 0o3, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, APPEND: 0o2000, DIRECTORY: 0o200000, PATH: 0o10000000 } as const;
const AT_REMOVEDIR = 0x200;

/** What an open intends, from its flags: read, write, create, truncate, append (or path: O_PATH). */
export function openIntent(flags: number): string[] {
  if (flags & O.PATH) return ['path'];
  const out: string[] = [];
  const acc = flags & O.ACCMODE;
  if (acc === 0 || acc === O.RDWR) out.push('read');
  if (acc === O.WRONLY || acc === O.RDWR) out.push('write');
  if (flags & O.CREAT) out.push('create');
  if (flags & O.TRUNC) out.push('truncate');
  if (flags & O.APPEND) out.push('append');
  return out;
}

const O_PATH = 0o10000000;

/**
 * Where `path` (absolute, as process `tgid` sees it) leads in that process's root: its symbolic links
 * and `..` resolved by the kernel (an O_PATH open through /proc/<tgid>/root, which needs no permission
 * on the file itself). A process that has already exited is resolved in the agent's own root. When
 * the path cannot be opened (it does not exist), `path` normalized lexically.
 */
export function resolveInRoot(tgid: number, path: string): string {
  const lexical = posix.normalize(path);
  let root = '/';
  let through = '';
  try {
    root = readlinkSync(`/proc/${tgid}/root`);
    through = `/proc/${tgid}/root`;
  } catch {
    // gone: its own root is no longer known
  }
  try {
    const fd = openSync(through ? `${through}${path}` : path, O_PATH);
    try {
      const real = readlinkSync(`/proc/self/fd/${fd}`);
      if (root === '/') return real;
      if (real === root) return '/';
      return real.startsWith(`${root}/`) ? real.slice(root.length) : lexical;
    } finally {
      closeSync(fd);
    }
  } catch {
    return lexical;
  }
}

/** dirname and basename of an absolute, normalized path (what posix.dirname and basename give). */
function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  if (i <= 0) return ['/', path.slice(i + 1)];
  return [path.slice(0, i), path.slice(i + 1)];
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** The kite.summary value of a summary of repeated opens folded in the kernel. */
export const KERNEL_AGGREGATE_SUMMARY = 'kernel_aggregate';

const AGG_DEAD = 0xffffffff;

/**
 * The first records of open aggregation windows, by window id, to build their summaries: at most
 * `max` (the oldest goes first, counted as evicted), and none older than `ttlMs` (a window whose first
 * record went out but whose entry could not be made, e.g. the kernel map was full, never has a summary).
 */
export class FirstRecords {
  private readonly m = new Map<number, { rec: KiteRecord; at: number }>();
  evicted = 0;
  constructor(private readonly max: number, private readonly ttlMs: number) {}
  get size(): number {
    return this.m.size;
  }
  add(window: number, rec: KiteRecord, now: number): void {
    this.m.delete(window);
    this.m.set(window, { rec: { ...rec }, at: now });
    if (this.m.size > this.max) {
      this.m.delete(this.m.keys().next().value as number);
      this.evicted++;
    }
  }
  take(window: number): KiteRecord | undefined {
    const e = this.m.get(window);
    if (!e) return undefined;
    this.m.delete(window);
    return e.rec;
  }
  prune(now: number): void {
    for (const [k, e] of this.m) {
      if (now - e.at < this.ttlMs) break;
      this.m.delete(k);
    }
  }
}

/**
 * The summary of a window of opens folded in the kernel, shaped like a dedupe summary: the first
 * record's attributes (without its fd and thread id, which the repeats need not share), `time` and
 * `kite.repeat.last_time` the last folded open's, `kite.repeat_count` the opens folded after the first
 * record. Without the first record (lost in a full ring, or evicted), what the kernel knows: the
 * process, the flags and the times.
 */
export function aggregateSummary(a: FileAggWire, first: KiteRecord | undefined, ctx: { format: (hi: number, lo: number) => string; eventId: () => string; resource: Readonly<Record<string, unknown>> }): KiteRecord {
  const last = ctx.format(a.lastKtimeHi, a.lastKtimeLo);
  let base: KiteRecord;
  if (first) {
    base = { ...first, time: last };
    delete base['kite.file.fd'];
    delete base['kite.process.tid'];
  } else {
    base = { time: last, 'event.name': EVENT_NAMES[a.foldedOp] ?? `unknown_${a.foldedOp}` } as KiteRecord;
    Object.assign(base, ctx.resource, { 'kite.file.result': 'ok', 'kite.file.flags': a.openFlags, 'kite.file.intent': openIntent(a.openFlags), 'process.pid': a.tgid });
    addExecSeq(base, a.execSeq);
  }
  base['kite.event_id'] = ctx.eventId();
  base['kite.summary'] = KERNEL_AGGREGATE_SUMMARY;
  base['kite.repeat_count'] = a.count;
  base['kite.repeat.first_time'] = first ? first.time : ctx.format(a.firstKtimeHi, a.firstKtimeLo);
  base['kite.repeat.last_time'] = last;
  if (first) base['kite.repeat.first_event_id'] = first['kite.event_id'];
  return base;
}

export class FileReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  private readonly users = new UserNames();
  private readonly programs: string[];
  private matcher: PrefixMatcher | null = null;
  private undecidedDropped = 0;
  /** `file.path` prefix conditions of a filter processor (./pushdown.ts). */
  private prefixPushdown: FilePrefixPushdown = { include: null, exclude: [] };
  /** In-kernel aggregation of opens (window 0: off). */
  private readonly aggOn: boolean;
  private flushProg: BpfProgram | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly firsts: FirstRecords;
  private readonly agg = { repeats: 0, withoutFirst: 0, flushErrors: 0 };

  constructor(id: ComponentId, host: Host, private readonly cfg: FileConfig) {
    const epoch = cfg.resolve && cfg.operations.includes('open') ? existing(EPOCH_SYSCALLS) : [];
    const programs = [...syscallsOf(cfg.operations).flatMap((s) => programsOf(s, cfg.resolve)), ...epoch.map((s) => `handle_epoch_${s}`)];
    super(id, host, {
      object: 'file',
      programs,
      ringMap: 'file_events',
      statsMap: 'file_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
    this.programs = programs;
    const { windowMs, maxKeys } = cfg.aggregate;
    this.aggOn = windowMs > 0 && cfg.resolve && cfg.operations.includes('open');
    this.firsts = new FirstRecords(2 * maxKeys, 3 * windowMs + 10_000);
  }

  protected override configure(obj: BpfObject): void {
    const wanted = new Set(this.programs);
    const every = new Set([...ALL_SYSCALLS.flatMap((s) => [...programsOf(s, true), ...programsOf(s, false)]), ...EPOCH_SYSCALLS.map((s) => `handle_epoch_${s}`)]);
    for (const p of every) if (!wanted.has(p)) obj.program(p).setAutoload(false);
    if (this.aggOn) {
      const rodata = obj.rodata();
      const v = rodata.initialValue();
      v.writeBigUInt64LE(BigInt(Math.round(this.cfg.aggregate.windowMs * 1e6)), FILE_RODATA.agg_window_ns.offset);
      rodata.setInitialValue(v);
      obj.map('file_agg').setMaxEntries(this.cfg.aggregate.maxKeys);
    } else {
      obj.program('file_agg_flush').setAutoload(false);
      obj.map('file_agg').setMaxEntries(1);
    }
  }

  protected override afterAttach(): void {
    if (!this.aggOn || !this.obj) return;
    this.flushProg = this.obj.program('file_agg_flush');
    // windows close at most half a window late when no open of their key follows
    this.flushTimer = setInterval(() => this.flushAggregates(false), Math.max(5, this.cfg.aggregate.windowMs / 2));
    this.flushTimer.unref();
  }

  /** Runs the kernel's flush of aggregation windows (all of them, or those past the window); true when the ring was full. */
  private flushAggregates(all: boolean): boolean {
    if (!this.flushProg || !this.obj?.isLoaded) return false;
    const ctx = Buffer.alloc(FILE_AGG_FLUSH_ARGS.size);
    ctx.writeUInt32LE(all ? 1 : 0, FILE_AGG_FLUSH_ARGS.fields.all.offset);
    try {
      this.flushProg.runSyscall(ctx);
    } catch (e) {
      if (!this.agg.flushErrors++) this.host.logger.warn('aggregation flush failed (said once; counted as aggregate_flush_errors)', { component: `receiver/${this.id.key}`, error: (e as Error).message });
      return false;
    }
    return ctx.readUInt32LE(FILE_AGG_FLUSH_ARGS.fields.deferred.offset) !== 0;
  }

  /** On stop (programs detached): every window is closed into the ring; what cannot be (the ring stays full) is counted as aggregate_lost. */
  protected override async beforeDrain(obj: BpfObject): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (!this.aggOn) return;
    for (let i = 0; i < 100 && this.flushAggregates(true); i++) await new Promise((r) => setTimeout(r, 20));
    const map = obj.map('file_agg');
    const v = Buffer.alloc(FILE_AGG_MAP.valueSize);
    let lost = 0;
    for (const k of map.keys(FILE_AGG_MAP.keySize)) {
      if (!map.lookup(k, v)) continue;
      const count = v.readUInt32LE(FILE_AGG_MAP.stateOffset);
      if (count !== AGG_DEAD) lost += count;
    }
    if (lost) {
      this.host.stats.set(`receiver/${this.id.key}`, 'aggregate_lost', lost);
      this.host.logger.warn('aggregated opens lost at stop: the ring stayed full', { component: `receiver/${this.id.key}`, lost });
    }
    this.flushProg = null;
  }

  protected override get ownPushdownFields(): PushdownField[] {
    return ['path_prefix'];
  }

  protected override applyOwnPushdown(plan: PushdownPlan): KernelPredicate[] {
    const { pushdown, installed } = takeFilePrefixes(plan, this.prefixPushdown);
    this.prefixPushdown = pushdown;
    return installed;
  }

  protected override afterLoad(obj: BpfObject): void {
    const settings = prefixEntries(this.cfg.include, this.cfg.exclude);
    const pushed = this.prefixPushdown.include !== null || this.prefixPushdown.exclude.length > 0;
    const entries = pushed ? narrowPrefixEntries(settings, this.prefixPushdown) : settings;
    const n = writeTrie(obj, entries);
    // records the kernel leaves undecided are judged in user space by the same entries
    this.matcher = PrefixMatcher.of(entries);
    this.host.logger.info('watched path prefixes', { component: `receiver/${this.id.key}`, prefixes: n });
  }

  protected override tick(): void {
    this.clock.sync();
    const obj = this.obj;
    if (!obj?.isLoaded) return;
    const kernel = Number(obj.map('file_stats').sumPerCpuU64(FileStat.PATH_FILTERED));
    this.host.stats.set(`receiver/${this.id.key}`, 'path_filtered', kernel + this.undecidedDropped);
    this.host.stats.set(`receiver/${this.id.key}`, 'path_filtered_user', this.undecidedDropped);
    if (this.aggOn) {
      const key = `receiver/${this.id.key}`;
      const st = obj.map('file_agg_stats');
      const n = (slot: number): number => Number(st.sumPerCpuU64(slot));
      this.host.stats.set(key, 'aggregate_folded', n(FileAggStat.FOLDED));
      this.host.stats.set(key, 'aggregate_windows', n(FileAggStat.WINDOWS));
      this.host.stats.set(key, 'aggregate_summaries', n(FileAggStat.SUMMARIES));
      this.host.stats.set(key, 'aggregate_map_full', n(FileAggStat.MAP_FULL));
      this.host.stats.set(key, 'aggregate_deferred', n(FileAggStat.DEFERRED));
      this.host.stats.set(key, 'aggregate_repeats', this.agg.repeats);
      this.host.stats.set(key, 'aggregate_summaries_without_first', this.agg.withoutFirst);
      this.host.stats.set(key, 'aggregate_first_evicted', this.firsts.evicted);
      this.host.stats.set(key, 'aggregate_flush_errors', this.agg.flushErrors);
      this.firsts.prune(Date.now());
    }
  }

  private summaryOf(a: FileAggWire): KiteRecord {
    const first = this.firsts.take(a.window);
    if (!first) this.agg.withoutFirst++;
    this.agg.repeats += a.count;
    return aggregateSummary(a, first, { format: (hi, lo) => this.clock.formatHiLo(hi, lo), eventId: this.host.nextEventId, resource: this.host.resource });
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string | null {
    if (fileOpOf(buf, offset, length) === FileOp.OPEN_SUMMARY) {
      const a = decodeFileAgg(buf, offset, length);
      return typeof a === 'string' ? a : this.summaryOf(a);
    }
    const w = decodeFile(buf, offset, length);
    if (typeof w === 'string') return w;
    if (w.aggWindow) {
      const rec = this.toRecord(w);
      this.firsts.add(w.aggWindow, rec, Date.now());
      return rec;
    }
    if (w.pathFlags & PathFlags.UNDECIDED) {
      // not watched as named, but it may resolve into a watched prefix: resolve it and decide here
      const resolved = resolveInRoot(w.tgid, w.path);
      this.matcher ??= new PrefixMatcher(this.cfg.include, this.cfg.exclude);
      if (this.matcher.action(resolved) !== PrefixAction.WATCH) {
        this.undecidedDropped++;
        return null;
      }
      return this.toRecord(w, resolved);
    }
    return this.toRecord(w);
  }

  toRecord(w: FileWire, resolved?: string): KiteRecord {
    const path = resolved ?? (!w.path ? '' : w.pathFlags & PathFlags.RESOLVED ? w.path : posix.normalize(w.path));
    const [dir, name] = path ? splitPath(path) : ['', ''];
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': EVENT_NAMES[w.op]!,
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'file.path': path,
      'file.directory': dir,
      'file.name': name,
      'kite.file.syscall': FILE_SYSCALLS[w.syscall] ?? `unknown_${w.syscall}`,
    };
    if (w.pathFlags & (PathFlags.RESOLVED | PathFlags.UNDECIDED)) {
      const requested = w.pathFlags & PathFlags.RESOLVED ? w.path2 : w.path;
      if (requested && requested !== path) rec['kite.file.path.requested'] = requested;
    } else if (w.path !== path) {
      rec['kite.file.path.unnormalized'] = w.path;
    }
    if (w.pathFlags & PathFlags.RELATIVE) rec['kite.file.path.relative'] = true;
    if (w.pathFlags & PathFlags.FROM_FD) rec['kite.file.path.from_fd'] = true;
    if ((w.pathFlags | w.path2Flags) & PathFlags.TRUNCATED) rec['kite.file.path.truncated'] = true;
    if (w.pathFlags & PathFlags.UNREADABLE) rec['kite.file.path.unreadable'] = true;
    if (w.dirfd >= 0) rec['kite.file.dirfd'] = w.dirfd;
    if (w.ret < 0) {
      rec['kite.file.result'] = 'error';
      rec['error.type'] = errnoName(-w.ret);
    } else {
      rec['kite.file.result'] = 'ok';
    }
    switch (w.op) {
      case FileOp.OPEN:
        rec['kite.file.flags'] = w.openFlags;
        rec['kite.file.intent'] = openIntent(w.openFlags);
        if (w.openFlags & O.CREAT) rec['file.mode'] = octal(w.mode);
        if (w.ret >= 0) rec['kite.file.fd'] = w.ret;
        break;
      case FileOp.UNLINK:
        if (w.openFlags & AT_REMOVEDIR) rec['kite.file.directory_removed'] = true;
        break;
      case FileOp.RENAME: {
        // path2 is the new name (for opens it is the name as given: kite.file.path.requested)
        const to = w.path2 ? posix.normalize(w.path2) : '';
        rec['kite.file.new_path'] = to;
        rec['kite.file.new_directory'] = to ? posix.dirname(to) : '';
        rec['kite.file.new_name'] = to ? posix.basename(to) : '';
        if (w.openFlags) rec['kite.file.flags'] = w.openFlags;
        break;
      }
      case FileOp.CHMOD:
        rec['file.mode'] = octal(w.mode);
        break;
      case FileOp.CHOWN:
        if (w.ownerUid !== 0xffffffff) rec['file.owner.id'] = String(w.ownerUid);
        if (w.ownerGid !== 0xffffffff) rec['file.group.id'] = String(w.ownerGid);
        break;
      case FileOp.TRUNCATE:
        rec['file.size'] = w.length;
        break;
    }
    rec['process.pid'] = w.tgid;
    rec['kite.process.tid'] = w.pid;
    rec['kite.process.comm'] = w.comm;
    rec['process.user.id'] = w.euid;
    rec['process.real_user.id'] = w.uid;
    rec['process.group.id'] = w.egid;
    rec['process.real_group.id'] = w.gid;
    const user = this.users.user(w.euid);
    if (user !== undefined) rec['process.user.name'] = user;
    rec['kite.cgroup.id'] = w.cgroupId;
    addExecSeq(rec, w.execSeq);
    return rec;
  }
}
