/** Builds Ethernet frames (IPv4 or IPv6, TCP or UDP) for decoder tests and BPF_PROG_TEST_RUN. */
import { isIPv4 } from 'node:net';

export interface FrameSpec {
  src: string;
  dst: string;
  proto: 'udp' | 'tcp' | 'icmp';
  sport?: number;
  dport?: number;
  payload?: Buffer;
  /** TCP flags byte (default PSH|ACK, 0x18). */
  tcpFlags?: number;
  /** One 802.1Q tag with this VLAN id. */
  vlan?: number;
  /** IPv4 fragment offset (8-byte units). */
  fragmentOffset?: number;
  /** Zero bytes after the IP packet (Ethernet minimum-size padding). */
  pad?: number;
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export function addressBytes(a: string): Buffer {
  return isIPv4(a) ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
}

export function frame(s: FrameSpec): Buffer {
  const v4 = isIPv4(s.src);
  const payload = s.payload ?? Buffer.alloc(0);
  let l4: Buffer;
  const protoNum = s.proto === 'udp' ? 17 : s.proto === 'tcp' ? 6 : v4 ? 1 : 58;
  if (s.proto === 'udp') {
    l4 = Buffer.alloc(8);
    l4.writeUInt16BE(s.sport ?? 0, 0);
    l4.writeUInt16BE(s.dport ?? 0, 2);
    l4.writeUInt16BE(8 + payload.length, 4);
  } else if (s.proto === 'tcp') {
    l4 = Buffer.alloc(20);
    l4.writeUInt16BE(s.sport ?? 0, 0);
    l4.writeUInt16BE(s.dport ?? 0, 2);
    l4.writeUInt32BE(1000, 4);
    l4[12] = 5 << 4;
    l4[13] = s.tcpFlags ?? 0x18;
    l4.writeUInt16BE(65535, 14);
  } else {
    l4 = Buffer.from([8, 0, 0, 0, 0, 1, 0, 1]);
  }
  const body = Buffer.concat([l4, payload]);
  let ip: Buffer;
  if (v4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + body.length, 2);
    ip.writeUInt16BE(s.fragmentOffset ?? 0, 6);
    ip[8] = 64;
    ip[9] = protoNum;
    addressBytes(s.src).copy(ip, 12);
    addressBytes(s.dst).copy(ip, 16);
  } else {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(body.length, 4);
    ip[6] = protoNum;
    ip[7] = 64;
    addressBytes(s.src).copy(ip, 8);
    addressBytes(s.dst).copy(ip, 24);
  }
  const eth = Buffer.alloc(s.vlan !== undefined ? 18 : 14);
  Buffer.from('020000000002020000000001', 'hex').copy(eth, 0);
  if (s.vlan !== undefined) {
    eth.writeUInt16BE(0x8100, 12);
    eth.writeUInt16BE(s.vlan, 14);
    eth.writeUInt16BE(v4 ? 0x0800 : 0x86dd, 16);
  } else {
    eth.writeUInt16BE(v4 ? 0x0800 : 0x86dd, 12);
  }
  return Buffer.concat([eth, ip, body, Buffer.alloc(s.pad ?? 0)]);
}
