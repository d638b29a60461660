/** Sequence numbers, heartbeats and loss records: gaps are visible in the stream itself. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { StreamHealth } from '../../src/pipeline/stream-health';
import { testHost } from '../helpers/host';

test('records get consecutive sequence numbers, once each', () => {
  const h = new StreamHealth(testHost(), () => undefined);
  const a = { time: '', 'event.name': 'x', 'kite.event_id': 'a' } as KiteRecord;
  const b = { time: '', 'event.name': 'x', 'kite.event_id': 'b' } as KiteRecord;
  h.stamp(a);
  h.stamp(b);
  h.stamp(a);
  assert.equal(a['kite.seq'], 1);
  assert.equal(b['kite.seq'], 2);
});

test('a kite.loss record reports what every loss counter lost since the last check', () => {
  const host = testHost();
  const out: KiteRecord[] = [];
  const h = new StreamHealth(host, (r) => out.push(r));
  host.stats.add('exporter/kafka', 'dropped.queue_full', 3);
  h.start(); // losses before start are not news
  h.checkLoss();
  assert.equal(out.length, 0);
  host.stats.add('exporter/kafka', 'dropped.queue_full', 5);
  host.stats.set('receiver/exec', 'ring_full', 7);
  host.stats.add('exporter/kafka', 'sent', 100);
  // folded into summary records, which carry their counts: not lost
  host.stats.add('processor/dedupe', 'dropped.duplicate', 40);
  host.stats.add('processor/rate_limit', 'dropped.rate_limited', 9);
  h.checkLoss();
  h.stop();
  assert.equal(out.length, 1);
  const loss = out[0]!;
  assert.equal(loss['event.name'], 'kite.loss');
  assert.equal(loss['kite.loss.count'], 12);
  assert.deepEqual(loss['kite.loss.reasons'], ['exporter/kafka:dropped.queue_full=5', 'receiver/exec:ring_full=7']);
  assert.equal(loss['kite.seq'], 1);
  assert.ok(loss['kite.event_id']);
});

test('a kite.heartbeat record carries the last sequence number and the loss total', () => {
  const host = testHost();
  const out: KiteRecord[] = [];
  const h = new StreamHealth(host, (r) => out.push(r));
  h.stamp({ time: '', 'event.name': 'x', 'kite.event_id': 'a' } as KiteRecord);
  h.heartbeat();
  assert.equal(out[0]!['event.name'], 'kite.heartbeat');
  assert.equal(out[0]!['kite.heartbeat.last_seq'], 1);
  assert.equal(out[0]!['kite.seq'], 2);
  assert.equal(out[0]!['kite.loss.total'], 0);
});

test('service.stream_health sets the heartbeat interval, and a reload changes it', async () => {
  const { Subject } = await import('rxjs');
  const { parseConfigText, resolveConfig } = await import('../../src/pipeline/config');
  const { Service } = await import('../../src/pipeline/service');
  const { createRegistry } = await import('../../src/registry');
  const got: KiteRecord[] = [];
  const factories = [
    { kind: 'receiver', type: 'src', stability: 'development', description: 'test', schema: {}, create: () => {
      const records$ = new Subject<KiteRecord>();
      return { records$, start: async () => {}, shutdown: async () => records$.complete() };
    } },
    { kind: 'exporter', type: 'keep', stability: 'development', description: 'test', schema: {}, create: () => ({ consume: (r: KiteRecord) => void got.push(r), flush: async () => {}, start: async () => {}, shutdown: async () => {} }) },
  ] as never[];
  const yaml = (hb: string): string => `
receivers: { src: {} }
exporters: { keep: {} }
service:
  stream_health: { heartbeat_interval: ${hb}, loss_check_interval: 100ms }
  pipelines: { main: { receivers: [src], exporters: [keep] } }
`;
  const registry = createRegistry(factories);
  const cfg = resolveConfig(parseConfigText(yaml('1s')), registry);
  assert.deepEqual(cfg.streamHealth, { heartbeatIntervalMs: 1000, lossCheckIntervalMs: 100 });
  const service = new Service(cfg, testHost());
  await service.start();
  const heartbeats = (): number => got.filter((r) => r['event.name'] === 'kite.heartbeat').length;
  await new Promise((r) => setTimeout(r, 2300));
  assert.equal(heartbeats(), 2, 'one a second');
  await service.reload(resolveConfig(parseConfigText(yaml('1h')), registry));
  const before = heartbeats();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(heartbeats(), before, 'none within the new, longer interval');
  await service.shutdown();
});

test('the default heartbeat is every 30s, loss checked every second', async () => {
  const { parseConfigText, resolveConfig } = await import('../../src/pipeline/config');
  const { createRegistry } = await import('../../src/registry');
  const cfg = resolveConfig(parseConfigText('receivers: {exec: {}}\nexporters: {console: {}}\nservice: {pipelines: {main: {receivers: [exec], exporters: [console]}}}\n'), createRegistry());
  assert.deepEqual(cfg.streamHealth, { heartbeatIntervalMs: 30_000, lossCheckIntervalMs: 1000 });
});
