/**
 * Decoder of `struct security_event` (bpf/security.h). C is the source of truth: the offsets below are
 * checked against the object's BTF by test/layout/security-layout.test.ts. Never throws: a short or
 * malformed record returns a reason string, which the receiver counts.
 */
import { KITE_EVENT_HEADER_FIELDS, KITE_TASK_FIELDS } from '../wire-header';
import { readCString as cstr, readEventStart, RecordShape, WireHeader, WireTask } from '../wire-read';

/** The security receiver's values of enum kite_op (bpf/lib/common.h). */
export const SecurityOp = {
  PROCESS_PRIVILEGE_CHANGE: 50,
  PROCESS_PTRACE: 51,
  PROCESS_VM_WRITE: 52,
  KERNEL_MODULE_LOAD: 53,
  KERNEL_BPF_LOAD: 54,
  NAMESPACE_CHANGE: 55,
  NAMESPACE_MOUNT: 56,
  NETWORK_LISTEN: 57,
} as const;

/** enum security_kind (bpf/security.h) */
export const SecurityKind = {
  SETUID: 1,
  SETGID: 2,
  SETREUID: 3,
  SETREGID: 4,
  SETRESUID: 5,
  SETRESGID: 6,
  SETFSUID: 7,
  SETFSGID: 8,
  SETGROUPS: 9,
  CAPSET: 10,
  EXECVE: 11,
  EXECVEAT: 12,
  PTRACE: 13,
  VM_WRITEV: 14,
  INIT_MODULE: 15,
  FINIT_MODULE: 16,
  BPF: 17,
  SETNS: 18,
  UNSHARE: 19,
  CLONE: 20,
  CLONE3: 21,
  MOUNT: 22,
  UMOUNT: 23,
  PIVOT_ROOT: 24,
  BIND: 25,
  LISTEN: 26,
  FSOPEN: 27,
  FSCONFIG: 28,
  FSMOUNT: 29,
  MOVE_MOUNT: 30,
  OPEN_TREE: 31,
  MOUNT_SETATTR: 32,
  FSPICK: 33,
  MAX: 34,
} as const;
export type SecurityKindName = Exclude<keyof typeof SecurityKind, 'MAX'>;

/** enum security_ns (bpf/security.h): slots of ns_before / ns_after. */
export const NS_KINDS = ['mnt', 'net', 'pid', 'user', 'uts', 'ipc', 'cgroup', 'time'] as const;
export type NsKind = (typeof NS_KINDS)[number];

/** enum security_flags (bpf/security.h) */
export const SecurityFlags = { TARGET: 1, CREDS_CHANGED: 2, SOCKET: 4, MODULE_LOADED: 8, FD_NS: 16 } as const;

/** Compile-time limits of bpf/security.h (checked by the layout test). */
export const SECURITY_LIMITS = { commLen: 16, strMax: 256, strs: 3, nsCount: 8 } as const;

const creds = (base: number, prefix: string) => ({
  [`${prefix}.uid`]: { offset: base, size: 4 },
  [`${prefix}.euid`]: { offset: base + 4, size: 4 },
  [`${prefix}.suid`]: { offset: base + 8, size: 4 },
  [`${prefix}.fsuid`]: { offset: base + 12, size: 4 },
  [`${prefix}.gid`]: { offset: base + 16, size: 4 },
  [`${prefix}.egid`]: { offset: base + 20, size: 4 },
  [`${prefix}.sgid`]: { offset: base + 24, size: 4 },
  [`${prefix}.fsgid`]: { offset: base + 28, size: 4 },
  [`${prefix}.cap_effective`]: { offset: base + 32, size: 8 },
  [`${prefix}.cap_permitted`]: { offset: base + 40, size: 8 },
  [`${prefix}.cap_inheritable`]: { offset: base + 48, size: 8 },
  [`${prefix}.ngroups`]: { offset: base + 56, size: 4 },
  [`${prefix}.pad`]: { offset: base + 60, size: 4 },
});

/** Byte offsets of struct kite_event_header and struct security_event (bpf/security.h). */
export const SECURITY_EVENT = {
  size: 1136,
  credsSize: 64,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    ...KITE_TASK_FIELDS,
    ppid: { offset: 24, size: 4 },
    kind: { offset: 28, size: 4 },
    result: { offset: 32, size: 8 },
    cgroup_id: { offset: 40, size: 8 },
    args: { offset: 48, size: 48 },
    ...creds(96, 'before'),
    ...creds(160, 'after'),
    ns_before: { offset: 224, size: 32 },
    ns_after: { offset: 256, size: 32 },
    target_pid: { offset: 288, size: 4 },
    target_uid: { offset: 292, size: 4 },
    aux: { offset: 296, size: 16 },
    family: { offset: 312, size: 2 },
    port: { offset: 314, size: 2 },
    addr: { offset: 316, size: 16 },
    flags: { offset: 332, size: 4 },
    comm: { offset: 336, size: 16 },
    target_comm: { offset: 352, size: 16 },
    str: { offset: 368, size: 768 },
  },
} as const;

export interface Creds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  capEffective: bigint;
  capPermitted: bigint;
  capInheritable: bigint;
  ngroups: number;
}

export interface SecurityWire extends WireHeader, WireTask {
  ppid: number;
  kind: number;
  /** The syscall's return value: >= 0 success, -errno failure. */
  result: number;
  cgroupId: number;
  args: bigint[];
  before: Creds;
  after: Creds;
  nsBefore: number[];
  nsAfter: number[];
  targetPid: number;
  targetUid: number;
  aux: number[];
  family: number;
  port: number;
  addr: Buffer;
  flags: number;
  comm: string;
  targetComm: string;
  str: [string, string, string];
}

function readCreds(buf: Buffer, o: number): Creds {
  return {
    uid: buf.readUInt32LE(o),
    euid: buf.readUInt32LE(o + 4),
    suid: buf.readUInt32LE(o + 8),
    fsuid: buf.readUInt32LE(o + 12),
    gid: buf.readUInt32LE(o + 16),
    egid: buf.readUInt32LE(o + 20),
    sgid: buf.readUInt32LE(o + 24),
    fsgid: buf.readUInt32LE(o + 28),
    capEffective: buf.readBigUInt64LE(o + 32),
    capPermitted: buf.readBigUInt64LE(o + 40),
    capInheritable: buf.readBigUInt64LE(o + 48),
    ngroups: buf.readUInt32LE(o + 56),
  };
}

const SHAPE: RecordShape = { size: SECURITY_EVENT.size, ops: new Set(Object.values(SecurityOp)), tail: false };

export function decodeSecurity(buf: Buffer, off: number, len: number): SecurityWire | string {
  const h = readEventStart(buf, off, len, SHAPE);
  if (typeof h === 'string') return h;
  const kind = buf.readUInt32LE(off + 28);
  if (kind < 1 || kind >= SecurityKind.MAX) return 'unknown_kind';
  const u32s = (o: number, n: number): number[] => Array.from({ length: n }, (_, i) => buf.readUInt32LE(o + 4 * i));
  const s = off + 368;
  const max = SECURITY_LIMITS.strMax;
  return {
    // the header's fields one by one: `...h` first makes V8 (Node 20) clone the object slowly, ~µs per record
    op: h.op, size: h.size, cpu: h.cpu, execSeq: h.execSeq, ktimeHi: h.ktimeHi, ktimeLo: h.ktimeLo, pid: h.pid, tgid: h.tgid,
    ppid: buf.readUInt32LE(off + 24),
    kind,
    result: Number(buf.readBigInt64LE(off + 32)),
    cgroupId: Number(buf.readBigUInt64LE(off + 40)),
    args: Array.from({ length: 6 }, (_, i) => buf.readBigUInt64LE(off + 48 + 8 * i)),
    before: readCreds(buf, off + 96),
    after: readCreds(buf, off + 160),
    nsBefore: u32s(off + 224, 8),
    nsAfter: u32s(off + 256, 8),
    targetPid: buf.readUInt32LE(off + 288),
    targetUid: buf.readUInt32LE(off + 292),
    aux: u32s(off + 296, 4),
    family: buf.readUInt16LE(off + 312),
    port: buf.readUInt16LE(off + 314),
    addr: Buffer.from(buf.subarray(off + 316, off + 332)),
    flags: buf.readUInt32LE(off + 332),
    comm: cstr(buf, off + 336, SECURITY_LIMITS.commLen),
    targetComm: cstr(buf, off + 352, SECURITY_LIMITS.commLen),
    str: [cstr(buf, s, max), cstr(buf, s + max, max), cstr(buf, s + 2 * max, max)],
  };
}
