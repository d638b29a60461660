/**
 * The kafka exporter's record encoder writes the same bytes as kafkajs's own (the broker checks the
 * batch CRC over them), and hands the cases it does not handle back to kafkajs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Module from 'node:module';
import { encodeRecord, encodeRecordBatch } from '../../src/exporters/kafka/record-encoder';

const req = Module.createRequire(require.resolve('kafkajs'));
const original = req('./src/protocol/recordBatch/record/v0') as (a: object) => { buffer: Buffer };
const Encoder = req('./src/protocol/encoder') as { prototype: object };

const value = JSON.stringify({ event: { id: 'x-1' }, message: 'é ü ✓ 😀', pad: 'v'.repeat(700) });
const cases: [string, Record<string, unknown>][] = [
  ['key, value and three headers', { offsetDelta: 0, timestampDelta: 0, key: 'exec-1000', value, headers: { 'kite.schema': 'ecs', 'kite.schema.version': '8.11.0', 'content-type': 'application/json' } }],
  ['Buffer key, value and headers', { offsetDelta: 7, timestampDelta: 12, key: Buffer.from('host-a'), value: Buffer.from(value), headers: { a: Buffer.from('b') } }],
  ['null key', { offsetDelta: 999, timestampDelta: 3, key: null, value }],
  ['no key, no headers', { offsetDelta: 1, timestampDelta: 1, value: 'v' }],
  ['null value (tombstone)', { offsetDelta: 2, timestampDelta: 0, key: 'k', value: null }],
  ['negative timestamp delta', { offsetDelta: 3, timestampDelta: -5000, key: 'k', value: 'v' }],
  ['large deltas and a 200 KiB value', { offsetDelta: 70000, timestampDelta: 86_400_000, key: 'k', value: 'z'.repeat(200 << 10) }],
  ['empty strings', { offsetDelta: 0, timestampDelta: 0, key: '', value: '', headers: { '': '' } }],
];

for (const [name, args] of cases) {
  test(`same bytes as kafkajs: ${name}`, () => {
    const fast = encodeRecord(Encoder.prototype, args);
    assert.ok(fast, 'handled by the fast encoder');
    assert.ok(fast instanceof (Encoder as unknown as new () => object), 'a kafkajs Encoder');
    assert.deepEqual((fast as unknown as { buffer: Buffer }).buffer, original(args).buffer);
  });
}

test('cases it does not handle go back to kafkajs', () => {
  assert.equal(encodeRecord(Encoder.prototype, { key: 'k', value: 'v', headers: { h: ['a', 'b'] } }), null, 'array header values');
  assert.equal(encodeRecord(Encoder.prototype, { key: 'k', value: 'v', timestampDelta: 2 ** 31 }), null, 'a timestamp delta beyond 2^30 ms');
  assert.equal(encodeRecord(Encoder.prototype, { key: 42, value: 'v' }), null, 'a number key');
});

const Long = req('./src/utils/long') as { fromValue: (v: unknown) => { getHighBits(): number; getLowBits(): number }; fromInt: (n: number) => unknown };
const { RecordBatch } = req('./src/protocol/recordBatch/v0') as { RecordBatch: (a: object) => Promise<{ buffer: Buffer }> };
const crc = req('./src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
/** A record as kafkajs encodes it (an Encoder: buf and offset). */
const recordOf = (a: object): { buf: Buffer; offset: number } => original(a) as unknown as { buf: Buffer; offset: number };
const deps = { proto: Encoder.prototype, fromValue: (v: unknown) => Long.fromValue(v), crc32c: crc };

const batches: [string, Record<string, unknown>][] = [
  [
    'an idempotent batch of 500 records, string timestamps',
    {
      firstTimestamp: '1767225600000',
      maxTimestamp: '1767225600499',
      producerId: Long.fromValue(4711),
      producerEpoch: 3,
      firstSequence: 123456,
      lastOffsetDelta: 499,
      records: Array.from({ length: 500 }, (_, i) => recordOf({ offsetDelta: i, timestampDelta: i, key: `exec-${i % 7}`, value: `${value}${i}`, headers: { 'kite.schema': 'ecs' } })),
    },
  ],
  ['a transactional batch with a partition leader epoch', { firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_001, transactional: true, partitionLeaderEpoch: 9, records: [recordOf({ value: 'v' })] }],
  ['no records, every default but the time', { firstTimestamp: 5, maxTimestamp: 5, records: [] }],
];

for (const [name, args] of batches) {
  test(`record batch: same bytes as kafkajs: ${name}`, async () => {
    const fast = encodeRecordBatch(deps, args);
    assert.ok(fast instanceof (Encoder as unknown as new () => object), 'a kafkajs Encoder');
    assert.deepEqual((fast as unknown as { buffer: Buffer }).buffer, (await RecordBatch(args)).buffer);
  });
}

test('record batch: a compressed batch goes back to kafkajs', () => {
  assert.equal(encodeRecordBatch(deps, { compression: 1, records: [recordOf({ value: 'v' })] }), null);
});
