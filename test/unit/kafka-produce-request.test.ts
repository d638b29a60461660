/**
 * The kafka exporter's produce request writer and request framing give the bytes kafkajs's own
 * modules give for the same input (its produce v3 request with its own Record, RecordBatch and
 * CRC-32C, each file loaded on its own outside require's cache), and hand back what they do not
 * handle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequestFramer } from '../../src/exporters/kafka/kafkajs-patches';
import { BatchDeps, encodeProduceRequest, HEADROOM, ProduceArgs } from '../../src/exporters/kafka/record-encoder';
import { kafkajsOriginal, kafkajsRequire as req } from '../helpers/kafkajs-original';

type Enc = { buf: Buffer; offset: number; buffer: Buffer };
const Encoder = req('./src/protocol/encoder') as { prototype: object };
const Long = req('./src/utils/long') as { fromValue: (v: unknown) => { getHighBits(): number; getLowBits(): number }; fromInt: (n: number) => unknown };
const crcOriginal = kafkajsOriginal<(b: Buffer) => number>('./src/protocol/recordBatch/crc32C/crc32C');
const recordOriginal = kafkajsOriginal<unknown>('./src/protocol/recordBatch/record/v0');
const batchOriginal = kafkajsOriginal<unknown>('./src/protocol/recordBatch/v0', { '../crc32C': (b: Buffer) => crcOriginal(b) >>> 0 });
const produceOriginal = kafkajsOriginal<(a: ProduceArgs) => { encode: () => Promise<Enc> }>('./src/protocol/requests/produce/v3/request', {
  '../../../recordBatch/record/v0': recordOriginal,
  '../../../recordBatch/v0': batchOriginal,
});
const frameOriginal = kafkajsOriginal<(a: object) => Promise<Enc>>('./src/protocol/request');
const deps: BatchDeps = { proto: Encoder.prototype, fromValue: (v) => Long.fromValue(v), crc32c: (b) => crcOriginal(b) >>> 0 };

const value = (i: number): string => JSON.stringify({ '@timestamp': '2026-11-23T10:00:00.000Z', event: { id: `x-${i}` }, message: 'é ü ✓ 😀', pad: 'v'.repeat(i % 900) });
const headers = { 'kite.schema': Buffer.from('ecs'), 'kite.schema.version': Buffer.from('8.11.0'), 'content-type': Buffer.from('application/json') };
const messages = (n: number, from = 0): ProduceArgs['topicData'][0]['partitions'][0]['messages'] =>
  Array.from({ length: n }, (_, i) => ({ key: `exec-${(from + i) % 7}`, value: value(from + i), timestamp: String(1_767_225_600_000 + ((from + i) * 37) % 5000), headers }));

const cases: [string, ProduceArgs][] = [
  [
    'idempotent, two topics, three partitions, 1000 records as the exporter sends them',
    {
      acks: -1,
      timeout: 10000,
      producerId: Long.fromValue(4711),
      producerEpoch: 3,
      topicData: [
        { topic: 'kite-events', partitions: [{ partition: 0, firstSequence: 123456, messages: messages(600) }, { partition: 2, firstSequence: 7, messages: messages(300, 600) }] },
        { topic: 'kite.process', partitions: [{ partition: 1, firstSequence: 0, messages: messages(100, 900) }] },
      ],
    },
  ],
  ['not idempotent, every default (string partition as kafkajs passes it)', { acks: 1, timeout: 30000, topicData: [{ topic: 't', partitions: [{ partition: '0' as unknown as number, messages: messages(3) }] }] }],
  [
    'transactional, numeric and missing timestamps, null and Buffer keys, no headers, a tombstone',
    {
      acks: -1,
      timeout: 5000,
      transactionalId: 'tx-é',
      producerId: 99,
      producerEpoch: 1,
      topicData: [
        {
          topic: 'tópico',
          partitions: [
            {
              partition: 4,
              firstSequence: 10,
              messages: [
                { key: null, value: 'a', timestamp: 1_700_000_000_500 },
                { key: Buffer.from([0, 1, 2]), value: Buffer.from('b'), timestamp: 1_700_000_000_100 },
                { value: 'c' },
                { key: 'ключ-é', value: null, timestamp: '1700000000900', headers: { h: 'v', '': '', 'é': 'ü😀' } },
              ],
            },
          ],
        },
      ],
    },
  ],
  ['the exporter\'s numeric timestamps, out of order and repeated', { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 5}`, value: value(i), timestamp: 1_767_225_600_000 + ((i * 7919) % 301) })) }] }] }],
  ['timestamps that sort differently as strings and as numbers', { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'x', timestamp: 900 }, { value: 'y', timestamp: 1000 }, { value: 'z', timestamp: 95 }] }] }] }],
  ['an empty partition and no topics after it', { acks: 0, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [] }] }] }],
  ['no topics', { acks: -1, timeout: 1000, topicData: [] }],
];

/** Date.now() held still, since kafkajs reads it for records without a timestamp. */
async function atFixedTime<T>(fn: () => Promise<T>): Promise<T> {
  const now = Date.now;
  Date.now = () => 1_700_000_000_300;
  try {
    return await fn();
  } finally {
    Date.now = now;
  }
}

for (const [name, args] of cases) {
  test(`produce request: same bytes as kafkajs: ${name}`, async () => {
    await atFixedTime(async () => {
      const fast = encodeProduceRequest(deps, args);
      assert.ok(fast, 'handled by the fast writer');
      assert.ok(fast instanceof (Encoder as unknown as new () => object), 'a kafkajs Encoder');
      const expected = (await produceOriginal(args).encode()).buffer;
      assert.equal((fast as unknown as Enc).buffer.length, expected.length);
      assert.deepEqual((fast as unknown as Enc).buffer, expected);
    });
  });
}

test('produce request: what it does not handle goes back to kafkajs', () => {
  const one = (m: object, extra: object = {}): ProduceArgs => ({ acks: -1, timeout: 1000, ...extra, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [m as never] }] }] });
  assert.equal(encodeProduceRequest(deps, one({ value: 'v' }, { compression: 1 })), null, 'gzip');
  assert.equal(encodeProduceRequest(deps, one({ value: 'v', headers: { h: ['a', 'b'] } })), null, 'array header values');
  assert.equal(encodeProduceRequest(deps, one({ key: 42, value: 'v' })), null, 'a number key');
  const far: ProduceArgs = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'a', timestamp: 1 }, { value: 'b', timestamp: 2 ** 31 }] }] }] };
  assert.equal(encodeProduceRequest(deps, far), null, 'a timestamp delta beyond 2^30 ms');
});

test('request framing: same bytes as kafkajs, for a produce request (in place) and for any other', async () => {
  const frame = createRequestFramer(Encoder.prototype);
  const produceArgs = cases[0]![1];
  for (const clientId of ['kite', null, 'é'.repeat(40), 'c'.repeat(HEADROOM)]) {
    const body = async (): Promise<unknown> => encodeProduceRequest(deps, produceArgs);
    const request = { apiKey: 0, apiVersion: 7, encode: body };
    const args = { correlationId: 2 ** 31 - 1, clientId, request };
    const fast = (await frame(args)) as unknown as Enc;
    assert.ok(fast instanceof (Encoder as unknown as new () => object), 'a kafkajs Encoder');
    assert.deepEqual(fast.buffer, (await frameOriginal(args)).buffer, `client id ${String(clientId).slice(0, 8)}`);
  }
  // a request that is not ours: a metadata request's body as kafkajs writes it
  const KafkajsEncoder = Encoder as unknown as new () => { writeArray(a: unknown[]): Enc };
  const request = { apiKey: 3, apiVersion: 6, encode: async () => new KafkajsEncoder().writeArray(['kite-events', 'x']) };
  const args = { correlationId: 17, clientId: 'kite', request };
  assert.deepEqual(((await frame(args)) as unknown as Enc).buffer, (await frameOriginal(args)).buffer);
  await assert.rejects(frame({ correlationId: 1, clientId: 'kite', request: { apiKey: 3, apiVersion: 6, encode: async () => ({}) } }), /instance of Encoder/);
});
