/**
 * What kind of security event a record is, from its `event.name`, so that each output schema (ECS,
 * OCSF, OTLP severity) is derived from one table. Unknown names map to `other`.
 */
import { KiteRecord } from '../../component/component';

export type EventKind = 'process' | 'file' | 'network' | 'dns' | 'finding' | 'agent' | 'other';

export function eventKind(name: string): EventKind {
  if (name.startsWith('process.')) return 'process';
  if (name.startsWith('file.')) return 'file';
  if (name.startsWith('dns.')) return 'dns';
  if (name.startsWith('network.') || name.startsWith('net.') || name.startsWith('socket.')) return 'network';
  if (name.startsWith('alert.') || name.startsWith('detection.') || name.startsWith('finding.')) return 'finding';
  if (name.startsWith('kite.')) return 'agent';
  return 'other';
}

/** The verb after the kind: `process.exec` -> `exec`. */
export function eventAction(name: string): string {
  const dot = name.indexOf('.');
  return dot >= 0 ? name.slice(dot + 1) : name;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Digits of `s` from `at` to `end` as a number, or -1 if one is not a digit. */
function digits(s: string, at: number, end: number): number {
  let n = 0;
  for (let i = at; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The last minute parseUtcFast() read, `YYYY-MM-DDTHH:MM:` (valid), and its milliseconds since the epoch. */
let minuteKey = '\u0000never';
let minuteMs = 0;

/**
 * Date.parse() of a UTC time as receivers write it, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, read
 * without Date's parser; NaN for anything else (and for what Date.parse() treats specially: years
 * before 100, hour 24, February 29th), which Date.parse() then reads.
 * The same result (test/unit/record-time.test.ts).
 */
export function parseUtcFast(s: string): number {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90) return NaN;
  let base: number;
  // records come in time order: most share the minute of the one before, read once
  if (s.startsWith(minuteKey)) base = minuteMs;
  else {
    if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return NaN;
    const y = digits(s, 0, 4);
    const mo = digits(s, 5, 7);
    const d = digits(s, 8, 10);
    const h = digits(s, 11, 13);
    const mi = digits(s, 14, 16);
    if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > DAYS[mo - 1]! || (mo === 2 && d === 29) || h < 0 || h > 23 || mi < 0 || mi > 59) return NaN;
    base = Date.UTC(y, mo - 1, d, h, mi);
    minuteKey = s.slice(0, 17);
    minuteMs = base;
  }
  const sec = digits(s, 17, 19);
  if (sec < 0 || sec > 59) return NaN;
  let ms = 0;
  if (n > 20) {
    // a fraction: a dot and 1 to 9 digits, of which the first three are milliseconds
    const fl = n - 21;
    if (s.charCodeAt(19) !== 46 || fl < 1 || fl > 9 || digits(s, 20, n - 1) < 0) return NaN;
    ms = digits(s, 20, Math.min(23, n - 1));
    for (let i = fl; i < 3; i++) ms *= 10;
  }
  return base + sec * 1000 + ms;
}

/** Milliseconds since the epoch of a record's `time` (an RFC 3339 string). */
export function recordTimeMs(r: KiteRecord): number {
  const fast = parseUtcFast(r.time);
  if (fast === fast) return fast;
  const t = Date.parse(r.time);
  return Number.isFinite(t) ? t : Date.now();
}

/** Nanoseconds since the epoch as a decimal string, keeping sub-millisecond digits of `time`. */
export function recordTimeNanos(r: KiteRecord): string {
  const m = /\.(\d+)Z$/.exec(r.time);
  const ms = recordTimeMs(r);
  const secs = Math.floor(ms / 1000);
  const frac = (m?.[1] ?? String(ms % 1000).padStart(3, '0')).padEnd(9, '0').slice(0, 9);
  return `${secs}${frac}`;
}

/**
 * [seconds, nanoseconds] since the epoch of a record's `time`, keeping sub-millisecond digits: the
 * same as splitting recordTimeNanos() into its seconds and its last nine digits, without the
 * strings when the time has the receivers' form (test/unit/record-time.test.ts).
 */
export function recordTimeHr(r: KiteRecord): [number, number] {
  const s = r.time;
  const ms = parseUtcFast(s);
  if (ms === ms && ms >= 0) {
    const n = s.length;
    let nanos = 0;
    if (n > 20) {
      nanos = digits(s, 20, n - 1);
      for (let i = n - 21; i < 9; i++) nanos *= 10;
    }
    return [Math.floor(ms / 1000), nanos];
  }
  const t = recordTimeNanos(r);
  return [t.length > 9 ? Number(t.slice(0, -9)) : 0, Number(t.slice(-9))];
}
