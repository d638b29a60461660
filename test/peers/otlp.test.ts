/**
 * The otlp (gRPC) and otlp_http exporters against a real OpenTelemetry Collector whose file exporter
 * writes what arrived: every record read back field by field; over mutual TLS (the collector requires a
 * client certificate signed by the test CA); with a bearer token, from the settings' headers or from a
 * file (the collector requires it); the collector stopped and started mid-stream: nothing missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { makeRecord, makeRecords } from '../helpers/events';
import { createExporter, FAST_RETRY, sendThrough, streamAcrossRestart } from '../helpers/exporters';
import { testHost } from '../helpers/host';
import { CollectedLog, Collector, waitFor } from '../helpers/peers';
import { makeTls } from '../helpers/tls';

const work = mkdtempSync(join(tmpdir(), 'kite-otelcol-'));
const tls = makeTls(work);
const token = `token-${process.pid}`;
const collector = new Collector(join(work, 'out'), { tls, token });

before(async () => {
  await collector.start();
});

after(async () => {
  await collector.stop();
  rmSync(work, { recursive: true, force: true });
});

const byId = (logs: CollectedLog[], prefix: string): Map<string, CollectedLog> =>
  new Map(logs.filter((l) => String(l.attributes['kite.event_id']).startsWith(`${prefix}-`)).map((l) => [String(l.attributes['kite.event_id']), l]));

async function collected(prefix: string, n: number): Promise<Map<string, CollectedLog>> {
  return waitFor(`${n} ${prefix} records at the collector`, () => {
    const m = byId(collector.records(), prefix);
    return m.size >= n ? m : undefined;
  }, 30_000, 200);
}

for (const [type, run] of [['otlp', 'grpc'], ['otlp_http', 'http']] as const) {
  test(`${type}: every record arrives as a log record with resource, event name, severity, body and attributes`, async () => {
    const host = testHost();
    const endpoint = type === 'otlp' ? collector.grpcEndpoint : collector.httpEndpoint;
    const exp = createExporter<QueuedExporter>(`${type}/t`, { endpoint, headers: { 'x-kite-test': '1' } }, host);
    await exp.start();
    const n = 2000;
    for (const r of makeRecords(run, n)) await exp.offer(r);
    await exp.flush();
    await exp.shutdown();
    assert.equal(host.stats.get(`exporter/${type}/t`, 'sent'), n);
    const got = await collected(run, n);
    assert.equal(got.size, n);

    const exec = got.get(`${run}-0`)!;
    assert.equal(exec.resource['service.name'], 'kite');
    assert.equal(exec.resource['service.version'], '0.1.0');
    assert.equal(exec.resource['os.type'], 'linux');
    assert.ok(exec.resource['os.version']);
    assert.ok(exec.resource['host.name']);
    assert.ok(exec.resource['host.arch']);
    assert.equal(exec.scope.name, 'kite');
    assert.equal(exec.eventName, 'process.exec');
    assert.equal(exec.severityNumber, 9);
    assert.equal(exec.severityText, 'INFO');
    assert.equal(exec.body, 'exec pid 1000: curl -s https://example.test/0');
    const rec = makeRecord(run, 0);
    assert.equal(rec.time, '2026-01-01T00:00:00.000123456Z');
    assert.equal(exec.timeUnixNano, '1767225600000123456', 'nanoseconds kept');
    assert.equal(exec.attributes['process.pid'], 1000);
    assert.equal(exec.attributes['process.command_line'], 'curl -s https://example.test/0');
    assert.deepEqual(exec.attributes['process.command_args'], ['curl', '-s', 'https://example.test/0']);
    assert.equal(exec.attributes['kite.seq'], 1);
    assert.equal(exec.attributes['event.name'], undefined);
    const net = got.get(`${run}-3`)!;
    assert.equal(net.eventName, 'network.connect');
    assert.equal(net.attributes['destination.address'], '192.0.2.10');
    assert.equal(net.attributes['destination.port'], 443);
    const dns = got.get(`${run}-4`)!;
    assert.equal(dns.attributes['dns.question.name'], 'host4.example.test');
  });
}

for (const [type, run] of [['otlp', 'mtlsgrpc'], ['otlp_http', 'mtlshttp']] as const) {
  const endpoint = (): string => (type === 'otlp' ? collector.tlsGrpcEndpoint : collector.tlsHttpEndpoint);

  test(`${type} over mutual TLS: the CA file checks the collector, the client certificate is shown to it`, { timeout: 120_000 }, async () => {
    // gRPC: TLS turned on by the setting; HTTP: by the https:// endpoint alone
    const tlsSettings = { ...(type === 'otlp' ? { enabled: true } : {}), ca_file: tls.ca, cert_file: tls.clientCert, key_file: tls.clientKey };
    const { stats } = await sendThrough(`${type}/mtls`, { endpoint: endpoint(), tls: tlsSettings }, makeRecords(run, 300), 'delivered');
    assert.equal(stats.sent, 300, JSON.stringify(stats));
    assert.equal((await collected(run, 300)).size, 300);
  });

  test(`${type} over TLS: without a client certificate, or trusting another CA, nothing is sent and the batches wait`, { timeout: 120_000 }, async () => {
    for (const [name, tlsSettings, reason] of [
      // the collector ends the handshake (TLS 1.3: after the client's side of it)
      ['nocert', { enabled: true, ca_file: tls.ca }, /.+/],
      // the agent refuses the collector's certificate
      ['otherca', { enabled: true, ca_file: tls.otherCa, cert_file: tls.clientCert, key_file: tls.clientKey }, /certificate/i],
    ] as const) {
      const key = `${type}/${name}`;
      const { stats, error } = await sendThrough(key, { endpoint: endpoint(), tls: tlsSettings, timeout: '2s', ...FAST_RETRY }, makeRecords(`${run}${name}`, 50), 'retried');
      assert.equal(stats.sent ?? 0, 0, `${key}: ${JSON.stringify(stats)}`);
      assert.equal(stats['dropped.shutdown'], 50, `${key}: ${JSON.stringify(stats)}`);
      assert.equal(byId(collector.records(), `${run}${name}`).size, 0);
      // refused by TLS, not by a receiver that is not there
      assert.match(error, reason, key);
      assert.doesNotMatch(error, /ECONNREFUSED/, key);
    }
  });
}

for (const [type, run] of [['otlp', 'authgrpc'], ['otlp_http', 'authhttp']] as const) {
  test(`${type} with a bearer token: from headers or from a file it is accepted; a wrong one is refused, not retried`, { timeout: 120_000 }, async () => {
    const endpoint = type === 'otlp' ? collector.authGrpcEndpoint : collector.authHttpEndpoint;
    const file = join(work, 'token');
    writeFileSync(file, `${token}\n`);
    const cases = [
      ['header', { headers: { authorization: `Bearer ${token}` } }, true],
      ['file', { bearer_token_file: file }, true],
      ['wrong', { headers: { authorization: 'Bearer not-the-token' } }, false],
    ] as const;
    for (const [name, settings, accepted] of cases) {
      const key = `${type}/${name}`;
      const { stats, error } = await sendThrough(key, { endpoint, ...settings }, makeRecords(`${run}${name}`, 100), 'delivered');
      if (accepted) {
        assert.equal(stats.sent, 100, `${key}: ${JSON.stringify(stats)}`);
        assert.equal((await collected(`${run}${name}`, 100)).size, 100);
      } else {
        // Unauthenticated (gRPC 16, HTTP 401): the credentials will not get better by retrying
        assert.equal(stats.sent ?? 0, 0, `${key}: ${JSON.stringify(stats)}`);
        assert.equal(stats['dropped.export_failed'], 100, `${key}: ${JSON.stringify(stats)}`);
        assert.equal(stats.retries ?? 0, 0, `${key}: ${JSON.stringify(stats)}`);
        assert.match(error, /unauthenticated|401/i, key);
      }
    }
  });
}

test('otlp: the collector stopped mid-stream and started again: every record arrives', async () => {
  const n = 6000;
  await streamAcrossRestart('otlp/restart', {
    endpoint: collector.grpcEndpoint,
    timeout: '2s',
    retry_on_failure: { initial_interval: '100ms', max_interval: '1s', max_elapsed_time: 0 },
  }, collector, 'rs', n);
  const got = await collected('rs', n).catch(() => byId(collector.records(), 'rs'));
  const missing = Array.from({ length: n }, (_, k) => `rs-${k}`).filter((id) => !got.has(id));
  assert.deepEqual(missing, []);
});
