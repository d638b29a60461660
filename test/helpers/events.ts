/** Synthetic security records with known, unique ids, for exporter tests and benchmarks. */
import { KiteRecord } from '../../src/component/component';
import { readFileSync } from 'node:fs';

const KINDS = ['process.exec', 'process.exit', 'file.open', 'network.connect', 'dns.query'] as const;

/** Record number `i` of a stream named `run`: its `kite.event_id` is `${run}-${i}`. */
export function makeRecord(run: string, i: number): KiteRecord {
  const name = KINDS[i % KINDS.length]!;
  const pid = 1000 + (i % 5000);
  const base: KiteRecord = {
    time: new Date(Date.UTC(2026, 0, 1) + i).toISOString().replace('Z', '123456Z'),
    'event.name': name,
    'kite.event_id': `${run}-${i}`,
    'kite.seq': i + 1,
    'host.name': 'test-host',
    'process.pid': pid,
    'process.parent_pid': 1,
    'process.executable.path': '/usr/bin/curl',
    'process.executable.name': 'curl',
    'process.command_line': `curl -s https://example.test/${i}`,
    'process.command_args': ['curl', '-s', `https://example.test/${i}`],
    'process.user.id': 1000,
    'process.user.name': 'alice',
    'kite.process.exec_id': `exec-${pid}`,
  };
  switch (name) {
    case 'process.exit':
      return { ...base, 'process.exit.code': i % 3 };
    case 'file.open':
      return { ...base, 'file.path': `/etc/passwd.${i}`, 'file.name': `passwd.${i}` };
    case 'network.connect':
      return { ...base, 'destination.address': '192.0.2.10', 'destination.port': 443, 'network.transport': 'tcp' };
    case 'dns.query':
      return { ...base, 'dns.question.name': `host${i}.example.test`, 'dns.question.type': 'A' };
    default:
      return base;
  }
}

/** The `kite.event_id` of a record as an ECS JSON value carries it (`event.id`). */
export function ecsEventId(value: string | Buffer): string {
  return (JSON.parse(String(value)) as { event: { id: string } }).event.id;
}

export function makeRecords(run: string, n: number, from = 0): KiteRecord[] {
  return Array.from({ length: n }, (_, k) => makeRecord(run, from + k));
}

/**
 * The records in an NDJSON file written by the `file` exporter, which may be writing a line right now:
 * only whole lines count. An absent file has none.
 */
export function readRecordLines(path: string): KiteRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord);
}
