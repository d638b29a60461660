/**
 * The xdp_policy receiver's wire formats (bpf/xdp_policy.h; offsets checked against the object's BTF
 * by test/layout/xdp-policy-layout.test.ts), the deny-record decoder, and the translation of rules into
 * map entries: rule structs and the LPM-trie entries whose values are rule bit masks.
 * The decoder never throws: a malformed record returns a reason string.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv4, formatIpv6 } from '../dns/parser';
import { KITE_EVENT_HEADER_FIELDS } from '../wire-header';

/** enum kite_op (bpf/lib/common.h) */
export const KITE_OP_XDP_POLICY_DENY = 31;
/** enum xdp_policy_action, xdp_policy_mode, xdp_policy_stat (bpf/xdp_policy.h) */
export const XdpAction = { COUNT: 0, DENY: 1 } as const;
export const XdpMode = { MONITOR: 0, ENFORCE: 1 } as const;
export const XdpStat = { DENY_REPORTED: 0, RING_FULL: 1, PACKETS: 2, UNMATCHED: 3 } as const;
export const XDP_LIMITS = { maxRules: 64, maxPrefixes: 16384 } as const;

export const XDP_RULE = {
  size: 12,
  fields: {
    action: { offset: 0, size: 1 },
    proto: { offset: 1, size: 1 },
    has_ports: { offset: 2, size: 1 },
    has_sports: { offset: 3, size: 1 },
    port_min: { offset: 4, size: 2 },
    port_max: { offset: 6, size: 2 },
    sport_min: { offset: 8, size: 2 },
    sport_max: { offset: 10, size: 2 },
  },
} as const;

export const XDP_COUNTERS = { size: 16, fields: { packets: { offset: 0, size: 8 }, bytes: { offset: 8, size: 8 } } } as const;

export const XDP_DENY_EVENT = {
  size: 80,
  fields: {
    ...KITE_EVENT_HEADER_FIELDS,
    'flow.family': { offset: 16, size: 1 },
    'flow.proto': { offset: 17, size: 1 },
    'flow.sport': { offset: 18, size: 2 },
    'flow.dport': { offset: 20, size: 2 },
    'flow.rule': { offset: 22, size: 2 },
    'flow.saddr': { offset: 24, size: 16 },
    'flow.daddr': { offset: 40, size: 16 },
    ifindex: { offset: 56, size: 4 },
    dropped: { offset: 60, size: 4 },
    packets: { offset: 64, size: 8 },
    bytes: { offset: 72, size: 8 },
  },
} as const;

/** Offsets of the read-only knobs in the object's .rodata. */
export const XDP_RODATA = {
  policy_mode: { offset: 0, size: 4 },
  rule_count: { offset: 4, size: 4 },
  deny_report_interval_ns: { offset: 8, size: 8 },
} as const;

export const PROTOCOLS: Record<string, number> = { any: 0, icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };
export const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp' };

export interface DenyWire {
  ktimeHi: number;
  ktimeLo: number;
  family: number;
  proto: number;
  sport: number;
  dport: number;
  rule: number;
  saddr: string;
  daddr: string;
  ifindex: number;
  dropped: boolean;
  packets: number;
  bytes: number;
}

export function decodeDeny(buf: Buffer, off: number, len: number): DenyWire | string {
  if (len < XDP_DENY_EVENT.size) return 'short_record';
  if (buf.readUInt16LE(off) !== KITE_OP_XDP_POLICY_DENY) return 'unknown_op';
  const size = buf.readUInt16LE(off + 2);
  if (size > len || size < XDP_DENY_EVENT.size) return 'bad_size';
  const family = buf[off + 16]!;
  if (family !== 2 && family !== 10) return 'bad_family';
  const addr = (p: number): string => (family === 2 ? formatIpv4(buf, p) : formatIpv6(buf, p));
  return {
    ktimeLo: buf.readUInt32LE(off + 8),
    ktimeHi: buf.readUInt32LE(off + 12),
    family,
    proto: buf[off + 17]!,
    sport: buf.readUInt16LE(off + 18),
    dport: buf.readUInt16LE(off + 20),
    rule: buf.readUInt16LE(off + 22),
    saddr: addr(off + 24),
    daddr: addr(off + 40),
    ifindex: buf.readUInt32LE(off + 56),
    dropped: buf.readUInt32LE(off + 60) !== 0,
    packets: Number(buf.readBigUInt64LE(off + 64)),
    bytes: Number(buf.readBigUInt64LE(off + 72)),
  };
}

/** A prefix: family 4 or 6, address bytes, length in bits. */
export interface Prefix {
  family: 4 | 6;
  addr: Buffer;
  len: number;
}

function v6Bytes(a: string): Buffer | null {
  if (!isIPv6(a)) return null;
  let s = a;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const b = v4tail[1]!.split('.').map(Number);
    s = s.slice(0, -v4tail[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a host prefix); null when invalid. */
export function parseCidr(text: string): Prefix | null {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const addr = m[1]!;
  if (isIPv4(addr)) {
    const len = m[2] === undefined ? 32 : Number(m[2]);
    if (len > 32) return null;
    return { family: 4, addr: mask(Buffer.from(addr.split('.').map(Number)), len), len };
  }
  const b = v6Bytes(addr);
  if (!b) return null;
  const len = m[2] === undefined ? 128 : Number(m[2]);
  if (len > 128) return null;
  return { family: 6, addr: mask(b, len), len };
}

function mask(b: Buffer, len: number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i]! &= bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

/** True when prefix `outer` contains prefix `inner` (same family, shorter or equal, same leading bits). */
export function contains(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.len <= inner.len && mask(inner.addr, outer.len).equals(outer.addr);
}

export function formatPrefix(p: Prefix): string {
  return `${p.family === 4 ? formatIpv4(p.addr, 0) : formatIpv6(p.addr, 0)}/${p.len}`;
}

/**
 * The LPM-trie entries for rules given as prefix lists (an empty list: every address of both
 * families). Each distinct prefix maps to the bit mask of every rule with a prefix containing it, so
 * the longest match in the kernel carries all rules that apply to an address.
 */
export function lpmEntries(rulePrefixes: Prefix[][]): { prefix: Prefix; mask: bigint }[] {
  const any: Prefix[] = [{ family: 4, addr: Buffer.alloc(4), len: 0 }, { family: 6, addr: Buffer.alloc(16), len: 0 }];
  const perRule = rulePrefixes.map((ps) => (ps.length ? ps : any));
  const distinct = new Map<string, Prefix>();
  for (const ps of perRule) for (const p of ps) distinct.set(formatPrefix(p), p);
  const out: { prefix: Prefix; mask: bigint }[] = [];
  for (const p of distinct.values()) {
    let m = 0n;
    perRule.forEach((ps, i) => {
      if (ps.some((r) => contains(r, p))) m |= 1n << BigInt(i);
    });
    out.push({ prefix: p, mask: m });
  }
  return out;
}

/** The key of an LPM-trie entry: u32 prefix length, then the address bytes. */
export function lpmKey(p: Prefix): Buffer {
  const k = Buffer.alloc(4 + p.addr.length);
  k.writeUInt32LE(p.len, 0);
  p.addr.copy(k, 4);
  return k;
}

export interface RuleWire {
  action: number;
  proto: number;
  ports: [number, number] | null;
  /** The source port (the peer's, for received packets); null or absent: any. */
  sourcePorts?: [number, number] | null;
}

export function encodeRule(r: RuleWire): Buffer {
  const b = Buffer.alloc(XDP_RULE.size);
  b[0] = r.action;
  b[1] = r.proto;
  b[2] = r.ports ? 1 : 0;
  b[3] = r.sourcePorts ? 1 : 0;
  b.writeUInt16LE(r.ports?.[0] ?? 0, 4);
  b.writeUInt16LE(r.ports?.[1] ?? 0, 6);
  b.writeUInt16LE(r.sourcePorts?.[0] ?? 0, 8);
  b.writeUInt16LE(r.sourcePorts?.[1] ?? 0, 10);
  return b;
}

/** `22`, `1000-2000` (or a number) to an inclusive range; null when invalid. */
export function parsePortRange(v: unknown): [number, number] | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= 65535 ? [v, v] : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(v);
  if (!m) return null;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a >= 1 && b <= 65535 && a <= b ? [a, b] : null;
}
