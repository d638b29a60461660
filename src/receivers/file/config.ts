/** Settings of the file receiver. */
import { boolean, byteSize, duration, durationMs, integer, parseByteSize, stringListOf } from '../../component/formats';
import { FilterSettings, filterSchema } from '../filters';
import { FILE_LIMITS } from './wire';

export const FILE_OPERATIONS = ['open', 'unlink', 'rename', 'chmod', 'chown', 'truncate'] as const;
export type FileOperation = (typeof FILE_OPERATIONS)[number];

/** Where credentials, binaries, boot files and service secrets live. `*` matches one path component
 * and is expanded from the file system when the receiver starts. */
export const DEFAULT_WATCHED_PATHS = [
  '/etc', '/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/boot', '/root',
  '/home/*/.ssh', '/var/run/secrets', '/run/secrets', '/var/spool/cron', '/lib/modules', '/usr/lib/modules',
];
/** Read by nearly every process; rarely interesting. */
export const DEFAULT_IGNORED_PATHS = ['/etc/ld.so.cache', '/etc/localtime'];
export const DEFAULT_RING_BUFFER_SIZE = '16MiB';
/** In-kernel aggregation of repeated opens: off by default. */
export const DEFAULT_AGGREGATE_WINDOW = '0s';
export const DEFAULT_AGGREGATE_MAX_KEYS = 16384;

/** As written in the YAML (after defaults). */
export interface FileRawConfig {
  paths: { include: string[]; exclude: string[]; resolve: boolean };
  operations: string[];
  ring_buffer_size: string | number;
  aggregate: { window: string | number; max_keys: number };
  filter: FilterSettings;
}

/** As the receiver uses it. */
export interface FileConfig {
  include: string[];
  exclude: string[];
  /** Opens decided on the path of the opened file (true) or on the name given (false). */
  resolve: boolean;
  operations: FileOperation[];
  ringBufferSize: number;
  /** In-kernel aggregation of repeated opens: window length (0: off) and most open windows. */
  aggregate: { windowMs: number; maxKeys: number };
  filter: FilterSettings;
}

const prefixList = stringListOf({ nonEmpty: true, maxLength: FILE_LIMITS.prefixMax - 2, what: `a list of absolute paths of at most ${FILE_LIMITS.prefixMax - 2} bytes` });

export const fileSchema = {
  paths: {
    include: {
      doc: 'Watched path prefixes: an operation on a path at or below one of them is reported; every other path is dropped in the kernel. A component may be `*` (expanded once, when the receiver starts).',
      format: prefixList,
      default: DEFAULT_WATCHED_PATHS,
    },
    exclude: {
      doc: 'Path prefixes inside watched ones that are not reported (the longest matching prefix decides).',
      format: prefixList,
      default: DEFAULT_IGNORED_PATHS,
    },
    resolve: {
      doc: 'Decide opens on the path of the file actually opened (`..`, symbolic links and relative names resolved by the kernel), so that no name leads around a watched prefix; false decides them on the name as given, made absolute (cheaper per open: no walk of the opened file\'s folders; `..` is still resolved in user space, symbolic links are not followed).',
      format: boolean(),
      default: true,
    },
  },
  operations: {
    doc: `Operations to watch, among ${FILE_OPERATIONS.join(', ')}. Only their system calls' tracepoints are attached.`,
    format: stringListOf({ nonEmpty: true, what: `a list of operations among ${FILE_OPERATIONS.join(', ')}` }),
    default: [...FILE_OPERATIONS] as string[],
  },
  ring_buffer_size: {
    doc: 'Size of the kernel ring buffer that holds records until the agent reads them: a power of two, from 64KiB to 1GiB. When it is full, records are lost and counted (ring_full).',
    format: byteSize({ min: 65536, max: 1 << 30, powerOfTwo: true }),
    default: DEFAULT_RING_BUFFER_SIZE,
  },
  aggregate: {
    window: {
      doc: 'Fold repeated successful opens of the same file by the same process (same exec, credentials and open flags) in the kernel: the first open of a window is reported as usual, the repeats within `window` after it are only counted, and one summary record (`kite.summary: kernel_aggregate`, `kite.repeat_count`) reports them when the window closes. 0 turns it off. Needs `paths.resolve: true`.',
      format: duration({ min: 0, max: 3_600_000 }),
      default: DEFAULT_AGGREGATE_WINDOW,
    },
    max_keys: {
      doc: 'Most open aggregation windows (a kernel hash map of this many entries); an open that finds it full is reported as a record and counted (aggregate_map_full).',
      format: integer({ min: 1, max: 1_048_576 }),
      default: DEFAULT_AGGREGATE_MAX_KEYS,
    },
  },
  filter: filterSchema,
};

export function validateFileConfig(c: FileRawConfig): { key: string; expected: string; actual: unknown }[] {
  const out: { key: string; expected: string; actual: unknown }[] = [];
  for (const k of ['include', 'exclude'] as const) {
    for (const p of c.paths[k]) {
      if (!p.startsWith('/')) out.push({ key: `paths.${k}`, expected: 'absolute paths (starting with /)', actual: p });
    }
  }
  for (const op of c.operations) {
    if (!(FILE_OPERATIONS as readonly string[]).includes(op)) out.push({ key: 'operations', expected: `operations among ${FILE_OPERATIONS.join(', ')}`, actual: op });
  }
  if (!c.operations.length) out.push({ key: 'operations', expected: 'at least one operation', actual: [] });
  const window = durationMs(c.aggregate.window);
  if (window > 0 && window < 10) out.push({ key: 'aggregate.window', expected: '0 (off) or a window of at least 10ms', actual: c.aggregate.window });
  if (window > 0 && !c.paths.resolve) out.push({ key: 'aggregate.window', expected: '0 (off) with paths.resolve: false (opens are aggregated on the file they opened)', actual: c.aggregate.window });
  return out;
}

export function toFileConfig(raw: FileRawConfig): FileConfig {
  return {
    include: raw.paths.include,
    exclude: raw.paths.exclude,
    resolve: raw.paths.resolve,
    operations: raw.operations as FileOperation[],
    ringBufferSize: parseByteSize(raw.ring_buffer_size)!,
    aggregate: { windowMs: durationMs(raw.aggregate.window), maxKeys: raw.aggregate.max_keys },
    filter: raw.filter,
  };
}
