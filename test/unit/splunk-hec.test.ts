/**
 * The splunk_hec exporter's wire format and error handling, against a minimal HEC endpoint on
 * 127.0.0.1 in this test: the token header, gzip, the event objects, and what a real receiver cannot
 * be made to answer on demand, a 503 retried and a 403 not retried (test/peers/splunk-hec.test.ts
 * sends to the collector's splunk_hec receiver).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { makeRecords } from '../helpers/events';
import { createExporter } from '../helpers/exporters';
import { testHost } from '../helpers/host';

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}

test('splunk_hec: events carry the token, time, host, source, sourcetype and the ECS body; 503 is retried, 403 is not', async () => {
  const events: Record<string, any>[] = [];
  let calls = 0;
  let status403 = false;
  const server = createServer(async (req, res) => {
    calls++;
    const text = await body(req);
    if (req.headers.authorization !== 'Splunk s3cret') return res.writeHead(401).end('{"text":"Invalid token","code":4}');
    if (status403) return res.writeHead(403).end('{"text":"Token disabled","code":1}');
    if (calls === 1) return res.writeHead(503, { 'retry-after': '0' }).end('{"text":"Server is busy","code":9}');
    for (const line of text.split('\n')) events.push(JSON.parse(line));
    res.writeHead(200).end('{"text":"Success","code":0}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  process.env.KITE_TEST_HEC_TOKEN = 's3cret';
  try {
    const host = testHost();
    const exp = createExporter<QueuedExporter>('splunk_hec/t', {
      endpoint: `http://127.0.0.1:${port}/services/collector/event`,
      token_env: 'KITE_TEST_HEC_TOKEN',
      index: 'security',
      retry_on_failure: { initial_interval: '10ms' },
    }, host);
    await exp.start();
    for (const r of makeRecords('hec', 100)) exp.consume(r);
    await exp.flush();
    assert.equal(host.stats.get('exporter/splunk_hec/t', 'sent'), 100);
    assert.ok(host.stats.get('exporter/splunk_hec/t', 'retries') >= 1);
    assert.equal(events.length, 100);
    const e = events[0]!;
    assert.equal(e.time, Date.UTC(2026, 0, 1) / 1000);
    assert.equal(e.host, 'test-host');
    assert.equal(e.source, 'kite');
    assert.equal(e.sourcetype, 'kite:ecs');
    assert.equal(e.index, 'security');
    assert.equal(e.fields['kite.event_id'], 'hec-0');
    assert.equal(e.event.process.pid, 1000);
    assert.deepEqual(e.event.event.category, ['process']);

    status403 = true;
    for (const r of makeRecords('hec2', 10)) exp.consume(r);
    await exp.flush();
    assert.equal(host.stats.get('exporter/splunk_hec/t', 'dropped.export_failed'), 10);
    await exp.shutdown();
    assert.ok(!JSON.stringify(host.logs).includes('s3cret'), 'the token is never logged');
  } finally {
    delete process.env.KITE_TEST_HEC_TOKEN;
    server.close();
  }
});
