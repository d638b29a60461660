/**
 * otlp_http into a real Grafana Loki's native OTLP endpoint (/otlp/v1/logs), read back with LogQL:
 * every record arrives as one log line with the resource's service.name as a stream label and the
 * record's attributes as structured metadata, in the tenant named by the exporter's configured
 * X-Scope-OrgID header (Loki runs multi-tenant and refuses a push without one).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { bodyOf } from '../../src/exporters/schemas/otel';
import { makeRecords } from '../helpers/events';
import { createExporter, sendThrough } from '../helpers/exporters';
import { testHost } from '../helpers/host';
import { Loki, LokiEntry, waitFor } from '../helpers/peers';

const work = mkdtempSync(join(tmpdir(), 'kite-loki-'));
const loki = new Loki(join(work, 'loki'));

before(async () => {
  await loki.start();
});

after(async () => {
  await loki.stop();
  rmSync(work, { recursive: true, force: true });
});

test('otlp_http -> Loki OTLP: every record queried back with its body, labels and structured metadata', async () => {
  const host = testHost();
  const service = `kite-loki-${randomUUID().slice(0, 8)}`;
  const run = `loki-${randomUUID().slice(0, 8)}`;
  const n = 500;
  const now = Date.now() - 60_000;
  // recent times: Loki refuses lines older than its ingestion window
  const records: KiteRecord[] = makeRecords(run, n).map((r, i) => ({ ...r, time: new Date(now + i).toISOString() }));
  const tenant = `tenant-${randomUUID().slice(0, 8)}`;
  const exp = createExporter<QueuedExporter>('otlp_http/loki', { endpoint: `${loki.endpoint}/otlp`, service_name: service, headers: { 'X-Scope-OrgID': tenant }, sending_queue: { batch_size: 100 } }, host);
  await exp.start();
  for (const r of records) await exp.offer(r);
  await exp.flush();
  await exp.shutdown();
  assert.equal(host.stats.get('exporter/otlp_http/loki', 'sent'), n);

  const got = await waitFor(`${n} lines in Loki`, async () => {
    const lines = await loki.query(tenant, `{service_name="${service}"}`);
    return lines.length >= n ? lines : undefined;
  }, 30_000, 500);
  const byId = new Map<string, LokiEntry>(got.map((e) => [e.labels.kite_event_id ?? '', e]));
  assert.equal(byId.size, n, 'every record once, by its kite.event_id');
  for (const r of records) {
    const e = byId.get(r['kite.event_id']);
    assert.ok(e, `${r['kite.event_id']} arrived`);
    assert.equal(e.line, bodyOf(r), 'the body is the log line');
    assert.equal(e.labels.service_name, service);
    assert.equal(String(BigInt(e.timeNanos) / 1_000_000n), String(Date.parse(r.time)), 'the record time is the line time');
    assert.equal(e.labels.process_pid, String(r['process.pid']), 'attributes are structured metadata');
  }
  const exec = byId.get(`${run}-0`)!;
  assert.equal(exec.labels.process_executable_name, 'curl');
  assert.equal(exec.labels.kite_process_exec_id, records[0]!['kite.process.exec_id']);
  // LogQL filters on the structured metadata the exporter wrote
  const dns = await loki.query(tenant, `{service_name="${service}"} | dns_question_type="A"`);
  assert.equal(dns.length, n / 5);
  // the header chose the tenant: another tenant has none of it
  assert.equal((await loki.query('another-tenant', `{service_name="${service}"}`)).length, 0);
});

test('otlp_http -> Loki without the tenant header: refused (401), not retried, counted as export_failed', async () => {
  const records = makeRecords(`notenant-${randomUUID().slice(0, 8)}`, 20).map((r) => ({ ...r, time: new Date().toISOString() }));
  const { stats, error } = await sendThrough('otlp_http/notenant', { endpoint: `${loki.endpoint}/otlp` }, records, 'delivered');
  assert.equal(stats.sent ?? 0, 0, JSON.stringify(stats));
  assert.equal(stats['dropped.export_failed'], 20, JSON.stringify(stats));
  assert.equal(stats.retries ?? 0, 0, JSON.stringify(stats));
  assert.match(error, /401/, 'refused for want of a tenant');
});
