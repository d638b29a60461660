/**
 * The kafka exporter's record encoder writes the same bytes as kafkajs's own (the broker checks the
 * batch CRC over them), and hands the cases it does not handle back to kafkajs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Module from 'node:module';
import { encodeRecord } from '../../src/exporters/kafka/record-encoder';

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
