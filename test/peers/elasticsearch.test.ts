/**
 * The elasticsearch exporter against a real OpenSearch node (the `_bulk` API): every record indexed
 * and searched back field by field, into an index and a data stream; a document the cluster rejects
 * is counted and the rest go through; the node stopped and started mid-stream: nothing missing,
 * nothing stored twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { makeRecord, makeRecords } from '../helpers/events';
import { createExporter, streamAcrossRestart } from '../helpers/exporters';
import { testHost } from '../helpers/host';
import { OpenSearch } from '../helpers/peers';

const work = mkdtempSync(join(tmpdir(), 'kite-opensearch-'));
const os = new OpenSearch(join(work, 'node'));

before(async () => {
  await os.start();
});

after(async () => {
  await os.stop();
  rmSync(work, { recursive: true, force: true });
});

test('elasticsearch: every record is indexed once as an ECS document, into an index and a data stream', async () => {
  await os.request('PUT', '/_index_template/kite-logs', { index_patterns: ['logs-kite-*'], data_stream: {}, priority: 200 });
  const host = testHost();
  const idx = createExporter<QueuedExporter>('elasticsearch/idx', { endpoint: os.endpoint, index: 'kite-{event.kind}', mode: 'index' }, host);
  const ds = createExporter<QueuedExporter>('elasticsearch/ds', { endpoint: os.endpoint, index: 'logs-kite-test' }, host);
  await idx.start();
  await ds.start();
  const n = 2000;
  for (const r of makeRecords('es', n)) {
    await idx.offer(r);
    await ds.offer(r);
  }
  await Promise.all([idx.flush(), ds.flush()]);
  await Promise.all([idx.shutdown(), ds.shutdown()]);
  assert.equal(host.stats.get('exporter/elasticsearch/idx', 'sent'), n);
  assert.equal(host.stats.get('exporter/elasticsearch/ds', 'sent'), n);

  const streamDocs = await os.documents('logs-kite-test');
  assert.equal(streamDocs.length, n);
  assert.equal(new Set(streamDocs.map((d) => d.event.id)).size, n);
  const proc = await os.documents('kite-process');
  assert.equal(proc.length, (2 * n) / 5);
  const exec = proc.find((d) => d._id === 'es-0');
  assert.equal(exec.event.id, 'es-0');
  assert.deepEqual(exec.event.category, ['process']);
  assert.deepEqual(exec.event.type, ['start']);
  assert.equal(exec.process.pid, 1000);
  assert.equal(exec.process.command_line, 'curl -s https://example.test/0');
  assert.equal(exec['@timestamp'], makeRecord('es', 0).time);
  const net = (await os.documents('kite-network')).find((d) => d._id === 'es-3');
  assert.equal(net.destination.ip, '192.0.2.10');
  assert.equal(net.destination.port, 443);
  const dns = (await os.documents('kite-dns')).find((d) => d._id === 'es-4');
  assert.equal(dns.dns.question.name, 'host4.example.test');
});

test('elasticsearch: a document the cluster rejects is counted dropped.rejected; the rest are indexed', async () => {
  // file.path mapped as a number: every file.open document fails with a mapping error (400)
  await os.request('PUT', '/kite-strict', { mappings: { properties: { file: { properties: { path: { type: 'long' } } } } } });
  const host = testHost();
  const exp = createExporter<QueuedExporter>('elasticsearch/strict', { endpoint: os.endpoint, index: 'kite-strict', mode: 'index' }, host);
  await exp.start();
  for (const r of makeRecords('st', 100)) exp.consume(r);
  await exp.flush();
  await exp.shutdown();
  assert.equal(host.stats.get('exporter/elasticsearch/strict', 'dropped.rejected'), 20);
  assert.equal(host.stats.get('exporter/elasticsearch/strict', 'sent'), 80);
  const docs = await os.documents('kite-strict');
  assert.equal(docs.length, 80);
  assert.ok(docs.every((d) => !d.event.action.startsWith('file.')));
});

test('elasticsearch: the node stopped mid-stream and started again: every record indexed, none twice', async () => {
  const n = 4000;
  await streamAcrossRestart('elasticsearch/restart', {
    endpoint: os.endpoint,
    index: 'kite-restart',
    mode: 'index',
    timeout: '5s',
    retry_on_failure: { initial_interval: '200ms', max_interval: '2s', max_elapsed_time: 0 },
  }, os, 'rs', n);
  const docs = await os.documents('kite-restart');
  const ids = new Set(docs.map((d) => d.event.id));
  assert.equal(docs.length, n, 'no document stored twice');
  assert.deepEqual(Array.from({ length: n }, (_, k) => `rs-${k}`).filter((id) => !ids.has(id)), []);
});
