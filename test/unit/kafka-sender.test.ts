/**
 * The kafka exporter's sender without a broker: what the queue keeps of a record (its message, made
 * as the record is accepted) and how a batch of them becomes produce requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
// first: the exporter installs its kafkajs replacements before kafkajs loads
import { classifyKafkaError, KafkaItem, KafkaSender } from '../../src/exporters/kafka/exporter';
import { KiteRecord } from '../../src/component/component';
import { createExporter } from '../helpers/exporters';
import { ecsEventId, makeRecord, makeRecords } from '../helpers/events';
import { testHost } from '../helpers/host';

interface Inside {
  sender: KafkaSender;
}
interface Requests {
  toRequests(batch: KafkaItem[]): { topic: string; messages: KafkaItem[] }[][];
}

const senderOf = (settings: Record<string, unknown>): KafkaSender =>
  (createExporter('kafka/unit', { brokers: ['127.0.0.1:1'], ...settings }, testHost()) as unknown as Inside).sender;

test('a prepared record is its message: templated topic, key, numeric timestamp, schema headers, ECS value', () => {
  const sender = senderOf({ topic: 'kite.{event.kind}', key: 'exec_id', schema: 'ecs' });
  const records = makeRecords('prep', 5);
  const items = records.map((r) => sender.prepare(r));
  assert.deepEqual(items.map((m) => m.topic), ['kite.process', 'kite.process', 'kite.file', 'kite.network', 'kite.dns']);
  for (const [i, m] of items.entries()) {
    const r = records[i]!;
    assert.equal(m.key, r['kite.process.exec_id']);
    assert.equal(m.timestamp as unknown as number, Date.parse(r.time.replace('123456Z', 'Z')));
    assert.deepEqual(Object.fromEntries(Object.entries(m.headers!).map(([k, v]) => [k, String(v)])), {
      'kite.schema': 'ecs',
      'kite.schema.version': '8.11.0',
      'content-type': 'application/json',
    });
    const doc = JSON.parse(String(m.value)) as { event: { action: string } };
    assert.equal(ecsEventId(m.value), r['kite.event_id']);
    assert.equal(doc.event.action, r['event.name']);
  }
});

test('prepared values stay intact while later records are written (arena slices)', () => {
  const sender = senderOf({ topic: 't', schema: 'ecs' });
  // enough records to fill several 64 KiB arenas, one of them far larger than an arena
  const records: KiteRecord[] = makeRecords('arena', 600);
  records[300] = { ...makeRecord('arena', 300), 'kite.pad': 'p'.repeat(200 << 10) };
  const items = records.map((r) => sender.prepare(r));
  for (const [i, m] of items.entries()) {
    assert.equal(ecsEventId(m.value), `arena-${i}`);
  }
});

test('a batch becomes requests grouped by topic, in order, each under 768 KiB of values', () => {
  const sender = senderOf({ topic: 'kite.{event.kind}', key: 'host', schema: 'ecs' });
  const records = makeRecords('split', 3000).map((r) => ({ ...r, 'kite.pad': 'x'.repeat(300) }));
  const items = records.map((r) => sender.prepare(r));
  const requests = (sender as unknown as Requests).toRequests(items);
  assert.ok(requests.length >= 2, `${requests.length} request(s)`);
  const seen: string[] = [];
  for (const req of requests) {
    let bytes = 0;
    for (const { topic, messages } of req) {
      for (const m of messages) {
        assert.equal(m.topic, topic);
        bytes += m.value.length;
      }
    }
    assert.ok(bytes <= 768 << 10, `${bytes} bytes in one request`);
    // within a request, per topic in arrival order; requests follow one another
    const ids = req.flatMap(({ messages }) => messages.map((m) => ecsEventId(m.value)));
    seen.push(...ids);
  }
  assert.equal(seen.length, 3000);
  assert.equal(new Set(seen).size, 3000);
  for (const req of requests) {
    for (const { messages } of req) {
      const n = messages.map((m) => Number(ecsEventId(m.value).split('-')[1]));
      assert.deepEqual(n, [...n].sort((a, b) => a - b));
    }
  }
});

test('errors: refused credentials and permanent protocol errors drop the batch; a connection lost during the login is retried', () => {
  // kafkajs's own classes, wrapped the way its authenticators and producer wrap them
  const k = require('kafkajs') as {
    KafkaJSSASLAuthenticationError: new (m: string) => Error;
    KafkaJSProtocolError: new (e: { type: string; code: number; retriable: boolean; message: string }) => Error;
    KafkaJSConnectionError: new (m: string) => Error;
    KafkaJSNonRetriableError: new (e: Error, o: { cause: unknown }) => Error;
  };
  const sasl = (m: string): Error => new k.KafkaJSSASLAuthenticationError(m);
  const refused = [
    sasl('SASL PLAIN authentication failed: Authentication failed: Invalid username or password'),
    sasl('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'),
    sasl('SASL PLAIN authentication failed: SASL Authentication failed'),
    sasl('SASL Plain: Invalid username or password'),
    sasl('SASL SCRAM-SHA-256 mechanism is not supported by the server'),
    // kafkajs's retrier gives up on a non-retriable error by wrapping it, the error as its cause
    ((inner) => new k.KafkaJSNonRetriableError(inner, { cause: inner }))(sasl('SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256')),
    Object.assign(new Error('send failed'), { cause: new k.KafkaJSProtocolError({ type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'too large' }) }),
  ];
  for (const e of refused) assert.equal(classifyKafkaError(e), 'failure', e.message);
  const transient = [
    sasl('SASL PLAIN authentication failed: Connection closed'),
    sasl('SASL SCRAM SHA512 authentication failed: Request SaslAuthenticate(key: 36, version: 1) timed out'),
    sasl('SASL SCRAM SHA512 authentication failed: Connection error: read ECONNRESET'),
    new k.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
    new k.KafkaJSProtocolError({ type: 'NOT_LEADER_OR_FOLLOWER', code: 6, retriable: true, message: 'not leader' }),
  ];
  for (const e of transient) assert.equal(classifyKafkaError(e), 'retryable', e.message);
});
