import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, parseAddress, programStat } from '../../src/pipeline/telemetry';

test('counter names map to outcomes and reasons', () => {
  assert.deepEqual(classify('received'), { outcome: 'received', reason: '' });
  assert.deepEqual(classify('ring_full'), { outcome: 'dropped', reason: 'ring_full' });
  assert.deepEqual(classify('dropped.queue_full'), { outcome: 'dropped', reason: 'queue_full' });
  assert.deepEqual(classify('decode_errors.bad_tail'), { outcome: 'dropped', reason: 'decode_bad_tail' });
  assert.equal(classify('queue_depth'), null);
  assert.deepEqual(classify('filtered'), { outcome: 'filtered', reason: '' });
  assert.deepEqual(classify('filtered.not_included'), { outcome: 'filtered', reason: 'not_included' });
  assert.deepEqual(classify('path_filtered'), { outcome: 'filtered', reason: 'path' });
  assert.deepEqual(classify('summaries'), { outcome: 'added', reason: 'summary' });
  // not record flow: served as kite_component_counter_total or their own metrics
  assert.equal(classify('retries'), null);
  assert.equal(classify('cache_miss.process'), null);
  assert.equal(classify('bpf_program.handle_exec.run_count'), null);
  assert.deepEqual(programStat('bpf_program.handle_exec.run_count'), { program: 'handle_exec', what: 'run_count' });
  assert.deepEqual(programStat('bpf_program.handle_exec.run_time_ns'), { program: 'handle_exec', what: 'run_time_ns' });
  assert.equal(programStat('received'), null);
});

test('telemetry addresses', () => {
  assert.deepEqual(parseAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseAddress('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseAddress(':9464'), { host: '0.0.0.0', port: 9464 });
  assert.equal(parseAddress('9464'), null);
  assert.equal(parseAddress('host:99999'), null);
});
