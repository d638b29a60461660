/**
 * Wire format of in-kernel enforcement (bpf/enforce.h): the enforcement record's decoder and the
 * encoders of the rule tables. C is the source of truth: the offsets and constants below are checked
 * against the objects' BTF by test/layout/enforce-layout.test.ts. The decoder never throws: a short or
 * malformed record returns a reason string, which the enforcer counts.
 */
import { KITE_EVENT_HEADER_FIELDS } from '../receivers/wire-header';

/** enum kite_op (bpf/lib/common.h): the enforcement range. */
export const EnforceOp = { KILL_EXEC: 60, DENY_EXEC: 61, DENY_OPEN: 62 } as const;

/** enum enforce_field */
export const EnforceField = { PATH: 0, ARG: 1, UID: 2, EUID: 3, COMM: 4, CGROUP: 5, CONTAINER: 6 } as const;
export const ENFORCE_FIELD_MAX = 7;
export type EnforceFieldName = 'path' | 'arg' | 'uid' | 'euid' | 'comm' | 'cgroup' | 'container';
export const FIELD_INDEX: Record<EnforceFieldName, number> = {
  path: EnforceField.PATH,
  arg: EnforceField.ARG,
  uid: EnforceField.UID,
  euid: EnforceField.EUID,
  comm: EnforceField.COMM,
  cgroup: EnforceField.CGROUP,
  container: EnforceField.CONTAINER,
};

/** enum enforce_action, enum enforce_hook, enum enforce_flags, enum enforce_stat */
export const EnforceAction = { KILL: 1, DENY: 2 } as const;
export const EnforceHook = { EXEC: 1, BPRM_CHECK: 2, FILE_OPEN: 3 } as const;
export const EnforceFlags = { PATH_TRUNCATED: 1, ARGS_TRUNCATED: 2 } as const;
export const EnforceStat = { REPORTED: 0, RING_FULL: 1, CHECKED: 2, ENFORCED: 3 } as const;

/** Compile-time limits of bpf/enforce.h (checked by the layout test). */
export const ENFORCE_LIMITS = {
  maxRules: 64,
  pathMax: 256,
  pathBuf: 4096,
  argsBytes: 4096,
  argsCount: 64,
  argMax: 64,
  commLen: 16,
  cgroupDepth: 16,
} as const;

/** Byte offsets of struct enforce_event. */
export const ENFORCE_EVENT = {
  size: 88,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    pid: { offset: 16, size: 4 },
    tid: { offset: 20, size: 4 },
    ppid: { offset: 24, size: 4 },
    uid: { offset: 28, size: 4 },
    euid: { offset: 32, size: 4 },
    gid: { offset: 36, size: 4 },
    cgroup_id: { offset: 40, size: 8 },
    rules: { offset: 48, size: 8 },
    result: { offset: 56, size: 4 },
    action: { offset: 60, size: 1 },
    hook: { offset: 61, size: 1 },
    flags: { offset: 62, size: 2 },
    path_size: { offset: 64, size: 2 },
    args_size: { offset: 66, size: 2 },
    pad: { offset: 68, size: 4 },
    comm: { offset: 72, size: 16 },
    data: { offset: 88, size: 0 },
  },
} as const;

/** Byte offsets of struct enforce_cfg. */
export const ENFORCE_CFG = {
  size: 136,
  fields: {
    active_exec: { offset: 0, size: 8 },
    active_open: { offset: 8, size: 8 },
    constrained: { offset: 16, size: 8 * ENFORCE_FIELD_MAX },
    negated: { offset: 16 + 8 * ENFORCE_FIELD_MAX, size: 8 * ENFORCE_FIELD_MAX },
    fields: { offset: 128, size: 4 },
    self_tgid: { offset: 132, size: 4 },
  },
} as const;

/** struct enforce_path_key and struct enforce_cgroup_rules. */
export const ENFORCE_PATH_KEY = { size: 4 + ENFORCE_LIMITS.pathMax, fields: { prefixlen: { offset: 0, size: 4 }, path: { offset: 4, size: ENFORCE_LIMITS.pathMax } } } as const;
export const ENFORCE_CGROUP_RULES = { size: 16, fields: { exact: { offset: 0, size: 8 }, subtree: { offset: 8, size: 8 } } } as const;

export interface EnforceWire {
  op: number;
  ktimeHi: number;
  ktimeLo: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  euid: number;
  gid: number;
  cgroupId: number;
  /** Bit i: kernel rule i matched. */
  rules: bigint;
  result: number;
  action: number;
  hook: number;
  flags: number;
  comm: string;
  path: string;
  args: string[];
}

function cstr(buf: Buffer, start: number, max: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + max ? start + max : end);
}

/** Decodes one enforcement record; a reason string when it is malformed. */
export function decodeEnforce(buf: Buffer, off: number, len: number): EnforceWire | string {
  const F = ENFORCE_EVENT.fields;
  if (len < ENFORCE_EVENT.size) return 'short';
  const op = buf.readUInt16LE(off);
  if (op !== EnforceOp.KILL_EXEC && op !== EnforceOp.DENY_EXEC && op !== EnforceOp.DENY_OPEN) return 'unknown_op';
  const size = buf.readUInt16LE(off + 2);
  const pathSize = buf.readUInt16LE(off + F.path_size.offset);
  const argsSize = buf.readUInt16LE(off + F.args_size.offset);
  if (size > len || pathSize > ENFORCE_LIMITS.pathBuf || argsSize > ENFORCE_LIMITS.argsBytes || ENFORCE_EVENT.size + pathSize + argsSize > size) return 'bad_size';
  const data = off + F.data.offset;
  const argsRaw = buf.toString('utf8', data + pathSize, data + pathSize + argsSize);
  const args = argsSize ? argsRaw.replace(/\0+$/, '').split('\0') : [];
  return {
    op,
    ktimeLo: buf.readUInt32LE(off + 8),
    ktimeHi: buf.readUInt32LE(off + 12),
    pid: buf.readUInt32LE(off + F.pid.offset),
    tid: buf.readUInt32LE(off + F.tid.offset),
    ppid: buf.readUInt32LE(off + F.ppid.offset),
    uid: buf.readUInt32LE(off + F.uid.offset),
    euid: buf.readUInt32LE(off + F.euid.offset),
    gid: buf.readUInt32LE(off + F.gid.offset),
    cgroupId: Number(buf.readBigUInt64LE(off + F.cgroup_id.offset)),
    rules: buf.readBigUInt64LE(off + F.rules.offset),
    result: buf.readInt32LE(off + F.result.offset),
    action: buf.readUInt8(off + F.action.offset),
    hook: buf.readUInt8(off + F.hook.offset),
    flags: buf.readUInt16LE(off + F.flags.offset),
    comm: cstr(buf, off + F.comm.offset, ENFORCE_LIMITS.commLen),
    path: buf.toString('utf8', data, data + pathSize),
    args,
  };
}

/** The LPM key of a path rule entry: an exact path includes its NUL, a prefix does not. */
export function pathKey(path: string, exact: boolean): Buffer {
  const k = Buffer.alloc(ENFORCE_PATH_KEY.size);
  const bytes = Buffer.from(path, 'utf8');
  const n = bytes.length + (exact ? 1 : 0);
  k.writeUInt32LE(n * 8, 0);
  bytes.copy(k, 4);
  return k;
}

/** A zero-padded fixed-size string key (arguments, comm). */
export function stringKey(s: string, size: number): Buffer {
  const k = Buffer.alloc(size);
  k.write(s, 'utf8');
  return k;
}
