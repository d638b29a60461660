/** Builds an exporter from YAML-shaped settings through the real config validation and registry, and sends records through one. */
import assert from 'node:assert/strict';
import { ComponentId, Exporter, Host, KiteRecord } from '../../src/component/component';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { resolveConfig } from '../../src/pipeline/config';
import { createRegistry } from '../../src/registry';
import { makeRecord } from './events';
import { testHost } from './host';
import { waitFor } from './kernel';

export function createExporter<T extends Exporter = Exporter>(key: string, settings: Record<string, unknown>, host: Host): T {
  const cfg = resolveConfig(
    { receivers: { exec: {} }, exporters: { [key]: settings }, service: { pipelines: { main: { receivers: ['exec'], exporters: [key] } } } },
    createRegistry(),
  );
  const rc = cfg.exporters.get(key)!;
  return rc.factory.create(rc.id as ComponentId, rc.config as never, host) as T;
}

/** Retries fast and forever, and gives shutdown one second: for exporters a test expects to fail. */
export const FAST_RETRY = { retry_on_failure: { initial_interval: '100ms', max_interval: '500ms', max_elapsed_time: 0 }, shutdown_timeout: '1s' };

export interface SendOutcome {
  stats: Record<string, number>;
  logs: Record<string, unknown>[];
  /** The error of the first failed send the queue logged (retried or dropped), '' if none. */
  error: string;
}

/**
 * Offers the records to a new exporter with these settings, then either flushes it (`expect:
 * 'delivered'`) or waits until a send has failed and been retried (`expect: 'retried'`), shuts it
 * down, and waits until every record is counted somewhere (a batch still in a connection attempt at
 * shutdown's deadline is counted when that attempt ends).
 */
export async function sendThrough(key: string, settings: Record<string, unknown>, records: KiteRecord[], expect: 'delivered' | 'retried'): Promise<SendOutcome> {
  const host = testHost();
  const exp = createExporter<QueuedExporter>(key, settings, host);
  const stats = (): Record<string, number> => host.stats.snapshot()[`exporter/${key}`] ?? {};
  await exp.start();
  for (const r of records) await exp.offer(r);
  if (expect === 'delivered') await exp.flush();
  else await waitFor(() => (stats().retries ?? 0) > 0 || undefined, 30_000, `${key} to retry a failed send`);
  await exp.shutdown();
  const counted = (): number => Object.entries(stats()).filter(([k]) => k === 'sent' || k.startsWith('dropped.')).reduce((s, [, v]) => s + v, 0);
  await waitFor(() => counted() >= records.length || undefined, 30_000, `${key} to count every record`).catch(() => undefined);
  const failed = host.logs.find((l) => l.msg === 'export failed, retrying' || l.msg === 'export failed, batch dropped');
  return { stats: stats(), logs: host.logs, error: String(failed?.error ?? '') };
}

/** A peer a test can stop and start again (its data kept). */
export interface RestartablePeer {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Streams n records (`makeRecord(run, i)`, paced) through a new exporter with these settings and
 * restarts the peer in the middle: stopped after the first third, the second third offered while it
 * is down (sends must fail and be retried), started again for the rest; then flushes, shuts down and
 * checks that nothing was dropped. Returns the exporter's counters; reading back is the test's.
 */
export async function streamAcrossRestart(key: string, settings: Record<string, unknown>, peer: RestartablePeer, run: string, n: number): Promise<Record<string, number>> {
  const host = testHost();
  const exp = createExporter<QueuedExporter>(key, { sending_queue: { queue_size: 100000 }, ...settings }, host);
  await exp.start();
  let i = 0;
  const produce = async (until: number): Promise<void> => {
    for (; i < until; i++) {
      await exp.offer(makeRecord(run, i));
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
  };
  await produce(Math.floor(n / 3));
  await peer.stop();
  await produce(Math.floor((2 * n) / 3));
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(host.stats.get(`exporter/${key}`, 'retries') > 0, `${key}: sends failed while the peer was down`);
  await peer.start();
  await produce(n);
  await exp.flush();
  await exp.shutdown();
  const stats = host.stats.snapshot()[`exporter/${key}`] ?? {};
  assert.equal(Object.keys(stats).filter((k) => k.startsWith('dropped.')).length, 0, JSON.stringify(stats));
  return stats;
}
