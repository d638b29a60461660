/** A record's time is read without Date's parser when it has the receivers' form, with Date.parse()'s result. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUtcFast, recordTimeHr, recordTimeMs, recordTimeNanos } from '../../src/exporters/schemas/event-kind';
import { KiteRecord } from '../../src/component/component';

const at = (time: string): KiteRecord => ({ time, 'event.name': 'process.exec', 'kite.event_id': 'x' });

test('the receivers\' form: the same milliseconds as Date.parse', () => {
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const pad = (v: number, w: number): string => String(v).padStart(w, '0');
  for (let i = 0; i < 20000; i++) {
    const base = `${pad(100 + rnd(9900), 4)}-${pad(1 + rnd(12), 2)}-${pad(1 + rnd(31), 2)}T${pad(rnd(24), 2)}:${pad(rnd(60), 2)}:${pad(rnd(60), 2)}`;
    const fl = rnd(10);
    const time = fl ? `${base}.${pad(rnd(10 ** fl), fl)}Z` : `${base}Z`;
    const expected = Date.parse(time);
    const fast = parseUtcFast(time);
    if (!Number.isNaN(fast)) assert.equal(fast, expected, time);
    assert.equal(recordTimeMs(at(time)), Number.isFinite(expected) ? expected : recordTimeMs(at(time)), time);
  }
  assert.equal(parseUtcFast('2026-01-01T00:00:00.003123456Z'), Date.parse('2026-01-01T00:00:00.003123456Z'));
  assert.equal(parseUtcFast('2026-11-23T16:31:03Z'), Date.parse('2026-11-23T16:31:03Z'));
});

test('times in the minute read before: the same milliseconds, and a bad rest of the time is still refused', () => {
  const minute = '2026-11-23T16:31:';
  for (let i = 0; i < 3000; i++) {
    const sec = String(i % 60).padStart(2, '0');
    const fl = i % 10;
    const time = fl ? `${minute}${sec}.${String(i).padStart(9, '0').slice(0, fl)}Z` : `${minute}${sec}Z`;
    assert.equal(parseUtcFast(time), Date.parse(time), time);
  }
  // the minute is remembered now: what follows it is still checked
  for (const bad of [`${minute}60Z`, `${minute}5xZ`, `${minute}05.Z`, `${minute}05.1234567890Z`, `${minute}05,1Z`, `${minute}05.12`, `${minute}0Z`]) {
    assert.ok(Number.isNaN(parseUtcFast(bad)), bad);
  }
  // the next minute, hour and day, and back
  for (const time of ['2026-11-23T16:32:00.5Z', '2026-11-23T17:31:00Z', '2026-11-24T16:31:59.999Z', `${minute}07.25Z`]) {
    assert.equal(parseUtcFast(time), Date.parse(time), time);
  }
});

test('other forms are left to Date.parse', () => {
  for (const time of ['2024-02-29T12:00:00Z', '0050-01-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+02:00', '2026-01-01T00:00:00.Z', '2026-01-01T00:00:00.1234567890Z', '2026-1-01T00:00:00Z', 'yesterday']) {
    assert.ok(Number.isNaN(parseUtcFast(time)), time);
  }
  assert.equal(recordTimeMs(at('2024-02-29T12:00:00Z')), Date.parse('2024-02-29T12:00:00Z'));
  assert.equal(recordTimeMs(at('2026-01-01T00:00:00+02:00')), Date.parse('2026-01-01T00:00:00+02:00'));
  const before = Date.now();
  const t = recordTimeMs(at('yesterday'));
  assert.ok(t >= before && t <= Date.now(), 'an unreadable time is now');
});

test('seconds and nanoseconds: the digits of recordTimeNanos, split', () => {
  const split = (t: string): [number, number] => [t.length > 9 ? Number(t.slice(0, -9)) : 0, Number(t.slice(-9))];
  for (const time of ['2026-01-01T00:00:00.003123456Z', '2026-01-01T00:00:00Z', '2026-11-23T16:31:03.5Z', '2026-11-23T16:31:03.12345Z', '2024-02-29T12:00:00.25Z', '2026-01-01T00:00:00+02:00', '1969-12-31T23:59:59.5Z']) {
    assert.deepEqual(recordTimeHr(at(time)), split(recordTimeNanos(at(time))), time);
  }
});
