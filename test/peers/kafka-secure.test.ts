/**
 * The kafka exporter's TLS and SASL against a real broker with secure listeners: mutual TLS (the
 * broker requires a client certificate signed by the test CA), and SASL PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512 over TLS. Records are read back over the broker's plaintext listener. A client the
 * broker or the agent must refuse (no client certificate, a server certificate from another CA, a
 * wrong password) delivers nothing, and says why.
 */
// the kafka exporter's kafkajs replacements go in before this file's own Kafka client loads kafkajs,
// as in the agent, where the exporter is the first to load it
import '../../src/exporters/kafka/kafkajs-patches';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ecsEventId, makeRecords } from '../helpers/events';
import { FAST_RETRY, sendThrough } from '../helpers/exporters';
import { KafkaBroker } from '../helpers/peers';
import { tempDir } from '../helpers/tmp';
import { makeTls, TlsFiles } from '../helpers/tls';

const work = tempDir('kafka-secure');
const tls: TlsFiles = makeTls(work);
const users = { plain: { kite: 'plain-s3cret' }, scram: { kite: 'scram-s3cret' } };
const broker = new KafkaBroker(join(work, 'broker'), 'light', { tls, plainUsers: users.plain, scramUsers: users.scram });
const quick = { timeout: '2s', ...FAST_RETRY };
const send = (key: string, settings: Record<string, unknown>, run: string, n: number, expect: 'delivered' | 'retried' = 'delivered') =>
  sendThrough(key, { ...quick, ...settings }, makeRecords(run, n), expect);

before(async () => {
  await broker.start();
});

after(async () => {
  await broker.stop();
});

async function assertDelivered(topic: string, run: string, n: number): Promise<void> {
  const got = new Set((await broker.readTopic(topic, n, 60_000, (m) => ecsEventId(m.value))).map((m) => ecsEventId(m.value)));
  const missing = Array.from({ length: n }, (_, k) => `${run}-${k}`).filter((id) => !got.has(id));
  assert.deepEqual(missing, []);
}

test('kafka over mutual TLS: the agent trusts the broker by the CA file and shows its client certificate', { timeout: 180_000 }, async () => {
  const { stats } = await send('kafka/mtls', { brokers: [broker.sslBootstrap], topic: 'kite-mtls', tls: { enabled: true, ca_file: tls.ca, cert_file: tls.clientCert, key_file: tls.clientKey } }, 'mtls', 500);
  assert.equal(stats.sent, 500, JSON.stringify(stats));
  await assertDelivered('kite-mtls', 'mtls', 500);
});

test('kafka over TLS: without a client certificate, or trusting another CA, nothing is sent and the batches wait', { timeout: 180_000 }, async () => {
  for (const [name, tlsSettings, reason] of [
    // the broker ends the handshake (TLS 1.3: after the client's side of it)
    ['nocert', { enabled: true, ca_file: tls.ca }, /.+/],
    // the agent refuses the broker's certificate
    ['otherca', { enabled: true, ca_file: tls.otherCa, cert_file: tls.clientCert, key_file: tls.clientKey }, /certificate/i],
  ] as const) {
    const { stats, error } = await send(`kafka/${name}`, { brokers: [broker.sslBootstrap], topic: `kite-${name}`, tls: tlsSettings }, name, 50, 'retried');
    assert.equal(stats.sent ?? 0, 0, `${name}: ${JSON.stringify(stats)}`);
    // a handshake failure is retried (the broker may be mid-rotation of its certificate); shutdown
    // counts what was left
    assert.equal(stats['dropped.shutdown'], 50, `${name}: ${JSON.stringify(stats)}`);
    // refused by TLS, not by a listener that is not there
    assert.match(error, reason, name);
    assert.doesNotMatch(error, /ECONNREFUSED/, name);
  }
});

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
  test(`kafka over SASL_SSL with ${mechanism}: the password from a file or the environment`, { timeout: 180_000 }, async () => {
    const password = mechanism === 'plain' ? users.plain.kite : users.scram.kite;
    const file = join(work, `${mechanism}.password`);
    writeFileSync(file, `${password}\n`);
    const fromEnv = mechanism !== 'plain';
    if (fromEnv) process.env.KITE_TEST_KAFKA_PASSWORD = password;
    const run = mechanism.replace(/-/g, '');
    const topic = `kite-sasl-${run}`;
    const sasl = { mechanism, username: 'kite', ...(fromEnv ? { password_env: 'KITE_TEST_KAFKA_PASSWORD' } : { password_file: file }) };
    const { stats } = await send(`kafka/${run}`, { brokers: [broker.saslSslBootstrap], topic, tls: { enabled: true, ca_file: tls.ca }, sasl }, run, 500).finally(() => delete process.env.KITE_TEST_KAFKA_PASSWORD);
    assert.equal(stats.sent, 500, JSON.stringify(stats));
    await assertDelivered(topic, run, 500);
  });
}

test('kafka over SASL_SSL with a wrong password: every batch dropped as export_failed, not retried', { timeout: 180_000 }, async () => {
  process.env.KITE_TEST_KAFKA_PASSWORD = 'not-the-password';
  const { stats, logs } = await send('kafka/badpw', { brokers: [broker.saslSslBootstrap], topic: 'kite-badpw', tls: { enabled: true, ca_file: tls.ca }, sasl: { mechanism: 'scram-sha-512', username: 'kite', password_env: 'KITE_TEST_KAFKA_PASSWORD' }, sending_queue: { batch_size: 10 } }, 'badpw', 50).finally(() => delete process.env.KITE_TEST_KAFKA_PASSWORD);
  assert.equal(stats.sent ?? 0, 0, JSON.stringify(stats));
  assert.equal(stats['dropped.export_failed'], 50, JSON.stringify(stats));
  assert.equal(stats.retries ?? 0, 0, JSON.stringify(stats));
  // the warning says why, and never carries the password
  const dropped = logs.filter((l) => l.msg === 'export failed, batch dropped');
  assert.ok(dropped.length > 0 && dropped.every((l) => /SCRAM SHA-?512 authentication failed: .*invalid credentials/i.test(String(l.error))), JSON.stringify(logs.slice(0, 5)));
  assert.ok(!JSON.stringify(logs).includes('not-the-password'));
});
