/**
 * file receiver: opens, unlink, rename, chmod, chown and truncate of watched paths (bpf/file.bpf.c,
 * per-syscall tracepoints; Linux 5.17+ for bpf_loop).
 *
 * Paths are made absolute and matched against the watched prefixes in the kernel; what is not watched
 * never reaches user space and is counted (`path_filtered`). Each record pairs the call's entry
 * (arguments) with its exit (result: the fd, 0, or the errno as error.type).
 */
import { posix } from 'node:path';
import { existsSync } from 'node:fs';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject, errnoName } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import { UserNames } from '../exec/users';
import { FileConfig, FileOperation } from './config';
import { applyPrefixes } from './prefixes';
import { decodeFile, FileOp, FileStat, FileWire, FILE_SYSCALLS, PathFlags } from './wire';
import { addExecSeq } from '../wire-header';

const EVENT_NAMES: Record<number, string> = {
  [FileOp.OPEN]: 'file.open',
  [FileOp.UNLINK]: 'file.unlink',
  [FileOp.RENAME]: 'file.rename',
  [FileOp.CHMOD]: 'file.chmod',
  [FileOp.CHOWN]: 'file.chown',
  [FileOp.TRUNCATE]: 'file.truncate',
};

/** The system calls behind each operation (one entry and one exit program each). */
export const OPERATION_SYSCALLS: Record<FileOperation, string[]> = {
  open: ['open', 'openat', 'openat2', 'creat'],
  unlink: ['unlink', 'unlinkat'],
  rename: ['rename', 'renameat', 'renameat2'],
  chmod: ['chmod', 'fchmod', 'fchmodat', 'fchmodat2'],
  chown: ['chown', 'lchown', 'fchown', 'fchownat'],
  truncate: ['truncate', 'ftruncate'],
};

const ALL_SYSCALLS = Object.values(OPERATION_SYSCALLS).flat();
const TRACEFS_SYSCALLS = ['/sys/kernel/tracing/events/syscalls', '/sys/kernel/debug/tracing/events/syscalls'];

/** The system calls this kernel has a tracepoint for (all of them when tracefs cannot be read). */
function syscallsOf(ops: FileOperation[]): string[] {
  const wanted = ops.flatMap((o) => OPERATION_SYSCALLS[o]);
  const dir = TRACEFS_SYSCALLS.find((d) => existsSync(d));
  return dir ? wanted.filter((s) => existsSync(`${dir}/sys_enter_${s}`)) : wanted;
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

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

export class FileReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  private readonly users = new UserNames();
  private readonly syscalls: string[];

  constructor(id: ComponentId, host: Host, private readonly cfg: FileConfig) {
    const syscalls = syscallsOf(cfg.operations);
    super(id, host, {
      object: 'file',
      programs: syscalls.flatMap((s) => [`handle_enter_${s}`, `handle_exit_${s}`]),
      ringMap: 'file_events',
      statsMap: 'file_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
    this.syscalls = syscalls;
  }

  protected override configure(obj: BpfObject): void {
    for (const s of ALL_SYSCALLS) {
      if (!this.syscalls.includes(s)) {
        obj.program(`handle_enter_${s}`).setAutoload(false);
        obj.program(`handle_exit_${s}`).setAutoload(false);
      }
    }
  }

  protected override afterLoad(obj: BpfObject): void {
    const n = applyPrefixes(obj, this.cfg.include, this.cfg.exclude);
    this.host.logger.info('watched path prefixes', { component: `receiver/${this.id.key}`, prefixes: n });
  }

  protected override tick(): void {
    this.clock.sync();
    const obj = this.obj;
    if (obj?.isLoaded) this.host.stats.set(`receiver/${this.id.key}`, 'path_filtered', Number(obj.map('file_stats').sumPerCpuU64(FileStat.PATH_FILTERED)));
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string {
    const w = decodeFile(buf, offset, length);
    if (typeof w === 'string') return w;
    return this.toRecord(w);
  }

  toRecord(w: FileWire): KiteRecord {
    const path = w.path ? posix.normalize(w.path) : '';
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': EVENT_NAMES[w.op]!,
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'file.path': path,
      'file.directory': path ? posix.dirname(path) : '',
      'file.name': path ? posix.basename(path) : '',
      'kite.file.syscall': FILE_SYSCALLS[w.syscall] ?? `unknown_${w.syscall}`,
    };
    if (w.path !== path) rec['kite.file.path.unnormalized'] = w.path;
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
