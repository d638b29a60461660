/** Settings of the dedupe processor. */
import { duration, durationMs, integer } from '../../component/formats';
import { ATTRIBUTE_LIST } from '../attribute-list';

export const DEFAULT_DEDUPE_WINDOW = '10s';
export const DEFAULT_DEDUPE_MAX_KEYS = 65536;

export interface DedupeRawConfig {
  keys: string[];
  window: string | number;
  max_keys: number;
}

export const dedupeSchema = {
  keys: {
    doc: 'Attribute names, as they appear in the records, whose values together make a key; records with equal keys are repeats of each other.',
    format: ATTRIBUTE_LIST,
    default: [] as string[],
  },
  window: {
    doc: 'How long after the first record of a key its repeats are folded; when it ends, one summary record carries the repeat count.',
    format: duration({ min: 1, max: 86_400_000 }),
    default: DEFAULT_DEDUPE_WINDOW,
  },
  max_keys: {
    doc: 'Most keys with an open window; one more closes the oldest window early (counted as windows_evicted), which bounds memory under a flood of distinct keys.',
    format: integer({ min: 1, max: 16_777_216 }),
    default: DEFAULT_DEDUPE_MAX_KEYS,
  },
};

export function validateDedupe(c: DedupeRawConfig): { key: string; expected: string; actual: unknown }[] {
  if (!c.keys.length || c.keys.some((k) => !k)) return [{ key: 'keys', expected: 'a non-empty list of attribute names', actual: c.keys }];
  return [];
}

export function windowMs(c: DedupeRawConfig): number {
  return durationMs(c.window);
}
