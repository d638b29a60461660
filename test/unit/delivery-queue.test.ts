/** The shared delivery queue with a scripted sender: retries, backpressure, persistence, shutdown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { backoffMs } from '../../src/exporters/queue/backoff';
import { defaultDeliveryConfig, DeliveryConfig } from '../../src/exporters/queue/config';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { Sender, SendResult } from '../../src/exporters/queue/sender';
import { testHost } from '../helpers/host';

const rec = (i: number): KiteRecord => ({ time: new Date(0).toISOString(), 'event.name': 'test.event', 'kite.event_id': `e-${i}` });

class ScriptedSender implements Sender {
  received: string[] = [];
  calls = 0;
  constructor(public script: (call: number, batch: KiteRecord[]) => SendResult = () => ({ status: 'success' })) {}
  async start(): Promise<void> {}
  async send(batch: KiteRecord[]): Promise<SendResult> {
    const r = this.script(this.calls++, batch);
    if (r.status === 'success') this.received.push(...batch.map((b) => b['kite.event_id']));
    await new Promise((resolve) => setImmediate(resolve));
    return r;
  }
  async shutdown(): Promise<void> {}
}

const fast = (o: Partial<DeliveryConfig> = {}): DeliveryConfig =>
  defaultDeliveryConfig({ batchTimeoutMs: 1, batchSize: 10, retry: { ...defaultDeliveryConfig().retry, initialIntervalMs: 1, maxIntervalMs: 5 }, ...o });

const id = parseComponentId('test/q')!;

/** Runs `body` with a fresh persistent-queue folder, removed afterwards. */
async function inQueueDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kite-pq-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('retryable results are retried until delivered; nothing is lost', async () => {
  const host = testHost();
  const sender = new ScriptedSender((call) => (call < 5 ? { status: 'retryable', error: 'peer down' } : { status: 'success' }));
  const q = new QueuedExporter(id, host, fast(), sender);
  await q.start();
  for (let i = 0; i < 100; i++) q.consume(rec(i));
  await q.flush();
  assert.deepEqual([...sender.received].sort(), Array.from({ length: 100 }, (_, i) => `e-${i}`).sort());
  assert.equal(host.stats.get('exporter/test/q', 'sent'), 100);
  assert.ok(host.stats.get('exporter/test/q', 'retries') >= 5);
  await q.shutdown();
});

test('failure results are not retried: the batch is counted dropped.export_failed', async () => {
  const host = testHost();
  const sender = new ScriptedSender((call) => (call === 0 ? { status: 'failure', error: 'bad request' } : { status: 'success' }));
  const q = new QueuedExporter(id, host, fast({ numConsumers: 1 }), sender);
  await q.start();
  for (let i = 0; i < 20; i++) q.consume(rec(i));
  await q.flush();
  assert.equal(sender.calls, 2);
  assert.equal(host.stats.get('exporter/test/q', 'dropped.export_failed'), 10);
  assert.equal(host.stats.get('exporter/test/q', 'sent'), 10);
  await q.shutdown();
});

test('drop_oldest evicts the oldest waiting records and counts them', async () => {
  const host = testHost();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const sender = new ScriptedSender();
  const orig = sender.send.bind(sender);
  sender.send = async (b) => { await gate; return orig(b); };
  const q = new QueuedExporter(id, host, fast({ queueSize: 30, numConsumers: 1, onFull: 'drop_oldest' }), sender);
  await q.start();
  for (let i = 0; i < 50; i++) q.consume(rec(i));
  release();
  await q.flush();
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 20);
  // the first batch (0-9) was in flight and kept; 10-29 were evicted for 30-49
  assert.deepEqual(sender.received, [...Array.from({ length: 10 }, (_, i) => `e-${i}`), ...Array.from({ length: 20 }, (_, i) => `e-${30 + i}`)]);
  await q.shutdown();
});

test('block refuses the newest record from consume() and makes offer() wait', async () => {
  const host = testHost();
  const sender = new ScriptedSender();
  const q = new QueuedExporter(id, host, fast({ queueSize: 20, onFull: 'block' }), sender);
  await q.start();
  for (let i = 0; i < 25; i++) q.consume(rec(i));
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 5);
  assert.equal(q.backpressure, true);
  for (let i = 100; i < 300; i++) await q.offer(rec(i));
  await q.flush();
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 5);
  assert.equal(sender.received.length, 220);
  await q.shutdown();
});

test('block tells its listeners when the queue fills and when it has room again; the agent\'s own records still get in', async () => {
  const host = testHost();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const sender = new ScriptedSender();
  sender.send = async (batch) => {
    await gate;
    sender.received.push(...batch.map((b) => b['kite.event_id']));
    return { status: 'success' };
  };
  const q = new QueuedExporter(id, host, fast({ queueSize: 20, onFull: 'block' }), sender);
  const told: boolean[] = [];
  q.onBackpressure((on) => told.push(on));
  await q.start();
  for (let i = 0; i < 19; i++) q.consume(rec(i));
  assert.deepEqual(told, [], 'not full yet');
  q.consume(rec(19));
  assert.deepEqual(told, [true], 'told synchronously by the consume() that filled it');
  q.consume({ ...rec(1000), 'event.name': 'kite.loss' });
  q.consume({ ...rec(1001), 'event.name': 'kite.heartbeat' });
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 0, 'kite.loss and kite.heartbeat are queued even when full');
  release();
  await q.flush();
  assert.deepEqual(told, [true, false]);
  assert.equal(sender.received.length, 22);
  assert.equal(host.stats.get('exporter/test/q', 'backpressure'), 1);
  await q.shutdown();
});

test('drop_oldest never reports backpressure', async () => {
  const host = testHost();
  const q = new QueuedExporter(id, host, fast({ queueSize: 5, onFull: 'drop_oldest', batchTimeoutMs: 1000 }), new ScriptedSender());
  const told: boolean[] = [];
  q.onBackpressure((on) => told.push(on));
  await q.start();
  for (let i = 0; i < 20; i++) q.consume(rec(i));
  assert.deepEqual(told, []);
  await q.shutdown();
});

test('retries give up after max_elapsed_time: dropped.retry_exhausted', async () => {
  const host = testHost();
  const sender = new ScriptedSender(() => ({ status: 'retryable', error: 'down' }));
  const q = new QueuedExporter(id, host, fast({ retry: { ...fast().retry, maxElapsedMs: 30 } }), sender);
  await q.start();
  for (let i = 0; i < 10; i++) q.consume(rec(i));
  await q.flush();
  assert.equal(host.stats.get('exporter/test/q', 'dropped.retry_exhausted'), 10);
  await q.shutdown();
});

test('shutdown waits at most shutdown_timeout; in memory, what is left is dropped.shutdown', async () => {
  const host = testHost();
  const sender = new ScriptedSender(() => ({ status: 'retryable', error: 'down' }));
  const q = new QueuedExporter(id, host, fast({ shutdownTimeoutMs: 50, retry: { ...fast().retry, maxElapsedMs: 0 } }), sender);
  await q.start();
  for (let i = 0; i < 35; i++) q.consume(rec(i));
  const t0 = Date.now();
  await q.shutdown();
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(host.stats.get('exporter/test/q', 'dropped.shutdown'), 35);
  q.consume(rec(99));
  assert.equal(host.stats.get('exporter/test/q', 'dropped.shutdown'), 36);
});

test('persistent queue: records not delivered survive a restart and are delivered once the peer is back', async () => {
  await inQueueDir(async (dir) => {
    const cfg = fast({ directory: dir, shutdownTimeoutMs: 50, retry: { ...fast().retry, maxElapsedMs: 0 } });
    const host1 = testHost();
    const down = new ScriptedSender((call) => (call < 2 ? { status: 'success' } : { status: 'retryable', error: 'down' }));
    const q1 = new QueuedExporter(id, host1, { ...cfg, numConsumers: 1 }, down);
    await q1.start();
    for (let i = 0; i < 100; i++) q1.consume(rec(i));
    await new Promise((r) => setTimeout(r, 30));
    await q1.shutdown();
    assert.equal(down.received.length, 20);
    assert.equal(host1.stats.get('exporter/test/q', 'dropped.shutdown'), 0);

    const host2 = testHost();
    const up = new ScriptedSender();
    const q2 = new QueuedExporter(id, host2, cfg, up);
    await q2.start();
    assert.equal(host2.stats.get('exporter/test/q', 'recovered'), 80);
    await q2.flush();
    await q2.shutdown();
    const all = new Set([...down.received, ...up.received]);
    assert.equal(all.size, 100);

    const q3 = new QueuedExporter(id, testHost(), cfg, new ScriptedSender());
    await q3.start();
    assert.equal(q3.size, 0, 'delivered records are not sent again');
    await q3.shutdown();
  });
});

test('persistent queue is bounded by max_bytes', async () => {
  await inQueueDir(async (dir) => {
    const host = testHost();
    const sender = new ScriptedSender(() => ({ status: 'retryable', error: 'down' }));
    const q = new QueuedExporter(id, host, fast({ directory: dir, maxBytes: 1 << 20, onFull: 'drop_oldest', queueSize: 1_000_000, shutdownTimeoutMs: 10, retry: { ...fast().retry, maxElapsedMs: 0 } }), sender);
    await q.start();
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 3000; i++) q.consume({ ...rec(i), pad: big });
    assert.ok(host.stats.get('exporter/test/q', 'dropped.queue_full') > 1900);
    await q.shutdown();
  });
});

/** Prepares each record as its id in capitals; refuses records marked `bad`. */
class PreparingSender implements Sender<string> {
  prepared = 0;
  received: string[] = [];
  calls = 0;
  constructor(private readonly script: (call: number) => SendResult = () => ({ status: 'success' })) {}
  async start(): Promise<void> {}
  prepare(r: KiteRecord): string {
    if (r.bad) throw new Error('cannot encode');
    this.prepared++;
    return String(r['kite.event_id']).toUpperCase();
  }
  async send(batch: string[]): Promise<SendResult> {
    const r = this.script(this.calls++);
    if (r.status === 'success') this.received.push(...batch);
    await new Promise((resolve) => setImmediate(resolve));
    return r;
  }
  async shutdown(): Promise<void> {}
}

test('a sender that prepares records: each is prepared once as it is accepted, its retries send the same items', async () => {
  const host = testHost();
  const sender = new PreparingSender((call) => (call < 3 ? { status: 'retryable', error: 'peer down' } : { status: 'success' }));
  const q = new QueuedExporter(id, host, fast(), sender);
  await q.start();
  for (let i = 0; i < 50; i++) q.consume(rec(i));
  assert.equal(sender.prepared, 50, 'prepared on consume, before any send');
  await q.flush();
  assert.equal(sender.prepared, 50, 'retries reuse what was prepared');
  assert.deepEqual([...sender.received].sort(), Array.from({ length: 50 }, (_, i) => `E-${i}`).sort());
  assert.ok(host.stats.get('exporter/test/q', 'retries') >= 3);
  await q.shutdown();
});

test('a record its sender cannot prepare is dropped and counted dropped.encode_failed; it evicts nothing', async () => {
  const host = testHost();
  const sender = new PreparingSender();
  // records wait (a batch of 10 lingers for a second): a full queue of 5 has records drop_oldest could evict
  const q = new QueuedExporter(id, host, fast({ queueSize: 5, batchSize: 10, batchTimeoutMs: 1000, onFull: 'drop_oldest' }), sender);
  await q.start();
  for (let i = 0; i < 5; i++) q.consume(rec(i));
  q.consume({ ...rec(5), bad: true });
  q.consume({ ...rec(6), bad: true });
  assert.equal(host.stats.get('exporter/test/q', 'dropped.encode_failed'), 2);
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 0, 'a full queue made no room for a record it could not take');
  assert.equal(sender.prepared, 5);
  q.consume(rec(7)); // one it can take: the oldest makes room
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 1);
  await q.flush();
  assert.deepEqual(sender.received, ['E-1', 'E-2', 'E-3', 'E-4', 'E-7']);
  await q.shutdown();
});

test('block, full: an ordinary record is refused before it is prepared; the agent\'s kite.loss is prepared and queued', async () => {
  const host = testHost();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const sender = new PreparingSender();
  const orig = sender.send.bind(sender);
  sender.send = async (b) => { await gate; return orig(b); };
  const q = new QueuedExporter(id, host, fast({ queueSize: 5, batchSize: 10, numConsumers: 1, onFull: 'block' }), sender);
  await q.start();
  for (let i = 0; i < 5; i++) q.consume(rec(i));
  q.consume(rec(5));
  assert.equal(host.stats.get('exporter/test/q', 'dropped.queue_full'), 1);
  assert.equal(sender.prepared, 5, 'the refused record was not prepared');
  q.consume({ ...rec(6), 'event.name': 'kite.loss' });
  assert.equal(sender.prepared, 6);
  release();
  await q.flush();
  assert.deepEqual([...sender.received].sort(), ['E-0', 'E-1', 'E-2', 'E-3', 'E-4', 'E-6']);
  await q.shutdown();
});

test('persistent queue: a recovered record its sender cannot prepare is counted dropped.encode_failed and not read back again', async () => {
  await inQueueDir(async (dir) => {
    const cfg = fast({ directory: dir, shutdownTimeoutMs: 20, retry: { ...fast().retry, maxElapsedMs: 0 } });
    // a sender of records as they are queues the bad ones too
    const q1 = new QueuedExporter(id, testHost(), cfg, new ScriptedSender(() => ({ status: 'retryable', error: 'down' })));
    await q1.start();
    for (let i = 0; i < 10; i++) q1.consume(i % 3 === 0 ? { ...rec(i), bad: true } : rec(i));
    await q1.shutdown();
    const host2 = testHost();
    const up = new PreparingSender();
    const q2 = new QueuedExporter(id, host2, cfg, up);
    await q2.start();
    assert.equal(host2.stats.get('exporter/test/q', 'dropped.encode_failed'), 4);
    assert.equal(host2.stats.get('exporter/test/q', 'recovered'), 6);
    await q2.flush();
    await q2.shutdown();
    assert.deepEqual([...up.received].sort(), ['E-1', 'E-2', 'E-4', 'E-5', 'E-7', 'E-8']);
    const q3 = new QueuedExporter(id, testHost(), cfg, new PreparingSender());
    await q3.start();
    assert.equal(q3.size, 0, 'neither the delivered records nor the unpreparable ones come back');
    await q3.shutdown();
  });
});

test('persistent queue: records read back at start-up are prepared, then delivered', async () => {
  await inQueueDir(async (dir) => {
    const cfg = fast({ directory: dir, shutdownTimeoutMs: 20, retry: { ...fast().retry, maxElapsedMs: 0 } });
    const q1 = new QueuedExporter(id, testHost(), cfg, new PreparingSender(() => ({ status: 'retryable', error: 'down' })));
    await q1.start();
    for (let i = 0; i < 30; i++) q1.consume(rec(i));
    await q1.shutdown();
    const up = new PreparingSender();
    const q2 = new QueuedExporter(id, testHost(), cfg, up);
    await q2.start();
    assert.equal(up.prepared, 30);
    await q2.flush();
    await q2.shutdown();
    assert.deepEqual([...up.received].sort(), Array.from({ length: 30 }, (_, i) => `E-${i}`).sort());
  });
});

test('backoff grows exponentially, is capped, jittered, and honours Retry-After', () => {
  const cfg = { enabled: true, initialIntervalMs: 100, maxIntervalMs: 1000, multiplier: 2, randomizationFactor: 0.5, maxElapsedMs: 0 };
  assert.equal(backoffMs(cfg, 0, 0, () => 0.5), 100);
  assert.equal(backoffMs(cfg, 3, 0, () => 0.5), 800);
  assert.equal(backoffMs(cfg, 10, 0, () => 0.5), 1000);
  assert.equal(backoffMs(cfg, 0, 0, () => 0), 50);
  assert.equal(backoffMs(cfg, 0, 0, () => 1), 150);
  assert.equal(backoffMs(cfg, 0, 5000, () => 0.5), 5000);
});
