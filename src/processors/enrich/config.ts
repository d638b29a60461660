/** Settings of the enrich processor. */
import { boolean, byteSize, duration, durationMs, integer, parseByteSize, string } from '../../component/formats';

export const DEFAULT_ANCESTRY_DEPTH = 4;
export const DEFAULT_MAX_PROCESSES = 65536;
export const DEFAULT_MAX_TABLE_SIZE = '64MiB';
export const DEFAULT_EXITED_TTL = '30s';
export const DEFAULT_MAX_HASH_FILE_SIZE = '64MiB';
export const DEFAULT_KUBELET_POLL_INTERVAL = '30s';
export const DEFAULT_CRI_POLL_INTERVAL = '10s';
export const DEFAULT_EXEC_WAIT = '50ms';
export const DEFAULT_MAX_HELD_RECORDS = 8192;

export interface EnrichRawConfig {
  ancestry_depth: number;
  max_processes: number;
  max_table_size: string | number;
  exited_ttl: string | number;
  hash_executables: boolean;
  max_hash_file_size: string | number;
  container_users: boolean;
  kubelet_endpoint: string;
  kubelet_poll_interval: string | number;
  cri_endpoint: string;
  cri_poll_interval: string | number;
  exec_wait: string | number;
  max_held_records: number;
}

export interface EnrichConfig {
  ancestryDepth: number;
  maxProcesses: number;
  maxTableBytes: number;
  exitedTtlMs: number;
  hashExecutables: boolean;
  maxHashFileBytes: number;
  containerUsers: boolean;
  kubeletEndpoint: string;
  kubeletPollMs: number;
  criEndpoint: string;
  criPollMs: number;
  execWaitMs: number;
  maxHeldRecords: number;
  /** Where /proc is (tests); not a YAML option. */
  procRoot: string;
  /** Seed the table from /proc at start (tests turn it off); not a YAML option. */
  seed: boolean;
}

export const enrichSchema = {
  ancestry_depth: {
    doc: 'How many ancestors (parent first) are added to each record as kite.process.ancestors.* lists; 0 leaves the lists out (the parent is still added as process.parent.*).',
    format: integer({ min: 0, max: 32 }),
    default: DEFAULT_ANCESTRY_DEPTH,
  },
  max_processes: {
    doc: 'Most processes the process table holds; the oldest entries are dropped first (counted as table_evicted).',
    format: integer({ min: 16, max: 4_194_304 }),
    default: DEFAULT_MAX_PROCESSES,
  },
  max_table_size: {
    doc: 'Most bytes of executable paths and command lines the process table holds; the oldest entries are dropped first.',
    format: byteSize({ min: 1 << 20, max: 2 ** 32 }),
    default: DEFAULT_MAX_TABLE_SIZE,
  },
  exited_ttl: {
    doc: 'How long an exited process stays in the table so that late events of it are still enriched.',
    format: duration({ min: 0, max: 3_600_000 }),
    default: DEFAULT_EXITED_TTL,
  },
  hash_executables: {
    doc: 'Add process.executable.hash.sha256, computed in the background and cached by device, inode, size and modification time; records of a program whose hash is not known yet go without it (cache_miss.hash).',
    format: boolean(),
    default: false,
  },
  max_hash_file_size: {
    doc: 'Executables larger than this are not hashed (counted as hash_skipped.too_large).',
    format: byteSize({ min: 4096, max: 2 ** 32 }),
    default: DEFAULT_MAX_HASH_FILE_SIZE,
  },
  container_users: {
    doc: "Resolve user and group names of processes in containers from the container's own /etc/passwd and /etc/group (read once per container, in the background).",
    format: boolean(),
    default: true,
  },
  kubelet_endpoint: {
    doc: "Base URL of the kubelet's read-only API (e.g. http://127.0.0.1:10255) to add k8s.pod.name, k8s.namespace.name and k8s.pod.label.* by pod uid; empty: off. When it cannot be reached the agent keeps running and says so once in its log.",
    format: string({ pattern: /^(|https?:\/\/\S+)$/, what: 'an http:// or https:// URL, or empty' }),
    default: '',
  },
  kubelet_poll_interval: {
    doc: 'How often the pod list is read from kubelet_endpoint.',
    format: duration({ min: 1000, max: 3_600_000 }),
    default: DEFAULT_KUBELET_POLL_INTERVAL,
  },
  cri_endpoint: {
    doc: "A container runtime's CRI socket (e.g. unix:///run/containerd/containerd.sock or unix:///var/run/crio/crio.sock) to add k8s.pod.name, k8s.namespace.name, k8s.pod.label.* and k8s.container.name by container id; empty: off. When it cannot be reached the agent keeps running and says so once in its log.",
    format: string({ pattern: /^(|unix:\/\/\/\S+|\/\S+)$/, what: 'unix:///path/to/socket, an absolute socket path, or empty' }),
    default: '',
  },
  cri_poll_interval: {
    doc: 'How often pods and containers are listed from cri_endpoint.',
    format: duration({ min: 500, max: 3_600_000 }),
    default: DEFAULT_CRI_POLL_INTERVAL,
  },
  exec_wait: {
    doc: "Longest time a record that follows an exec (file, security) waits for the exec record, which the kernel sends through another ring buffer, so that it names the new program, not the old one. Records know this from kite.process.exec_seq; they wait only in that case (counted as exec_wait.held, and exec_wait.timeout when the exec record did not come in time). 0 turns waiting off.",
    format: duration({ min: 0, max: 10_000 }),
    default: DEFAULT_EXEC_WAIT,
  },
  max_held_records: {
    doc: 'Most records waiting for an exec record at once (see exec_wait); beyond it the oldest are released without waiting (counted as exec_wait.overflow).',
    format: integer({ min: 16, max: 1_048_576 }),
    default: DEFAULT_MAX_HELD_RECORDS,
  },
};

export function toEnrichConfig(raw: EnrichRawConfig): EnrichConfig {
  return {
    ancestryDepth: raw.ancestry_depth,
    maxProcesses: raw.max_processes,
    maxTableBytes: parseByteSize(raw.max_table_size)!,
    exitedTtlMs: durationMs(raw.exited_ttl),
    hashExecutables: raw.hash_executables,
    maxHashFileBytes: parseByteSize(raw.max_hash_file_size)!,
    containerUsers: raw.container_users,
    kubeletEndpoint: raw.kubelet_endpoint.replace(/\/+$/, ''),
    kubeletPollMs: durationMs(raw.kubelet_poll_interval),
    criEndpoint: raw.cri_endpoint ?? '',
    criPollMs: durationMs(raw.cri_poll_interval ?? DEFAULT_CRI_POLL_INTERVAL),
    execWaitMs: durationMs(raw.exec_wait),
    maxHeldRecords: raw.max_held_records,
    procRoot: '/proc',
    seed: true,
  };
}
