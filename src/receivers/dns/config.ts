/** Settings of the dns receiver. */
import { byteSize, duration, durationMs, integer, integerList, parseByteSize, stringListOf } from '../../component/formats';
import { FilterSettings, filterSchema } from '../filters';
import { DNS_LIMITS } from './wire';

export const DEFAULT_PORTS = [53];
export const DEFAULT_SNAP_LENGTH = 4096;
export const DEFAULT_QUERY_TIMEOUT = '5s';
export const DEFAULT_MAX_PENDING_QUERIES = 65536;
export const DEFAULT_MAX_ANSWERS = 32;
export const DEFAULT_SOCKET_BUFFER_SIZE = '16MiB';

/** As written in the YAML (after defaults). */
export interface DnsRawConfig {
  interfaces: string[];
  ports: number[];
  snap_length: number;
  query_timeout: string | number;
  max_pending_queries: number;
  max_answers: number;
  socket_buffer_size: string | number;
  filter: FilterSettings;
}

/** As the receiver uses it. */
export interface DnsConfig {
  interfaces: string[];
  ports: number[];
  snapLength: number;
  queryTimeoutMs: number;
  maxPendingQueries: number;
  maxAnswers: number;
  socketBufferSize: number;
  filter: FilterSettings;
}

export const dnsSchema = {
  interfaces: {
    doc: 'Network interfaces to capture on, by name (loopback included); empty: every interface of the agent\'s network namespace, including ones added later.',
    format: stringListOf({ nonEmpty: true, maxLength: 15, what: 'a list of interface names of 1 to 15 bytes' }),
    default: [] as string[],
  },
  ports: {
    doc: `Server ports whose TCP and UDP traffic is DNS (at most ${DNS_LIMITS.maxPorts}).`,
    format: integerList({ min: 1, max: 65535, what: 'a list of port numbers from 1 to 65535' }),
    default: DEFAULT_PORTS,
  },
  snap_length: {
    doc: 'Most bytes of each packet copied to the agent; longer DNS messages are parsed as far as they go and flagged kite.dns.truncated.',
    format: integer({ min: 512, max: 65535 }),
    default: DEFAULT_SNAP_LENGTH,
  },
  query_timeout: {
    doc: 'How long a query waits for its answer; unanswered queries are then forgotten and counted (unanswered).',
    format: duration({ min: 10, max: 300000 }),
    default: DEFAULT_QUERY_TIMEOUT,
  },
  max_pending_queries: {
    doc: 'Most queries waiting for an answer; when full, the oldest is forgotten and counted (pending_evicted).',
    format: integer({ min: 16, max: 1 << 20 }),
    default: DEFAULT_MAX_PENDING_QUERIES,
  },
  max_answers: {
    doc: 'Most answer records decoded per response; the rest are counted in kite.dns.answer_count and flagged kite.dns.truncated.',
    format: integer({ min: 1, max: 1024 }),
    default: DEFAULT_MAX_ANSWERS,
  },
  socket_buffer_size: {
    doc: 'Receive ring of each packet socket (TPACKET_V3, mapped into the agent and allocated at start): what the kernel holds while the agent is busy, each packet taking its length plus about 80 bytes. When it is full, packets are lost and counted (kernel_drops).',
    format: byteSize({ min: 65536, max: 1 << 30 }),
    default: DEFAULT_SOCKET_BUFFER_SIZE,
  },
  filter: filterSchema,
};

export function toDnsConfig(raw: DnsRawConfig): DnsConfig {
  return {
    interfaces: raw.interfaces,
    ports: raw.ports,
    snapLength: raw.snap_length,
    queryTimeoutMs: durationMs(raw.query_timeout),
    maxPendingQueries: raw.max_pending_queries,
    maxAnswers: raw.max_answers,
    socketBufferSize: parseByteSize(raw.socket_buffer_size)!,
    filter: raw.filter,
  };
}
