/**
 * In-kernel aggregation of repeated opens in the file receiver (`aggregate`), on the real kernel
 * (root). A trigger program (test/kernel/fileops.c) whose pid is known opens watched files many
 * times; every open must be accounted for exactly: the records of the process for the file plus the
 * `kite.repeat_count` of its summaries equal the opens it made, whatever the threads and windows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { fileReceiverFactory } from '../../src/receivers/file/factory';
import { FileReceiver, KERNEL_AGGREGATE_SUMMARY } from '../../src/receivers/file/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, buildTestProgram, ms, waitFor, waitUnloaded } from '../helpers/kernel';

let fileops: string;
const root = join('/tmp', `kite-agg-${randomUUID()}`);
const watched = join(root, 'watched');
const unwatched = join(root, 'unwatched');
const fileA = join(watched, 'a');
const fileB = join(watched, 'b');
const plain = join(unwatched, 'plain');
const missing = join(watched, 'missing');

before(() => {
  fileops = buildTestProgram('fileops');
  setLibbpfLogger(() => {});
  for (const d of [watched, unwatched]) mkdirSync(d, { recursive: true });
  for (const f of [fileA, fileB, plain]) writeFileSync(f, 'x');
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

async function fileopsRun(steps: string[]): Promise<number> {
  const child = spawn(fileops, steps, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `fileops ${steps.join(' ')}: ${out}`);
  return child.pid!;
}

type Host = ReturnType<typeof testHost>;

async function withReceiver(raw: Record<string, unknown>, body: (records: KiteRecord[], rx: FileReceiver, host: Host) => Promise<void>): Promise<KiteRecord[]> {
  const host = testHost();
  const rx = fileReceiverFactory.create(parseComponentId('file/agg')!, settings(fileReceiverFactory, { ring_buffer_size: '4MiB', paths: { include: [watched], exclude: [] }, operations: ['open'], ...raw }), host) as FileReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  const ids = bpfIdsOf(process.pid);
  try {
    await body(records, rx, host);
  } finally {
    await rx.shutdown();
  }
  const left = await waitUnloaded(ids);
  assert.deepEqual(left, { progs: [], maps: [], links: [] }, 'no program, map or link left behind');
  return records;
}

const mine = (records: KiteRecord[], pid: number, path: string): KiteRecord[] => records.filter((r) => r['process.pid'] === pid && r['file.path'] === path);
const plainOf = (rs: KiteRecord[]): KiteRecord[] => rs.filter((r) => r['kite.summary'] === undefined);
const summariesOf = (rs: KiteRecord[]): KiteRecord[] => rs.filter((r) => r['kite.summary'] === KERNEL_AGGREGATE_SUMMARY);
/** Opens a process made of a file, as the records tell: one per record, kite.repeat_count per summary. */
const opensOf = (rs: KiteRecord[]): number => plainOf(rs).length + summariesOf(rs).reduce((n, r) => n + (r['kite.repeat_count'] as number), 0);

test('5000 opens of a watched file in one window: one record, then a summary of the 4999 others, sent by the flush without any further open', async () => {
  await withReceiver({ aggregate: { window: '1500ms' } }, async (records, _rx, host) => {
    const t0 = Date.now();
    const pid = await fileopsRun([`repeat:5000:${fileA}`]);
    const sum = await waitFor(() => summariesOf(mine(records, pid, fileA))[0], ms(6000), 'the summary of the quiet window');
    const waited = Date.now() - t0;
    assert.ok(waited >= 1400, `the window is closed after its length (${waited} ms)`);
    const rs = mine(records, pid, fileA);
    const first = plainOf(rs);
    assert.equal(first.length, 1, 'exactly one record');
    assert.equal(summariesOf(rs).length, 1, 'one summary');
    assert.equal(sum['kite.repeat_count'], 4999);
    assert.equal(sum['event.name'], 'file.open');
    assert.equal(sum['kite.repeat.first_event_id'], first[0]!['kite.event_id']);
    assert.equal(sum['kite.repeat.first_time'], first[0]!.time);
    assert.equal(sum['kite.repeat.last_time'], sum.time);
    assert.ok((sum.time as string) >= (first[0]!.time as string), 'the last open is not before the first');
    assert.equal(sum['kite.process.comm'], 'fileops');
    assert.deepEqual(sum['kite.file.intent'], ['read']);
    assert.equal(sum['kite.file.fd'], undefined, 'the fd differs per open');
    assert.notEqual(sum['kite.event_id'], first[0]!['kite.event_id']);
    const c = (name: string): number => host.stats.get('receiver/file/agg', name);
    await waitFor(() => (c('aggregate_summaries') >= 1 ? true : undefined), ms(2000), 'the counters read');
    assert.ok(c('aggregate_folded') >= 4999, `aggregate_folded ${c('aggregate_folded')}`);
    assert.equal(c('aggregate_repeats'), c('aggregate_folded'), 'every folded open reached user space in a summary');
    assert.equal(c('aggregate_summaries_without_first'), 0);
    assert.equal(c('aggregate_map_full'), 0);
  });
});

test('two processes and two files: a window per process and file, each adding up', async () => {
  await withReceiver({ aggregate: { window: '3s' } }, async (records) => {
    const [p1, p2] = await Promise.all([fileopsRun([`repeat:300:${fileA}`, `repeat:200:${fileB}`]), fileopsRun([`repeat:400:${fileA}`])]);
    await waitFor(() => (opensOf(mine(records, p1, fileA)) === 300 && opensOf(mine(records, p1, fileB)) === 200 && opensOf(mine(records, p2, fileA)) === 400) || undefined, ms(9000), 'every open accounted for');
    for (const [pid, f] of [[p1, fileA], [p1, fileB], [p2, fileA]] as const) {
      const rs = mine(records, pid, f);
      assert.equal(plainOf(rs).length, 1, `one record for ${pid} ${f}`);
      assert.equal(summariesOf(rs).length, 1, `one summary for ${pid} ${f}`);
    }
  });
});

test('threads of one process racing on one file across many short windows: no open lost or counted twice', async () => {
  await withReceiver({ aggregate: { window: '10ms', max_keys: 64 } }, async (records, _rx, host) => {
    const pid = await fileopsRun([`threads:4:20000:${fileA}`]);
    await waitFor(() => (opensOf(mine(records, pid, fileA)) >= 80_000 ? true : undefined), ms(8000), 'every open accounted for');
    await new Promise((r) => setTimeout(r, 100));
    const rs = mine(records, pid, fileA);
    assert.equal(opensOf(rs), 80_000, 'records + repeat counts = opens');
    assert.ok(summariesOf(rs).length > 1, `several windows (${summariesOf(rs).length} summaries)`);
    assert.ok(plainOf(rs).length < 80_000 / 10, `most opens folded (${plainOf(rs).length} records)`);
    assert.equal(host.stats.get('receiver/file/agg', 'ring_full'), 0);
  });
});

test('failed opens and unwatched files are not aggregated; every window is flushed at stop', async () => {
  let pid = 0;
  const records = await withReceiver({ aggregate: { window: '1h' } }, async (records, rx, host) => {
    pid = await fileopsRun([`repeat:50:${missing}`, `repeat:50:${plain}`, `repeat:100:${fileB}`]);
    const failed = await waitFor(() => { const f = mine(records, pid, missing); return f.length === 50 ? f : undefined; }, ms(3000), 'the 50 failed opens');
    assert.ok(failed.every((r) => r['error.type'] === 'ENOENT' && r['kite.summary'] === undefined));
    assert.equal(mine(records, pid, plain).length, 0, 'an unwatched file gives nothing');
    await waitFor(() => plainOf(mine(records, pid, fileB))[0], ms(3000), 'the first open of the window');
    assert.equal(summariesOf(mine(records, pid, fileB)).length, 0, 'a one-hour window is still open');
    rx.pollKernelStats();
    assert.ok(host.stats.get('receiver/file/agg', 'aggregate_folded') >= 99);
  });
  const rs = mine(records, pid, fileB);
  assert.equal(summariesOf(rs).length, 1, 'the stop closed the window');
  assert.equal(summariesOf(rs)[0]!['kite.repeat_count'], 99);
});

test('a full ring puts summaries off, never loses them: the windows stay open and the counts arrive once the ring drains', async () => {
  const many = join(watched, 'many');
  mkdirSync(many, { recursive: true });
  const names = Array.from({ length: 650 }, (_, i) => join(many, `f${i}`));
  for (const f of names) writeFileSync(f, 'x');
  const repeated = names.slice(0, 50);
  // 50 windows of 20 opens each, then 600 more files: the ring (64 KiB) holds about 250 records, and
  // the windows outlive the run, so the flush finds it full (a summary is smaller than a record: a
  // few fit in what is left, not 50)
  await withReceiver({ ring_buffer_size: '64KiB', aggregate: { window: '400ms' } }, async (records, rx, host) => {
    rx.pause(); // backpressure: the reader stops, the ring fills
    const pid = await fileopsRun([...repeated.map((f) => `repeat:20:${f}`), ...names.slice(50).map((f) => `open:${f}`)]);
    const c = (name: string): number => host.stats.get('receiver/file/agg', name);
    await waitFor(() => { rx.pollKernelStats(); return c('aggregate_deferred') > 0 ? true : undefined; }, ms(3000), 'summaries put off');
    assert.ok(c('ring_full') > 0, 'the ring was full');
    rx.resume();
    await waitFor(() => (repeated.every((f) => opensOf(mine(records, pid, f)) === 20) ? true : undefined), ms(5000), 'the 20 opens of each of the 50 files accounted for');
    for (const f of repeated) {
      const rs = mine(records, pid, f);
      assert.equal(plainOf(rs).length, 1, `one record for ${f}`);
      assert.equal(summariesOf(rs).length, 1, `one summary for ${f}`);
    }
  });
});

test('aggregation off (the default): every open is a record', async () => {
  await withReceiver({}, async (records) => {
    const pid = await fileopsRun([`repeat:500:${fileA}`]);
    await waitFor(() => (mine(records, pid, fileA).length === 500 ? true : undefined), ms(3000), '500 records');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mine(records, pid, fileA).length, 500);
    assert.equal(summariesOf(records).length, 0);
  });
});
