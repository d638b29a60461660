/** Settings of the connect receiver. */
import { boolean, byteSize, integerList, parseByteSize, stringListOf } from '../../component/formats';
import { FilterSettings, filterSchema } from '../filters';
import { prefixKey } from './peers';

export const DEFAULT_RING_BUFFER_SIZE = '8MiB';

export interface ConnectRawConfig {
  udp: boolean;
  peers: { include: string[]; exclude: string[] };
  ports: { include: number[]; exclude: number[] };
  ring_buffer_size: string | number;
  filter: FilterSettings;
}

export interface ConnectConfig {
  udp: boolean;
  peers: { include: string[]; exclude: string[] };
  ports: { include: number[]; exclude: number[] };
  ringBufferSize: number;
  filter: FilterSettings;
}

const cidrs = (verb: string) => ({
  doc: `Remote address prefixes (CIDR such as 10.0.0.0/8 or fd00::/8, or single addresses) to ${verb}, matched in the kernel.`,
  format: stringListOf({ nonEmpty: true, what: 'a list of IPv4 or IPv6 prefixes' }),
  default: [] as string[],
});
const ports = (verb: string) => ({
  doc: `Remote ports to ${verb}, matched in the kernel.`,
  format: integerList({ min: 1, max: 65535, what: 'a list of ports from 1 to 65535' }),
  default: [] as number[],
});

export const connectSchema = {
  udp: {
    doc: 'Report UDP destinations: a UDP connect, and the first datagram of each socket to each destination (cgroup sock_addr hooks on the cgroup v2 root).',
    format: boolean(),
    default: true,
  },
  peers: { include: cidrs('keep (empty: all)'), exclude: cidrs('drop') },
  ports: { include: ports('keep (empty: all)'), exclude: ports('drop') },
  ring_buffer_size: {
    doc: 'Size of the kernel ring buffer that holds records until the agent reads them: a power of two, from 64KiB to 1GiB. When it is full, records are lost and counted (ring_full).',
    format: byteSize({ min: 65536, max: 1 << 30, powerOfTwo: true }),
    default: DEFAULT_RING_BUFFER_SIZE,
  },
  filter: filterSchema,
};

export function validateConnectConfig(c: ConnectRawConfig): { key: string; expected: string; actual: unknown }[] {
  const out: { key: string; expected: string; actual: unknown }[] = [];
  for (const k of ['include', 'exclude'] as const) {
    for (const p of c.peers[k]) if (!prefixKey(p)) out.push({ key: `peers.${k}`, expected: 'IPv4 or IPv6 prefixes such as 10.0.0.0/8 or fd00::/8', actual: p });
  }
  return out;
}

export function toConnectConfig(raw: ConnectRawConfig): ConnectConfig {
  return { udp: raw.udp, peers: raw.peers, ports: raw.ports, ringBufferSize: parseByteSize(raw.ring_buffer_size)!, filter: raw.filter };
}
