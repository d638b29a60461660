/**
 * Decoder of `struct connect_event` (bpf/connect.h). C is the source of truth: the offsets below are
 * checked against the object's BTF by test/layout/connect-layout.test.ts. Never throws.
 */
import { KITE_EVENT_HEADER_FIELDS, KITE_TASK_FIELDS } from '../wire-header';
import { readCString as cstr, readEventStart, RecordShape, WireHeader, WireTask } from '../wire-read';

/** enum kite_op (bpf/lib/common.h), the connect receiver's part. */
export const NetOp = { CONNECT: 20, ACCEPT: 21, UDP: 22 } as const;

/** enum connect_result (bpf/connect.h) -> kite.network.result */
export const CONNECT_RESULTS: Record<number, string> = {
  1: 'established', 2: 'refused', 3: 'timed_out', 4: 'unreachable', 5: 'error', 6: 'aborted', 7: 'connected', 8: 'sent',
};

/** enum connect_filter_action (bpf/connect.h) */
export const PeerAction = { INCLUDE: 1, EXCLUDE: 2 } as const;

/** enum connect_stat (bpf/connect.h) */
export const ConnectStat = { PEER_FILTERED: 3 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Byte offsets of struct kite_event_header and struct connect_event (bpf/connect.h). */
export const CONNECT_EVENT = {
  size: 112,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    ...KITE_TASK_FIELDS,
    uid: { offset: 24, size: 4 },
    gid: { offset: 28, size: 4 },
    cgroup_id: { offset: 32, size: 8 },
    duration_ns: { offset: 40, size: 8 },
    local_addr: { offset: 48, size: 16 },
    remote_addr: { offset: 64, size: 16 },
    local_port: { offset: 80, size: 2 },
    remote_port: { offset: 82, size: 2 },
    family: { offset: 84, size: 2 },
    protocol: { offset: 86, size: 1 },
    result: { offset: 87, size: 1 },
    error: { offset: 88, size: 4 },
    _pad: { offset: 92, size: 4 },
    comm: { offset: 96, size: 16 },
  },
} as const;

export interface ConnectWire extends WireHeader, WireTask {
  uid: number;
  gid: number;
  cgroupId: number;
  durationNs: number;
  family: number;
  protocol: number;
  result: number;
  error: number;
  localAddress: string;
  remoteAddress: string;
  localPort: number;
  remotePort: number;
  comm: string;
}

/** An IPv6 address in its canonical text form (RFC 5952: longest zero run as ::, lowercase). */
export function formatIpv6(b: Buffer, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + 2 * i));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function addr(buf: Buffer, off: number, family: number): string {
  return family === AF_INET ? `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}` : formatIpv6(buf, off);
}

const SHAPE: RecordShape = { size: CONNECT_EVENT.size, ops: new Set(Object.values(NetOp)), tail: false };

export function decodeConnect(buf: Buffer, off: number, len: number): ConnectWire | string {
  const h = readEventStart(buf, off, len, SHAPE);
  if (typeof h === 'string') return h;
  const family = buf.readUInt16LE(off + 84);
  if (family !== AF_INET && family !== AF_INET6) return 'bad_family';
  return {
    // the header's fields one by one: `...h` first makes V8 (Node 20) clone the object slowly, ~µs per record
    op: h.op, size: h.size, cpu: h.cpu, execSeq: h.execSeq, ktimeHi: h.ktimeHi, ktimeLo: h.ktimeLo, pid: h.pid, tgid: h.tgid,
    uid: buf.readUInt32LE(off + 24),
    gid: buf.readUInt32LE(off + 28),
    cgroupId: Number(buf.readBigUInt64LE(off + 32)),
    durationNs: Number(buf.readBigUInt64LE(off + 40)),
    localAddress: addr(buf, off + 48, family),
    remoteAddress: addr(buf, off + 64, family),
    localPort: buf.readUInt16LE(off + 80),
    remotePort: buf.readUInt16LE(off + 82),
    family,
    protocol: buf.readUInt8(off + 86),
    result: buf.readUInt8(off + 87),
    error: buf.readInt32LE(off + 88),
    comm: cstr(buf, off + 96, 16),
  };
}
