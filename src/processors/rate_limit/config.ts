/** Settings of the rate_limit processor. */
import { duration, durationMs, integer } from '../../component/formats';
import { ATTRIBUTE_LIST } from '../attribute-list';

export const DEFAULT_RATE = 1000;
export const DEFAULT_BURST = 2000;
export const DEFAULT_RATE_LIMIT_MAX_KEYS = 65536;
export const DEFAULT_SUMMARY_INTERVAL = '10s';

export interface RateLimitRawConfig {
  keys: string[];
  rate: number;
  burst: number;
  max_keys: number;
  summary_interval: string | number;
}

function positiveNumber(v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1e9) throw new Error('expected a number of records per second above 0 and at most 1000000000');
}

export const rateLimitSchema = {
  keys: {
    doc: 'Attribute names whose values together select a bucket (one bucket per distinct key); empty: one bucket for every record.',
    format: ATTRIBUTE_LIST,
    default: [] as string[],
  },
  rate: {
    doc: 'Records per second each bucket lets through on average (it refills continuously).',
    format: positiveNumber,
    default: DEFAULT_RATE,
  },
  burst: {
    doc: 'Most records a bucket lets through at once, after a quiet spell.',
    format: integer({ min: 1, max: 1e9 }),
    default: DEFAULT_BURST,
  },
  max_keys: {
    doc: 'Most buckets held; one more forgets the oldest (which then starts full again).',
    format: integer({ min: 1, max: 16_777_216 }),
    default: DEFAULT_RATE_LIMIT_MAX_KEYS,
  },
  summary_interval: {
    doc: 'How often a summary record per key says how many records were suppressed (also sent when the pipeline stops).',
    format: duration({ min: 1, max: 3_600_000 }),
    default: DEFAULT_SUMMARY_INTERVAL,
  },
};

export function summaryIntervalMs(c: RateLimitRawConfig): number {
  return durationMs(c.summary_interval);
}
