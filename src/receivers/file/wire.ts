/**
 * Decoder of `struct file_event` (bpf/file.h). C is the source of truth: the offsets below are checked
 * against the object's BTF by test/layout/file-layout.test.ts. Never throws: a short or malformed
 * record returns a reason string, which the receiver counts.
 */
import { KITE_EVENT_HEADER_FIELDS, KITE_TASK_FIELDS } from '../wire-header';
import { readCString as cstr, readEventStart, RecordShape, WireHeader, WireTask } from '../wire-read';

/** enum kite_op (bpf/lib/common.h), the file receiver's part. */
export const FileOp = { OPEN: 10, UNLINK: 11, RENAME: 12, CHMOD: 13, CHOWN: 14, TRUNCATE: 15, OPEN_SUMMARY: 16 } as const;

/** enum file_syscall (bpf/file.h): index -> name of the system call. */
export const FILE_SYSCALLS: Record<number, string> = {
  1: 'open', 2: 'openat', 3: 'openat2', 4: 'creat', 5: 'unlink', 6: 'unlinkat', 7: 'rename', 8: 'renameat',
  9: 'renameat2', 10: 'chmod', 11: 'fchmod', 12: 'fchmodat', 13: 'fchmodat2', 14: 'chown', 15: 'lchown',
  16: 'fchown', 17: 'fchownat', 18: 'truncate', 19: 'ftruncate',
};

/** enum kite_path_flags (bpf/lib/path_wire.h) */
export const PathFlags = { TRUNCATED: 1, RELATIVE: 2, FROM_FD: 4, UNREADABLE: 8, RESOLVED: 16, UNDECIDED: 32 } as const;

/** enum kite_prefix_action (bpf/lib/path_wire.h) */
export const PrefixAction = { WATCH: 1, IGNORE: 2 } as const;

/** enum file_stat (bpf/file.h): slot of file_stats after the shared kite_stat slots. */
export const FileStat = { PATH_FILTERED: 3 } as const;

/** enum file_agg_stat (bpf/file.h): slots of file_agg_stats (in-kernel aggregation of opens). */
export const FileAggStat = { FOLDED: 0, WINDOWS: 1, SUMMARIES: 2, MAP_FULL: 3, DEFERRED: 4, MAX: 8 } as const;

/** enum file_agg_close (bpf/file.h): why a window was closed. */
export const FileAggClose: Record<number, string> = { 1: 'expired', 2: 'flush', 3: 'stop' };

/** Offsets of the read-only knobs in the object's .rodata (checked by the layout test). */
export const FILE_RODATA = { agg_window_ns: { offset: 0, size: 8 } } as const;

/** Byte offsets of struct file_agg_event (bpf/file.h): the summary of a closed aggregation window. */
export const FILE_AGG_EVENT = {
  size: 56,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    tgid: { offset: 16, size: 4 },
    window: { offset: 20, size: 4 },
    count: { offset: 24, size: 8 },
    first_ktime: { offset: 32, size: 8 },
    last_ktime: { offset: 40, size: 8 },
    open_flags: { offset: 48, size: 4 },
    reason: { offset: 52, size: 2 },
    op: { offset: 54, size: 2 },
  },
} as const;

/** The file_agg map (bpf/file.bpf.c): sizes of struct file_agg_key and file_agg_val, and where the
 * value's `state` is (its low half is the count; checked by the layout test). */
export const FILE_AGG_MAP = { keySize: 40, valueSize: 64, stateOffset: 56 } as const;

/** struct file_agg_flush_args (bpf/file.h): the context of the file_agg_flush program. */
export const FILE_AGG_FLUSH_ARGS = {
  size: 16,
  fields: { all: { offset: 0, size: 4 }, closed: { offset: 4, size: 4 }, summaries: { offset: 8, size: 4 }, deferred: { offset: 12, size: 4 } },
} as const;

/** Limits of bpf/file.h and bpf/lib/path_wire.h (checked by the layout test). */
export const FILE_LIMITS = { commLen: 16, pathMax: 4096, prefixMax: 256 } as const;

/** Byte offsets of struct kite_event_header and struct file_event (bpf/file.h). */
export const FILE_EVENT = {
  size: 112,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    ...KITE_TASK_FIELDS,
    uid: { offset: 24, size: 4 },
    euid: { offset: 28, size: 4 },
    gid: { offset: 32, size: 4 },
    egid: { offset: 36, size: 4 },
    cgroup_id: { offset: 40, size: 8 },
    ret: { offset: 48, size: 8 },
    length: { offset: 56, size: 8 },
    open_flags: { offset: 64, size: 4 },
    mode: { offset: 68, size: 4 },
    owner_uid: { offset: 72, size: 4 },
    owner_gid: { offset: 76, size: 4 },
    dirfd: { offset: 80, size: 4 },
    syscall: { offset: 84, size: 2 },
    path_flags: { offset: 86, size: 1 },
    path2_flags: { offset: 87, size: 1 },
    path_size: { offset: 88, size: 2 },
    path2_size: { offset: 90, size: 2 },
    agg_window: { offset: 92, size: 4 },
    comm: { offset: 96, size: 16 },
    data: { offset: 112, size: 0 },
  },
} as const;

export interface FileWire extends WireHeader, WireTask {
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  cgroupId: number;
  /** The system call's result: an fd or 0, or -errno. */
  ret: number;
  length: number;
  openFlags: number;
  mode: number;
  ownerUid: number;
  ownerGid: number;
  dirfd: number;
  syscall: number;
  pathFlags: number;
  path2Flags: number;
  comm: string;
  /** Absolute, as the process named it (not normalized). */
  path: string;
  /** rename: the new name; '' otherwise. */
  path2: string;
  /** open: the in-kernel aggregation window this record opens (0: none). */
  aggWindow: number;
}

/** A closed aggregation window (struct file_agg_event). */
export interface FileAggWire extends WireHeader {
  tgid: number;
  window: number;
  /** Opens folded, the window's first record not included. */
  count: number;
  firstKtimeHi: number;
  firstKtimeLo: number;
  lastKtimeHi: number;
  lastKtimeLo: number;
  openFlags: number;
  reason: number;
  /** The folded operation (FileOp.OPEN). */
  foldedOp: number;
}

const SHAPE: RecordShape = { size: FILE_EVENT.size, ops: new Set(Object.values(FileOp).filter((o) => o !== FileOp.OPEN_SUMMARY)), tail: true };
const AGG_SHAPE: RecordShape = { size: FILE_AGG_EVENT.size, ops: new Set([FileOp.OPEN_SUMMARY]), tail: false };

/** The op code of the record at `off` (0 when it is too short to have one). */
export function fileOpOf(buf: Buffer, off: number, len: number): number {
  return len >= 2 ? buf.readUInt16LE(off) : 0;
}

export function decodeFileAgg(buf: Buffer, off: number, len: number): FileAggWire | string {
  const h = readEventStart(buf, off, len, AGG_SHAPE);
  if (typeof h === 'string') return h;
  return {
    // the header's fields one by one, as decodeFile does (a spread first is slow in V8)
    op: h.op, size: h.size, cpu: h.cpu, execSeq: h.execSeq, ktimeHi: h.ktimeHi, ktimeLo: h.ktimeLo,
    tgid: buf.readUInt32LE(off + 16),
    window: buf.readUInt32LE(off + 20),
    count: u64(buf, off + 24),
    firstKtimeLo: buf.readUInt32LE(off + 32),
    firstKtimeHi: buf.readUInt32LE(off + 36),
    lastKtimeLo: buf.readUInt32LE(off + 40),
    lastKtimeHi: buf.readUInt32LE(off + 44),
    openFlags: buf.readUInt32LE(off + 48),
    reason: buf.readUInt16LE(off + 52),
    foldedOp: buf.readUInt16LE(off + 54),
  };
}

/** A little-endian 64-bit integer as a number, without a BigInt (exact up to 2^53). */
const u64 = (buf: Buffer, at: number): number => buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x100000000;
const s64 = (buf: Buffer, at: number): number => buf.readUInt32LE(at) + buf.readInt32LE(at + 4) * 0x100000000;

export function decodeFile(buf: Buffer, off: number, len: number): FileWire | string {
  const h = readEventStart(buf, off, len, SHAPE);
  if (typeof h === 'string') return h;
  const pathSize = buf.readUInt16LE(off + 88);
  const path2Size = buf.readUInt16LE(off + 90);
  if (FILE_EVENT.size + pathSize + path2Size > h.size || pathSize > FILE_LIMITS.pathMax || path2Size > FILE_LIMITS.pathMax) return 'bad_tail';
  const data = off + FILE_EVENT.size;
  return {
    // the header's fields one by one: `...h` first makes V8 (Node 20) clone the object slowly, ~µs per record
    op: h.op, size: h.size, cpu: h.cpu, execSeq: h.execSeq, ktimeHi: h.ktimeHi, ktimeLo: h.ktimeLo, pid: h.pid, tgid: h.tgid,
    uid: buf.readUInt32LE(off + 24),
    euid: buf.readUInt32LE(off + 28),
    gid: buf.readUInt32LE(off + 32),
    egid: buf.readUInt32LE(off + 36),
    cgroupId: u64(buf, off + 40),
    ret: s64(buf, off + 48),
    length: s64(buf, off + 56),
    openFlags: buf.readUInt32LE(off + 64),
    mode: buf.readUInt32LE(off + 68),
    ownerUid: buf.readUInt32LE(off + 72),
    ownerGid: buf.readUInt32LE(off + 76),
    dirfd: buf.readInt32LE(off + 80),
    syscall: buf.readUInt16LE(off + 84),
    pathFlags: buf.readUInt8(off + 86),
    path2Flags: buf.readUInt8(off + 87),
    comm: cstr(buf, off + 96, FILE_LIMITS.commLen),
    path: pathSize ? cstr(buf, data, pathSize) : '',
    path2: path2Size ? cstr(buf, data + pathSize, path2Size) : '',
    aggWindow: buf.readUInt32LE(off + 92),
  };
}
