/**
 * The user-space half of the file receiver's in-kernel aggregation: the summary record decoded from
 * a hex fixture of struct file_agg_event (bpf/file.h), built like a dedupe summary from the window's
 * first record (or, without it, from what the kernel knows), and the bounded table of first records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { aggregateSummary, FirstRecords, KERNEL_AGGREGATE_SUMMARY } from '../../src/receivers/file/receiver';
import { decodeFileAgg, fileOpOf, FileOp, FILE_AGG_EVENT } from '../../src/receivers/file/wire';

// struct file_agg_event: op 16, size 56, cpu 1, exec_seq 0x8003, ktime 5e9; tgid 4242, window 7,
// count 4999, first 1e9, last 2e9, flags O_RDONLY|O_CLOEXEC (0x80000), reason 2 (flush), op 10
const FIXTURE = Buffer.from(
  '10003800010003800065cd1d00000000' +
  '9210000007000000871300000000000000ca9a3b000000000094357700000000' +
  '000008000200' + '0a00',
  'hex',
);

const ctx = {
  format: (hi: number, lo: number) => `ns:${hi * 2 ** 32 + lo}`,
  eventId: (() => { let n = 0; return () => `ev-${++n}`; })(),
  resource: { 'host.name': 'h' },
};

test('decodeFileAgg: every field of the fixture; short and wrong-size records are refused', () => {
  assert.equal(FIXTURE.length, FILE_AGG_EVENT.size);
  assert.equal(fileOpOf(FIXTURE, 0, FIXTURE.length), FileOp.OPEN_SUMMARY);
  const a = decodeFileAgg(FIXTURE, 0, FIXTURE.length);
  assert.ok(typeof a !== 'string');
  assert.equal(a.tgid, 4242);
  assert.equal(a.window, 7);
  assert.equal(a.count, 4999);
  assert.equal(a.firstKtimeHi * 2 ** 32 + a.firstKtimeLo, 1e9);
  assert.equal(a.lastKtimeHi * 2 ** 32 + a.lastKtimeLo, 2e9);
  assert.equal(a.openFlags, 0x80000);
  assert.equal(a.reason, 2);
  assert.equal(a.foldedOp, FileOp.OPEN);
  assert.equal(a.execSeq, 0x8003);
  assert.equal(decodeFileAgg(FIXTURE, 0, 40), 'short_record');
  const bad = Buffer.from(FIXTURE);
  bad.writeUInt16LE(60, 2);
  assert.equal(decodeFileAgg(bad, 0, bad.length), 'bad_size');
});

test('aggregateSummary: the first record\'s attributes and the dedupe summary fields; fd and thread id left out', () => {
  const a = decodeFileAgg(FIXTURE, 0, FIXTURE.length);
  assert.ok(typeof a !== 'string');
  const first: KiteRecord = {
    time: 'ns:1000000000', 'event.name': 'file.open', 'kite.event_id': 'first-1', 'host.name': 'h', 'file.path': '/etc/hostname',
    'kite.file.fd': 3, 'kite.process.tid': 4243, 'process.pid': 4242, 'kite.process.comm': 'openstorm',
  };
  const s = aggregateSummary(a, first, ctx);
  assert.deepEqual(s, {
    time: 'ns:2000000000', 'event.name': 'file.open', 'kite.event_id': 'ev-1', 'host.name': 'h', 'file.path': '/etc/hostname',
    'process.pid': 4242, 'kite.process.comm': 'openstorm',
    'kite.summary': KERNEL_AGGREGATE_SUMMARY, 'kite.repeat_count': 4999,
    'kite.repeat.first_time': 'ns:1000000000', 'kite.repeat.last_time': 'ns:2000000000', 'kite.repeat.first_event_id': 'first-1',
  });
  assert.equal(first['kite.file.fd'], 3, 'the first record is not changed');
});

test('aggregateSummary without the first record: what the kernel knows (process, flags, times)', () => {
  const a = decodeFileAgg(FIXTURE, 0, FIXTURE.length);
  assert.ok(typeof a !== 'string');
  const s = aggregateSummary(a, undefined, ctx);
  assert.equal(s['event.name'], 'file.open');
  assert.equal(s['process.pid'], 4242);
  assert.equal(s['kite.file.flags'], 0x80000);
  assert.deepEqual(s['kite.file.intent'], ['read']);
  assert.equal(s['kite.process.exec_seq'], 3);
  assert.equal(s['kite.repeat_count'], 4999);
  assert.equal(s['kite.repeat.first_time'], 'ns:1000000000');
  assert.equal(s['kite.repeat.first_event_id'], undefined);
  assert.equal(s['host.name'], 'h');
  assert.equal(s['file.path'], undefined);
});

test('FirstRecords: taken once, bounded (oldest first, counted), pruned by age', () => {
  const f = new FirstRecords(2, 1000);
  const r = (n: number): KiteRecord => ({ time: `t${n}`, 'event.name': 'file.open', 'kite.event_id': `e${n}` });
  f.add(1, r(1), 0);
  f.add(2, r(2), 10);
  f.add(3, r(3), 20);
  assert.equal(f.evicted, 1);
  assert.equal(f.take(1), undefined, 'the oldest went');
  assert.equal(f.take(2)?.time, 't2');
  assert.equal(f.take(2), undefined, 'taken once');
  f.add(4, r(4), 900);
  f.prune(1500);
  assert.equal(f.take(3), undefined, 'older than the ttl');
  assert.equal(f.take(4)?.time, 't4');
  assert.equal(f.size, 0);
});
