/** Settings of the batch processor. */
import { duration, durationMs, integer } from '../../component/formats';

export const DEFAULT_BATCH_SIZE = 512;
export const DEFAULT_BATCH_TIMEOUT = '200ms';

export interface BatchRawConfig {
  send_batch_size: number;
  timeout: string | number;
}

export const batchSchema = {
  send_batch_size: {
    doc: 'A batch is sent as soon as this many records are waiting.',
    format: integer({ min: 1, max: 1_048_576 }),
    default: DEFAULT_BATCH_SIZE,
  },
  timeout: {
    doc: 'A batch is sent at the latest this long after its first record, however small it is.',
    format: duration({ min: 0, max: 60_000 }),
    default: DEFAULT_BATCH_TIMEOUT,
  },
};

export function batchTimeoutMs(c: BatchRawConfig): number {
  return durationMs(c.timeout);
}
