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

/** Milliseconds since the epoch of a record's `time` (an RFC 3339 string). */
export function recordTimeMs(r: KiteRecord): number {
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
