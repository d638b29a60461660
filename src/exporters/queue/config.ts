/**
 * The delivery settings every queued exporter shares: `sending_queue` (bounded queue, batching,
 * backpressure, optional persistent queue on disk), `retry_on_failure` (jittered exponential backoff
 * on retryable errors only) and `shutdown_timeout`. Named after the OpenTelemetry Collector's
 * exporterhelper settings so a collector user recognises them.
 */
import { ValidationProblem } from '../../component/component';
import { boolean, byteSize, duration, durationMs, FormatError, integer, oneOf, parseByteSize, string } from '../../component/formats';

export const ON_FULL = ['block', 'drop_oldest'] as const;
export type OnFull = (typeof ON_FULL)[number];

export const DEFAULT_QUEUE_SIZE = 20_000;
export const DEFAULT_ON_FULL: OnFull = 'block';
export const DEFAULT_BATCH_SIZE = 1000;
export const DEFAULT_BATCH_TIMEOUT = '100ms';
export const DEFAULT_NUM_CONSUMERS = 2;
export const DEFAULT_PERSISTENT_MAX_BYTES = '256MiB';
export const DEFAULT_RETRY_INITIAL_INTERVAL = '200ms';
export const DEFAULT_RETRY_MAX_INTERVAL = '30s';
export const DEFAULT_RETRY_MULTIPLIER = 2;
export const DEFAULT_RETRY_RANDOMIZATION = 0.5;
export const DEFAULT_RETRY_MAX_ELAPSED = '5m';
export const DEFAULT_SHUTDOWN_TIMEOUT = '10s';

/** The settings as they appear in the YAML (after the schema applied defaults). */
export interface RawDeliveryConfig {
  sending_queue: {
    queue_size: number;
    on_full: OnFull;
    batch_size: number;
    batch_timeout: string | number;
    num_consumers: number;
    directory: string;
    max_bytes: string | number;
  };
  retry_on_failure: {
    enabled: boolean;
    initial_interval: string | number;
    max_interval: string | number;
    multiplier: number;
    randomization_factor: number;
    max_elapsed_time: string | number;
  };
  shutdown_timeout: string | number;
}

/** The settings as the queue takes them: durations in milliseconds, sizes in bytes. */
export interface DeliveryConfig {
  queueSize: number;
  onFull: OnFull;
  batchSize: number;
  batchTimeoutMs: number;
  numConsumers: number;
  /** Folder of the persistent queue; empty: in memory only. */
  directory: string;
  maxBytes: number;
  retry: RetryConfig;
  shutdownTimeoutMs: number;
}

export interface RetryConfig {
  enabled: boolean;
  initialIntervalMs: number;
  maxIntervalMs: number;
  multiplier: number;
  randomizationFactor: number;
  /** 0: retry forever. */
  maxElapsedMs: number;
}

function number(opts: { min: number; max: number }): (v: unknown) => void {
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < opts.min || v > opts.max) {
      throw new FormatError(`expected a number from ${opts.min} to ${opts.max}`);
    }
  };
}

/** The schema keys every queued exporter adds to its own. */
export function deliverySchema() {
  return {
    sending_queue: {
      queue_size: {
        doc: 'Most records held in memory waiting to be sent (per exporter).',
        format: integer({ min: 1, max: 10_000_000 }),
        default: DEFAULT_QUEUE_SIZE,
      },
      on_full: {
        doc: 'When the queue is full: `block` pauses the receivers whose pipelines lead to this exporter until it has room (a ring-buffer receiver leaves events in the kernel, which counts those it cannot queue as `ring_full`, reported in `kite.loss` records); a record that still arrives is refused, counted `dropped.queue_full`. `drop_oldest` evicts the oldest record not yet in flight (counted `dropped.queue_full`).',
        format: oneOf(ON_FULL),
        default: DEFAULT_ON_FULL,
      },
      batch_size: {
        doc: 'Most records per request to the destination.',
        format: integer({ min: 1, max: 100_000 }),
        default: DEFAULT_BATCH_SIZE,
      },
      batch_timeout: {
        doc: 'How long a partial batch waits for more records before it is sent.',
        format: duration({ min: 0, max: 60_000 }),
        default: DEFAULT_BATCH_TIMEOUT,
      },
      num_consumers: {
        doc: 'Requests in flight at once.',
        format: integer({ min: 1, max: 64 }),
        default: DEFAULT_NUM_CONSUMERS,
      },
      directory: {
        doc: 'Folder of the persistent queue (one subfolder per exporter id); records survive an agent restart or SIGKILL and are delivered at least once. Empty: the queue is in memory only.',
        format: string(),
        default: '',
      },
      max_bytes: {
        doc: 'Most bytes the persistent queue keeps on disk; past it `on_full` applies.',
        format: byteSize({ min: 1 << 20 }),
        default: DEFAULT_PERSISTENT_MAX_BYTES,
      },
    },
    retry_on_failure: {
      enabled: {
        doc: 'Retry requests that failed with a retryable error (unreachable peer, timeout, throttling, 5xx); other errors drop the batch, counted `dropped.export_failed`.',
        format: boolean(),
        default: true,
      },
      initial_interval: {
        doc: 'Wait before the first retry.',
        format: duration({ min: 1, max: 3_600_000 }),
        default: DEFAULT_RETRY_INITIAL_INTERVAL,
      },
      max_interval: {
        doc: 'Longest wait between two retries.',
        format: duration({ min: 1, max: 3_600_000 }),
        default: DEFAULT_RETRY_MAX_INTERVAL,
      },
      multiplier: {
        doc: 'Growth of the wait after each retry.',
        format: number({ min: 1, max: 10 }),
        default: DEFAULT_RETRY_MULTIPLIER,
      },
      randomization_factor: {
        doc: 'Jitter: each wait is drawn from [wait*(1-f), wait*(1+f)].',
        format: number({ min: 0, max: 1 }),
        default: DEFAULT_RETRY_RANDOMIZATION,
      },
      max_elapsed_time: {
        doc: 'Give up on a batch after retrying this long, counted `dropped.retry_exhausted`; 0 retries forever.',
        format: duration({ min: 0 }),
        default: DEFAULT_RETRY_MAX_ELAPSED,
      },
    },
    shutdown_timeout: {
      doc: 'How long shutdown waits for the queue to drain; what is left is counted `dropped.shutdown` (or stays on disk with a persistent queue).',
      format: duration({ min: 0, max: 600_000 }),
      default: DEFAULT_SHUTDOWN_TIMEOUT,
    },
  };
}

export function validateDelivery(c: RawDeliveryConfig): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (c.sending_queue.batch_size > c.sending_queue.queue_size) {
    problems.push({ key: 'sending_queue.batch_size', expected: `at most sending_queue.queue_size (${c.sending_queue.queue_size})`, actual: c.sending_queue.batch_size });
  }
  if (durationMs(c.retry_on_failure.max_interval) < durationMs(c.retry_on_failure.initial_interval)) {
    problems.push({ key: 'retry_on_failure.max_interval', expected: 'at least retry_on_failure.initial_interval', actual: c.retry_on_failure.max_interval });
  }
  return problems;
}

export function toDeliveryConfig(c: RawDeliveryConfig): DeliveryConfig {
  return {
    queueSize: c.sending_queue.queue_size,
    onFull: c.sending_queue.on_full,
    batchSize: c.sending_queue.batch_size,
    batchTimeoutMs: durationMs(c.sending_queue.batch_timeout),
    numConsumers: c.sending_queue.num_consumers,
    directory: c.sending_queue.directory,
    maxBytes: parseByteSize(c.sending_queue.max_bytes)!,
    retry: {
      enabled: c.retry_on_failure.enabled,
      initialIntervalMs: durationMs(c.retry_on_failure.initial_interval),
      maxIntervalMs: durationMs(c.retry_on_failure.max_interval),
      multiplier: c.retry_on_failure.multiplier,
      randomizationFactor: c.retry_on_failure.randomization_factor,
      maxElapsedMs: durationMs(c.retry_on_failure.max_elapsed_time),
    },
    shutdownTimeoutMs: durationMs(c.shutdown_timeout),
  };
}

/** Defaults, for tests and tools that build a queue without YAML. */
export function defaultDeliveryConfig(overrides: Partial<DeliveryConfig> = {}): DeliveryConfig {
  return {
    queueSize: DEFAULT_QUEUE_SIZE,
    onFull: DEFAULT_ON_FULL,
    batchSize: DEFAULT_BATCH_SIZE,
    batchTimeoutMs: durationMs(DEFAULT_BATCH_TIMEOUT),
    numConsumers: DEFAULT_NUM_CONSUMERS,
    directory: '',
    maxBytes: parseByteSize(DEFAULT_PERSISTENT_MAX_BYTES)!,
    retry: {
      enabled: true,
      initialIntervalMs: durationMs(DEFAULT_RETRY_INITIAL_INTERVAL),
      maxIntervalMs: durationMs(DEFAULT_RETRY_MAX_INTERVAL),
      multiplier: DEFAULT_RETRY_MULTIPLIER,
      randomizationFactor: DEFAULT_RETRY_RANDOMIZATION,
      maxElapsedMs: durationMs(DEFAULT_RETRY_MAX_ELAPSED),
    },
    shutdownTimeoutMs: durationMs(DEFAULT_SHUTDOWN_TIMEOUT),
    ...overrides,
  };
}
