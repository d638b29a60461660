/**
 * The splunk_hec exporter against a real HTTP Event Collector endpoint: the OpenTelemetry Collector's
 * splunk_hec receiver, its token checked (`Authorization: Splunk <token>`), every event written to the
 * collector's file and read back field by field; a wrong token is refused (401) and not retried; the
 * collector stopped and started mid-stream: every record arrives.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { makeRecord, makeRecords } from '../helpers/events';
import { FAST_RETRY, sendThrough, streamAcrossRestart } from '../helpers/exporters';
import { CollectedLog, Collector, waitFor } from '../helpers/peers';
import { tempDir } from '../helpers/tmp';
import { makeTls } from '../helpers/tls';

const work = tempDir('hec');
const token = `hec-token-${process.pid}`;
const collector = new Collector(join(work, 'out'), { tls: makeTls(work), token });

before(async () => {
  await collector.start();
});

after(async () => {
  await collector.stop();
});

const hecId = (l: CollectedLog): string => String(l.attributes['kite.event_id'] ?? '');

async function collected(prefix: string, n: number): Promise<Map<string, CollectedLog>> {
  const byId = (): Map<string, CollectedLog> => new Map(collector.records().filter((l) => hecId(l).startsWith(`${prefix}-`)).map((l) => [hecId(l), l]));
  return waitFor(`${n} ${prefix} events at the collector`, () => {
    const m = byId();
    return m.size >= n ? m : undefined;
  }, 30_000, 200).catch(() => byId());
}

test('splunk_hec -> a real HEC endpoint: every event with its time, host, source, sourcetype, index, fields and ECS body', { timeout: 120_000 }, async () => {
  process.env.KITE_TEST_HEC_TOKEN = token;
  const n = 500;
  const { stats } = await sendThrough('splunk_hec/t', { endpoint: collector.hecEndpoint, token_env: 'KITE_TEST_HEC_TOKEN', index: 'security' }, makeRecords('hec', n), 'delivered')
    .finally(() => delete process.env.KITE_TEST_HEC_TOKEN);
  assert.equal(stats.sent, n, JSON.stringify(stats));
  const got = await collected('hec', n);
  assert.equal(got.size, n);
  const e = got.get('hec-0')!;
  const r: KiteRecord = makeRecord('hec', 0);
  assert.equal(e.timeUnixNano, String(BigInt(Date.parse(r.time)) * 1_000_000n), 'the record time is the event time');
  assert.equal(e.resource['host.name'], 'test-host');
  assert.equal(e.resource['com.splunk.source'], 'kite');
  assert.equal(e.resource['com.splunk.sourcetype'], 'kite:ecs');
  assert.equal(e.resource['com.splunk.index'], 'security');
  assert.equal(e.attributes['event.name'], 'process.exec');
  const body = e.body as { process: { pid: number; executable: string }; event: { category: string[] } };
  assert.equal(body.process.pid, 1000);
  assert.equal(body.process.executable, '/usr/bin/curl');
  assert.deepEqual(body.event.category, ['process']);
});

test('splunk_hec with a wrong token: refused (401), every batch dropped as export_failed, not retried', { timeout: 60_000 }, async () => {
  process.env.KITE_TEST_HEC_TOKEN = 'not-the-token';
  const { stats, error, logs } = await sendThrough('splunk_hec/bad', { endpoint: collector.hecEndpoint, token_env: 'KITE_TEST_HEC_TOKEN' }, makeRecords('hecbad', 20), 'delivered')
    .finally(() => delete process.env.KITE_TEST_HEC_TOKEN);
  assert.equal(stats.sent ?? 0, 0, JSON.stringify(stats));
  assert.equal(stats['dropped.export_failed'], 20, JSON.stringify(stats));
  assert.equal(stats.retries ?? 0, 0, JSON.stringify(stats));
  assert.match(error, /401/);
  assert.ok(!JSON.stringify(logs).includes('not-the-token'), 'the token is never logged');
  assert.equal((await collected('hecbad', 1)).size, 0);
});

test('splunk_hec: the collector stopped mid-stream and started again: every record arrives', { timeout: 180_000 }, async () => {
  const n = 6000;
  process.env.KITE_TEST_HEC_TOKEN = token;
  // the exporter reads the token at its start, before the first record
  await streamAcrossRestart('splunk_hec/restart', { endpoint: collector.hecEndpoint, token_env: 'KITE_TEST_HEC_TOKEN', timeout: '2s', ...FAST_RETRY }, {
    stop: () => {
      delete process.env.KITE_TEST_HEC_TOKEN;
      return collector.stop();
    },
    start: () => collector.start(),
  }, 'hecrs', n).finally(() => delete process.env.KITE_TEST_HEC_TOKEN);
  const got = await collected('hecrs', n);
  const missing = Array.from({ length: n }, (_, k) => `hecrs-${k}`).filter((id) => !got.has(id));
  assert.deepEqual(missing, []);
});
