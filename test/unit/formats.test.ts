import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteSize, duration, durationMs, integer, parseByteSize, parseDurationNs } from '../../src/component/formats';

test('durations are parsed exactly', () => {
  assert.equal(parseDurationNs('500ms'), 500_000_000n);
  assert.equal(parseDurationNs('2s'), 2_000_000_000n);
  assert.equal(parseDurationNs('1m'), 60_000_000_000n);
  assert.equal(parseDurationNs('1h'), 3_600_000_000_000n);
  assert.equal(parseDurationNs('1.5s'), 1_500_000_000n);
  assert.equal(parseDurationNs('0.1s'), 100_000_000n, 'no binary rounding');
  assert.equal(parseDurationNs('1m30s'), 90_000_000_000n);
  assert.equal(parseDurationNs('250us'), 250_000n);
  assert.equal(parseDurationNs('7ns'), 7n);
  assert.equal(parseDurationNs(1500), 1_500_000_000n, 'an integer is milliseconds');
  assert.equal(parseDurationNs('1500'), 1_500_000_000n);
  assert.equal(durationMs('100ms'), 100);
  assert.equal(durationMs('1.25s'), 1250);
});

test('bad durations are refused', () => {
  for (const bad of ['', '5', 'fast', '1.5', '2 s', '-1s', '1.5ns', '3d', '1s2', -5, 1.5, true, null, [], {}]) {
    if (bad === '5') continue; // digits alone are milliseconds
    assert.equal(parseDurationNs(bad), null, `${JSON.stringify(bad)}`);
  }
  assert.throws(() => duration()('soon'), /expected a duration such as 500ms, 2s or 1m/);
  assert.throws(() => duration({ min: 10 })('5ms'), /of at least 10 ms/);
  assert.doesNotThrow(() => duration({ min: 10, max: 1000 })('1s'));
});

test('integers and sizes', () => {
  assert.throws(() => integer({ min: 1, max: 10 })(0), /expected an integer from 1 to 10/);
  assert.throws(() => integer()(1.5), /expected an integer/);
  assert.throws(() => integer()('3'), /expected an integer/);
  assert.equal(parseByteSize('16MiB'), 16 << 20);
  assert.equal(parseByteSize('64KiB'), 65536);
  assert.equal(parseByteSize('1GB'), 1e9);
  assert.equal(parseByteSize(4096), 4096);
  assert.equal(parseByteSize('lots'), null);
  assert.throws(() => byteSize({ powerOfTwo: true })(3000), /power of two/);
  assert.doesNotThrow(() => byteSize({ powerOfTwo: true, min: 4096 })('8KiB'));
});
