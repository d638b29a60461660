/**
 * Peer address prefixes and ports for the kernel (bpf/connect.bpf.c: `connect_peers` LPM trie with
 * IPv4 as ::ffff:a.b.c.d, `connect_ports` hash).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 16 bytes of an IPv6 address (IPv4: mapped), or null. */
export function addressBytes(a: string): Buffer | null {
  const out = Buffer.alloc(16);
  if (isIPv4(a)) {
    out[10] = 0xff;
    out[11] = 0xff;
    a.split('.').forEach((x, i) => { out[12 + i] = Number(x); });
    return out;
  }
  if (!isIPv6(a)) return null;
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((x, i) => out.writeUInt16BE(parseInt(x, 16), 2 * i));
  return out;
}

/** "10.0.0.0/8", "fd00::/8" or an address: the trie key (u32 prefix bits + 16 bytes), or null. */
export function prefixKey(cidr: string): Buffer | null {
  const [a, bits] = cidr.split('/');
  const bytes = addressBytes(a ?? '');
  if (!bytes) return null;
  const v4 = isIPv4(a!);
  const max = v4 ? 32 : 128;
  const n = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > max || (bits !== undefined && !/^\d+$/.test(bits))) return null;
  const key = Buffer.alloc(20);
  key.writeUInt32LE(v4 ? n + 96 : n, 0);
  bytes.copy(key, 4);
  return key;
}
