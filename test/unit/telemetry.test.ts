import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, parseAddress } from '../../src/pipeline/telemetry';

test('counter names map to outcomes and reasons', () => {
  assert.deepEqual(classify('received'), { outcome: 'received', reason: '' });
  assert.deepEqual(classify('ring_full'), { outcome: 'dropped', reason: 'ring_full' });
  assert.deepEqual(classify('dropped.queue_full'), { outcome: 'dropped', reason: 'queue_full' });
  assert.deepEqual(classify('decode_errors.bad_tail'), { outcome: 'dropped', reason: 'decode_bad_tail' });
  assert.equal(classify('queue_depth'), null);
});

test('telemetry addresses', () => {
  assert.deepEqual(parseAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseAddress('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseAddress(':9464'), { host: '0.0.0.0', port: 9464 });
  assert.equal(parseAddress('9464'), null);
  assert.equal(parseAddress('host:99999'), null);
});
