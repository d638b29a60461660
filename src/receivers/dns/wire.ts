/**
 * The dns receiver's wire formats: the attribution maps of bpf/dns.h (`struct dns_flow_key`,
 * `struct dns_owner`; offsets checked against the object's BTF by test/layout/dns-layout.test.ts) and
 * the Ethernet/IP/TCP/UDP headers of captured packets. Never throws: a malformed packet returns a
 * reason string, which the receiver counts.
 */
import { formatIpv4, formatIpv6 } from './parser';

/** Byte offsets of struct dns_flow_key (bpf/dns.h). */
export const DNS_FLOW_KEY = {
  size: 40,
  fields: {
    family: { offset: 0, size: 1 },
    proto: { offset: 1, size: 1 },
    client_port: { offset: 2, size: 2 },
    server_port: { offset: 4, size: 2 },
    pad: { offset: 6, size: 2 },
    client_addr: { offset: 8, size: 16 },
    server_addr: { offset: 24, size: 16 },
  },
} as const;

/** Byte offsets of struct dns_owner (bpf/dns.h). */
export const DNS_OWNER = {
  size: 56,
  fields: {
    pid: { offset: 0, size: 4 },
    tgid: { offset: 4, size: 4 },
    uid: { offset: 8, size: 4 },
    gid: { offset: 12, size: 4 },
    cgroup_id: { offset: 16, size: 8 },
    ktime: { offset: 24, size: 8 },
    flags: { offset: 32, size: 4 },
    pad: { offset: 36, size: 4 },
    comm: { offset: 40, size: 16 },
  },
} as const;

/** enum dns_owner_flags */
export const DnsOwnerFlags = { FILTERED: 1 } as const;
/** enum dns_attr_stat: slots of the per-CPU `dns_attr_stats` array. */
export const DnsAttrStat = { SOCKETS: 0, FLOWS: 1, FILTERED: 2, NO_OWNER: 3 } as const;
/** Compile-time limits of bpf/dns.h. */
export const DNS_LIMITS = { maxPorts: 8, commLen: 16, flowsMax: 65536 } as const;
/** Offsets of the read-only knobs in the object's .rodata (checked by the layout test). */
export const DNS_RODATA = {
  dns_ports: { offset: 0, size: 16 },
  dns_port_count: { offset: 16, size: 4 },
  snap_len: { offset: 20, size: 4 },
} as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** One TCP or UDP packet: addresses and payload as offsets into `buf`, ports. The receiver reuses one. */
export interface L4Packet {
  buf: Buffer;
  family: number;
  proto: number;
  /** Offsets of the source and destination addresses in `buf` (4 or 16 bytes by family). */
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  payload: number;
  payloadLen: number;
  /** The capture ended before the end the IP header announces. */
  cut: boolean;
}

/** A blank packet to pass to parseL4 and parseIp as `out`. */
export function newL4Packet(): L4Packet {
  return { buf: EMPTY, family: 0, proto: 0, saddr: 0, daddr: 0, sport: 0, dport: 0, payload: 0, payloadLen: 0, cut: false };
}
const EMPTY = Buffer.alloc(0);

/** Link types (sll_hatype) whose packets start with an Ethernet header, and those with none. */
export const ETHERNET_LINK_TYPES = new Set([1 /* ARPHRD_ETHER */, 772 /* ARPHRD_LOOPBACK */]);
export const L3_LINK_TYPES = new Set([65534 /* NONE (tun, WireGuard) */, 519 /* RAWIP */, 768 /* TUNNEL */, 769 /* TUNNEL6 */, 776 /* SIT */]);

/** Parses an Ethernet frame (one optional VLAN tag) carrying IPv4 or IPv6 and then TCP or UDP, into `out` when given. */
export function parseL4(buf: Buffer, off: number, len: number, out?: L4Packet): L4Packet | string {
  const end = off + len;
  if (len < 14) return 'short_frame';
  let type = buf.readUInt16BE(off + 12);
  let nh = off + 14;
  if (type === 0x8100 || type === 0x88a8) {
    if (len < 18) return 'short_frame';
    type = buf.readUInt16BE(off + 16);
    nh += 4;
  }
  return parseIp(buf, nh, end - nh, type, out);
}

/** Parses an IPv4 or IPv6 packet (`ethertype` 0x0800 or 0x86dd) carrying TCP or UDP, into `out` when given. */
export function parseIp(buf: Buffer, nh: number, len: number, type: number, out?: L4Packet): L4Packet | string {
  const end = nh + len;
  let proto: number;
  let family: number;
  let saddr: number;
  let l4: number;
  let ipEnd: number;
  if (type === 0x0800) {
    if (nh + 20 > end) return 'short_ip';
    const ihl = (buf[nh]! & 0xf) * 4;
    if (buf[nh]! >> 4 !== 4 || ihl < 20) return 'bad_ip';
    if (buf.readUInt16BE(nh + 6) & 0x1fff) return 'ip_fragment';
    family = AF_INET;
    proto = buf[nh + 9]!;
    saddr = nh + 12;
    l4 = nh + ihl;
    ipEnd = nh + buf.readUInt16BE(nh + 2);
  } else if (type === 0x86dd) {
    if (nh + 40 > end) return 'short_ip';
    family = AF_INET6;
    proto = buf[nh + 6]!;
    saddr = nh + 8;
    l4 = nh + 40;
    ipEnd = l4 + buf.readUInt16BE(nh + 4);
  } else {
    return 'not_ip';
  }
  const cut = ipEnd > end;
  if (cut) ipEnd = end;
  let payload: number;
  if (proto === IPPROTO_UDP) {
    if (l4 + 8 > ipEnd) return 'short_udp';
    payload = l4 + 8;
  } else if (proto === IPPROTO_TCP) {
    if (l4 + 20 > ipEnd) return 'short_tcp';
    payload = l4 + (buf[l4 + 12]! >> 4) * 4;
    if (payload > ipEnd) return 'short_tcp';
  } else {
    return 'not_tcp_udp';
  }
  const p = out ?? newL4Packet();
  p.buf = buf;
  p.family = family;
  p.proto = proto;
  p.saddr = saddr;
  p.daddr = saddr + (family === AF_INET ? 4 : 16);
  p.sport = buf.readUInt16BE(l4);
  p.dport = buf.readUInt16BE(l4 + 2);
  p.payload = payload;
  p.payloadLen = ipEnd - payload;
  p.cut = cut;
  return p;
}

/** The text form of the address at `off` in `buf` (4 bytes for AF_INET, 16 otherwise). */
export function formatAddress(family: number, buf: Buffer, off: number): string {
  return family === AF_INET ? formatIpv4(buf, off) : formatIpv6(buf, off);
}

/** Fills `key` (DNS_FLOW_KEY.size bytes) with the flow of `p`, the server being the side on a DNS port. */
export function writeFlowKey(key: Buffer, p: L4Packet, serverIsDest: boolean): void {
  key.fill(0);
  key[0] = p.family;
  key[1] = p.proto;
  const alen = p.family === AF_INET ? 4 : 16;
  const client = serverIsDest ? p.saddr : p.daddr;
  const server = serverIsDest ? p.daddr : p.saddr;
  key.writeUInt16LE(serverIsDest ? p.sport : p.dport, 2);
  key.writeUInt16LE(serverIsDest ? p.dport : p.sport, 4);
  p.buf.copy(key, 8, client, client + alen);
  p.buf.copy(key, 24, server, server + alen);
}

export interface DnsOwner {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  cgroupId: number;
  flags: number;
  comm: string;
}

export function decodeOwner(b: Buffer): DnsOwner {
  const end = b.indexOf(0, 40);
  return {
    pid: b.readUInt32LE(0),
    tgid: b.readUInt32LE(4),
    uid: b.readUInt32LE(8),
    gid: b.readUInt32LE(12),
    cgroupId: Number(b.readBigUInt64LE(16)),
    flags: b.readUInt32LE(32),
    comm: b.toString('utf8', 40, end < 0 || end > 56 ? 56 : end),
  };
}
