/**
 * Decoder of `struct exec_event` (bpf/exec.h). C is the source of truth: the offsets below are checked
 * against the object's BTF by test/layout/exec-layout.test.ts. Never throws: a short or malformed
 * record returns a reason string, which the receiver counts.
 */
import { KITE_EVENT_HEADER_FIELDS, KITE_TASK_FIELDS } from '../wire-header';
import { readCString as cstr, readEventStart, RecordShape, WireHeader, WireTask } from '../wire-read';

/** enum kite_op (bpf/lib/common.h) */
export const KiteOp = { PROCESS_EXEC: 1, PROCESS_FORK: 2, PROCESS_EXIT: 3 } as const;

/** enum exec_flags (bpf/exec.h) */
export const ExecFlags = { ARGS_TRUNCATED: 1, PATH_TRUNCATED: 2, NO_MM: 4 } as const;

/** enum exec_fd_kind (bpf/exec.h): what fds 0-2 of a new program are. */
export const ExecFdKind = {
  NONE: 0, FILE: 1, DIRECTORY: 2, PIPE: 3, SOCKET_INET: 4, SOCKET_UNIX: 5, SOCKET_OTHER: 6, TTY: 7, CHAR: 8, OTHER: 9,
} as const;

/** The record values of enum exec_fd_kind (`kite.process.stdin.type`, ...), by enum value. */
export const FD_KIND_NAMES = ['none', 'file', 'directory', 'pipe', 'inet_socket', 'unix_socket', 'other_socket', 'tty', 'char_device', 'other'] as const;

/** Byte offsets of struct kite_event_header and struct exec_event (bpf/exec.h). */
export const EXEC_EVENT = {
  size: 192,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    ...KITE_TASK_FIELDS,
    ppid: { offset: 24, size: 4 },
    uid: { offset: 28, size: 4 },
    euid: { offset: 32, size: 4 },
    gid: { offset: 36, size: 4 },
    egid: { offset: 40, size: 4 },
    exit_code: { offset: 44, size: 4 },
    cgroup_id: { offset: 48, size: 8 },
    start_boottime: { offset: 56, size: 8 },
    flags: { offset: 64, size: 4 },
    path_size: { offset: 68, size: 2 },
    args_size: { offset: 70, size: 2 },
    comm: { offset: 72, size: 16 },
    stdio: { offset: 88, size: 3 },
    _pad: { offset: 91, size: 5 },
    cgroup_name: { offset: 96, size: 96 },
    data: { offset: 192, size: 0 },
  },
} as const;

/** Offsets of the read-only knobs in the object's .rodata (checked by the layout test). */
export const EXEC_RODATA = { max_arg_bytes: { offset: 0, size: 4 } } as const;

/** Compile-time limits of bpf/exec.h (checked by the layout test against the object's BTF). */
export const EXEC_LIMITS = { commLen: 16, argsMax: 8192, pathBuf: 4096, cgroupNameLen: 96 } as const;

export interface ExecWire extends WireHeader, WireTask {
  ppid: number;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  exitCode: number;
  cgroupId: number;
  startBoottimeNs: bigint;
  flags: number;
  comm: string;
  /** enum exec_fd_kind of fds 0, 1 and 2 (process.exec; NONE in fork and exit records). */
  stdio: [number, number, number];
  /** The name of the process's cgroup directory (its last path component); '' when unknown. */
  cgroupName: string;
  /** Absolute path of the executable (process.exec only); '' when unknown. */
  path: string;
  /** argv as the kernel holds it (possibly cut at max_arg_bytes). */
  args: string[];
}

/** Splits NUL-terminated strings; a trailing unterminated piece is kept (it was cut). */
function splitNul(buf: Buffer, start: number, len: number): string[] {
  const out: string[] = [];
  const end = start + len;
  let p = start;
  while (p < end) {
    let z = buf.indexOf(0, p);
    if (z < 0 || z > end) z = end;
    out.push(buf.toString('utf8', p, z));
    p = z + 1;
  }
  return out;
}

/** Path components arrive leaf first; the result is absolute. */
export function joinPath(components: string[]): string {
  if (!components.length) return '';
  let path = '';
  for (let i = components.length - 1; i >= 0; i--) path += `/${components[i]}`;
  return path;
}

const SHAPE: RecordShape = { size: EXEC_EVENT.size, ops: new Set(Object.values(KiteOp)), tail: true };

export function decodeExec(buf: Buffer, off: number, len: number): ExecWire | string {
  const h = readEventStart(buf, off, len, SHAPE);
  if (typeof h === 'string') return h;
  const pathSize = buf.readUInt16LE(off + 68);
  const argsSize = buf.readUInt16LE(off + 70);
  if (EXEC_EVENT.size + pathSize + argsSize > h.size || pathSize > EXEC_LIMITS.pathBuf || argsSize > EXEC_LIMITS.argsMax) return 'bad_tail';
  const data = off + EXEC_EVENT.size;
  return {
    // the header's fields one by one: `...h` first makes V8 (Node 20) clone the object slowly, ~µs per record
    op: h.op, size: h.size, cpu: h.cpu, execSeq: h.execSeq, ktimeHi: h.ktimeHi, ktimeLo: h.ktimeLo, pid: h.pid, tgid: h.tgid,
    ppid: buf.readUInt32LE(off + 24),
    uid: buf.readUInt32LE(off + 28),
    euid: buf.readUInt32LE(off + 32),
    gid: buf.readUInt32LE(off + 36),
    egid: buf.readUInt32LE(off + 40),
    exitCode: buf.readInt32LE(off + 44),
    cgroupId: Number(buf.readBigUInt64LE(off + 48)),
    startBoottimeNs: buf.readBigUInt64LE(off + 56),
    flags: buf.readUInt32LE(off + 64),
    comm: cstr(buf, off + 72, EXEC_LIMITS.commLen),
    stdio: [buf[off + 88]!, buf[off + 89]!, buf[off + 90]!],
    cgroupName: cstr(buf, off + 96, EXEC_LIMITS.cgroupNameLen),
    path: pathSize ? joinPath(splitNul(buf, data, pathSize)) : '',
    args: argsSize ? splitNul(buf, data + pathSize, argsSize) : [],
  };
}
