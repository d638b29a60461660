/**
 * Records as OpenTelemetry log records: the event name, a severity, a short body and every other key
 * as an attribute (the record already uses semantic-convention names). Also renders OTLP JSON
 * (`{"resourceLogs": ...}`, the protobuf JSON mapping) for exporters that carry OTLP inside another
 * protocol, such as Kafka with `schema: otel`.
 */
import { AttrValue, KiteRecord } from '../../component/component';
import { eventAction, eventKind, recordTimeNanos } from './event-kind';

/** OpenTelemetry SeverityNumber values used here. */
export const SEVERITY = { INFO: 9, WARN: 13, ERROR: 17 } as const;

export function severityOf(r: KiteRecord): { number: number; text: string } {
  const name = r['event.name'];
  if (name === 'kite.loss') return { number: SEVERITY.WARN, text: 'WARN' };
  if (eventKind(name) === 'finding') return { number: SEVERITY.ERROR, text: 'ERROR' };
  return { number: SEVERITY.INFO, text: 'INFO' };
}

const str = (v: AttrValue | undefined): string | undefined => (v === undefined ? undefined : Array.isArray(v) ? v.join(' ') : String(v));

/** A one-line human summary: what ran, which file, which peer, which name. */
export function bodyOf(r: KiteRecord): string {
  const name = r['event.name'];
  const subject =
    str(r['process.command_line']) ??
    str(r['file.path']) ??
    str(r['dns.question.name']) ??
    (r['destination.address'] !== undefined ? `${str(r['destination.address'])}:${str(r['destination.port']) ?? ''}` : undefined) ??
    str(r['process.executable.path']) ??
    str(r['process.executable.name']);
  if (eventKind(name) === 'process' && r['process.pid'] !== undefined) {
    return `${eventAction(name)} pid ${r['process.pid']}${subject ? `: ${subject}` : ''}`;
  }
  return subject ? `${name}: ${subject}` : name;
}

/** Every key but `time` and `event.name` (which have their own fields). */
export function attributesOf(r: KiteRecord): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const k in r) {
    if (k === 'time' || k === 'event.name') continue;
    const v = r[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: AnyValue[] } };

export function anyValue(v: AttrValue | string): AnyValue {
  if (Array.isArray(v)) return { arrayValue: { values: (v as (string | number)[]).map((x) => anyValue(x)) } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { stringValue: v };
}

export const keyValues = (attrs: Record<string, AttrValue>) => Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));

/** One record as an OTLP JSON logs request (one resource, one scope, one log record). */
export function otlpJson(r: KiteRecord, resource: Record<string, AttrValue>, scope: { name: string; version: string }): string {
  const sev = severityOf(r);
  const nanos = recordTimeNanos(r);
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: keyValues(resource) },
        scopeLogs: [
          {
            scope,
            logRecords: [
              {
                timeUnixNano: nanos,
                observedTimeUnixNano: nanos,
                severityNumber: sev.number,
                severityText: sev.text,
                eventName: r['event.name'],
                body: { stringValue: bodyOf(r) },
                attributes: keyValues(attributesOf(r)),
              },
            ],
          },
        ],
      },
    ],
  });
}
