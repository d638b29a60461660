/**
 * Value formats for component schemas (convict `format` functions). Each throws an Error whose message
 * says what was expected, starting with "expected"; the config loader adds the YAML path and the
 * value found. Durations and byte sizes are parsed exactly (integer arithmetic).
 */

export class FormatError extends Error {}

function fail(expected: string): never {
  throw new FormatError(`expected ${expected}`);
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** `500ms`, `2s`, `1.5s`, `1m30s`, `250us`, or an integer of milliseconds; returns nanoseconds, or null. */
export function parseDurationNs(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) * 1_000_000n : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (/^\d+$/.test(s)) return BigInt(s) * 1_000_000n;
  const re = /(\d+)(?:\.(\d+))?(ns|us|µs|ms|s|m|h)/y;
  let total = 0n;
  let pos = 0;
  if (!s) return null;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    const unit = DURATION_UNITS[m[3]!]!;
    const frac = m[2] ?? '';
    const scale = 10n ** BigInt(frac.length);
    const value = BigInt(m[1]!) * unit + (frac ? (BigInt(frac) * unit) / scale : 0n);
    if (frac && (BigInt(frac) * unit) % scale !== 0n) return null; // finer than a nanosecond
    total += value;
    pos = re.lastIndex;
  }
  return total;
}

/** Milliseconds (possibly fractional below 1 ms) of a duration already validated by `duration()`. */
export function durationMs(v: unknown): number {
  const ns = parseDurationNs(v);
  if (ns === null) throw new FormatError(`expected a duration, got ${JSON.stringify(v)}`);
  return Number(ns) / 1e6;
}

export interface RangeOpts {
  min?: number;
  max?: number;
}

/** A duration format with optional bounds in milliseconds. */
export function duration(opts: RangeOpts = {}): (v: unknown) => void {
  const what = `a duration such as 500ms, 2s or 1m (or integer milliseconds)${rangeText(opts, 'ms')}`;
  return (v) => {
    const ns = parseDurationNs(v);
    if (ns === null) fail(what);
    const ms = Number(ns) / 1e6;
    if ((opts.min !== undefined && ms < opts.min) || (opts.max !== undefined && ms > opts.max)) fail(what);
  };
}

function rangeText(o: RangeOpts, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (o.min !== undefined && o.max !== undefined) return ` from ${o.min}${u} to ${o.max}${u}`;
  if (o.min !== undefined) return ` of at least ${o.min}${u}`;
  if (o.max !== undefined) return ` of at most ${o.max}${u}`;
  return '';
}

export function integer(opts: RangeOpts = {}): (v: unknown) => void {
  const what = `an integer${rangeText(opts)}`;
  return (v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(what);
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) fail(what);
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

/** `16MiB`, `4096`, `64KiB`, `1GB`: bytes, or null. */
export function parseByteSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+)\s*([kmg]i?b|b)?$/i.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

export function byteSize(opts: RangeOpts & { powerOfTwo?: boolean } = {}): (v: unknown) => void {
  const what = `a size in bytes such as 16MiB, 64KiB or 4096${opts.powerOfTwo ? ' that is a power of two' : ''}${rangeText(opts, 'bytes')}`;
  return (v) => {
    const n = parseByteSize(v);
    if (n === null) fail(what);
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) fail(what);
    if (opts.powerOfTwo && (n & (n - 1)) !== 0) fail(what);
  };
}

export function boolean(): (v: unknown) => void {
  return (v) => {
    if (typeof v !== 'boolean') fail('true or false');
  };
}

export function string(opts: { nonEmpty?: boolean; pattern?: RegExp; what?: string } = {}): (v: unknown) => void {
  const what = opts.what ?? (opts.nonEmpty ? 'a non-empty string' : 'a string');
  return (v) => {
    if (typeof v !== 'string') fail(what);
    if (opts.nonEmpty && !v) fail(what);
    if (opts.pattern && !opts.pattern.test(v)) fail(what);
  };
}

export function oneOf<T extends string>(values: readonly T[]): (v: unknown) => void {
  const what = `one of ${values.join(', ')}`;
  return (v) => {
    if (typeof v !== 'string' || !values.includes(v as T)) fail(what);
  };
}

export function stringList(opts: { what?: string } = {}): (v: unknown) => void {
  const what = opts.what ?? 'a list of strings';
  return (v) => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(what);
  };
}

export function integerList(opts: RangeOpts & { what?: string } = {}): (v: unknown) => void {
  const what = opts.what ?? `a list of integers${rangeText(opts)}`;
  return (v) => {
    if (!Array.isArray(v)) fail(what);
    for (const x of v) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x)) fail(what);
      if ((opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) fail(what);
    }
  };
}

export function stringListOf(opts: { maxLength?: number; nonEmpty?: boolean; what: string }): (v: unknown) => void {
  return (v) => {
    if (!Array.isArray(v)) fail(opts.what);
    for (const x of v) {
      if (typeof x !== 'string' || (opts.nonEmpty && !x) || (opts.maxLength !== undefined && Buffer.byteLength(x) > opts.maxLength)) fail(opts.what);
    }
  };
}
