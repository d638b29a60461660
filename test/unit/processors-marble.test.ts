/**
 * Every processor's operator on a virtual clock (rxjs TestScheduler marbles): empty, never, error,
 * early unsubscribe, windows and their edges, bounded state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { KiteRecord, parseComponentId, Processor } from '../../src/component/component';
import { BatchProcessor } from '../../src/processors/batch/processor';
import { DedupeProcessor } from '../../src/processors/dedupe/processor';
import { EnrichProcessor } from '../../src/processors/enrich/processor';
import { FilterProcessor } from '../../src/processors/filter/processor';
import { RateLimitProcessor } from '../../src/processors/rate_limit/processor';
import { RulesProcessor } from '../../src/processors/rules/processor';
import { parseRuleset } from '../../src/processors/rules/ruleset';
import { testHost } from '../helpers/host';
import { rec, testScheduler } from '../helpers/processors';

const id = (k: string) => parseComponentId(k)!;

function enrich(host = testHost(), scheduler?: TestScheduler): EnrichProcessor {
  return new EnrichProcessor(id('enrich'), host, {
    ancestryDepth: 4, maxProcesses: 1000, maxTableBytes: 1 << 20, exitedTtlMs: 10, hashExecutables: false, maxHashFileBytes: 1 << 20,
    containerUsers: true, kubeletEndpoint: '', kubeletPollMs: 1000, criEndpoint: '', criPollMs: 1000, execWaitMs: 50, maxHeldRecords: 8192, procRoot: '/nonexistent-proc', seed: false,
  }, { scheduler, identity: { hostName: 'h', hostId: 'mid', bootId: 'boot', kernelRelease: '6.1' }, hostUsers: { user: () => undefined, group: () => undefined } });
}

/** One instance of each processor, on the given scheduler. */
const makers: Record<string, (s: TestScheduler) => Processor> = {
  dedupe: (s) => new DedupeProcessor(id('dedupe'), testHost(), { keys: ['k'], windowMs: 10, maxKeys: 100 }, s),
  batch: (s) => new BatchProcessor(id('batch'), testHost(), 3, 10, s),
  rate_limit: (s) => new RateLimitProcessor(id('rate_limit'), testHost(), { keys: ['k'], rate: 100, burst: 2, maxKeys: 100, summaryIntervalMs: 50 }, s),
  filter: () => new FilterProcessor(id('filter'), testHost(), 'k == "a"', ''),
  enrich: (s) => enrich(testHost(), s),
  rules: (s) => new RulesProcessor(id('rules'), testHost(), {
    rules: parseRuleset([{ label: 'inline', path: 'rules', items: [{ rule: 'r', description: 'd', condition: 'k == "b"', output: 'o', priority: 'info' }] }]).rules,
    minPriority: 'debug', maxSequences: 10,
  }, s),
};

for (const [type, make] of Object.entries(makers)) {
  test(`${type}: empty completes, never stays silent, an error passes through, unsubscribe cancels`, () => {
    const ts = testScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const p = make(ts);
      const empty = cold<KiteRecord>('|');
      expectObservable(empty.pipe(p.operator())).toBe('|');
      const never = cold<KiteRecord>('-');
      expectObservable(never.pipe(p.operator())).toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^');
      const err = cold<KiteRecord>('--#', undefined, new Error('boom'));
      expectObservable(err.pipe(p.operator())).toBe('--#', undefined, new Error('boom'));
      const a = rec('x', 't', { k: 'a' });
      const long = cold<KiteRecord>('a 100ms a|', { a });
      expectObservable(long.pipe(p.operator()), '^ 5ms !').toBe(type === 'batch' ? '' : 'a', { a: type === 'enrich' ? (p as EnrichProcessor).enrich(a) : a });
      expectSubscriptions(long.subscriptions).toBe('^ 5ms !');
    });
  });
}

test('dedupe: the first passes, repeats in the window fold into one summary when it closes', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    const p = new DedupeProcessor(id('dedupe'), host, { keys: ['k'], windowMs: 10, maxKeys: 100 }, ts);
    const a0 = rec('e', 't0', { k: 'a', other: 1 });
    const b2 = rec('e', 't2', { k: 'b' });
    const a4 = rec('e', 't4', { k: 'a', other: 2 });
    const a6 = rec('e', 't6', { k: 'a', other: 3 });
    const a17 = rec('e', 't17', { k: 'a' });
    const src = cold<KiteRecord>('a-b-c-d 10ms e|', { a: a0, b: b2, c: a4, d: a6, e: a17 });
    const S = {
      time: 't6', 'event.name': 'e', 'kite.event_id': 'test-1', k: 'a', 'kite.summary': 'dedupe', 'kite.repeat_count': 2,
      'kite.repeat.first_time': 't0', 'kite.repeat.last_time': 't6', 'kite.repeat.first_event_id': a0['kite.event_id'],
    };
    // a opens at 0 (closes at 10), b at 2 (no repeat: no summary), a again at 17: a new window
    expectObservable(src.pipe(p.operator())).toBe('a-b 7ms S 6ms e|', { a: a0, b: b2, S, e: a17 });
  });
  const c = p_counters(host, 'dedupe');
  assert.equal(c.received, 5);
  assert.equal(c.emitted, 4);
  assert.equal(c['dropped.duplicate'], 2);
  assert.equal(c.summaries, 1);
});

function p_counters(host: ReturnType<typeof testHost>, key: string): Record<string, number> {
  return host.stats.snapshot()[`processor/${key}`] ?? {};
}

test('dedupe: window edges: a repeat before the window\'s end folds, one after it opens a new window', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable }) => {
    const p = new DedupeProcessor(id('dedupe'), testHost(), { keys: ['k'], windowMs: 10, maxKeys: 100 }, ts);
    const r = (t: number) => rec('e', `t${t}`, { k: 'a' });
    const [a0, a9, a11] = [r(0), r(9), r(11)];
    const src = cold<KiteRecord>('a 8ms b - (c|)', { a: a0, b: a9, c: a11 });
    const S = expectSummary('test-1', 'a', 1, 't0', 't9', a0);
    // frame 10: the window of frame 0 closes (summary); the record of frame 11 opens a new one
    expectObservable(src.pipe(p.operator())).toBe('a 9ms S (c|)', { a: a0, S, c: a11 });
  });
});

function expectSummary(eventId: string, k: string, n: number, first: string, last: string, firstRec: KiteRecord): KiteRecord {
  return {
    time: last, 'event.name': 'e', 'kite.event_id': eventId, k, 'kite.summary': 'dedupe', 'kite.repeat_count': n,
    'kite.repeat.first_time': first, 'kite.repeat.last_time': last, 'kite.repeat.first_event_id': firstRec['kite.event_id'],
  };
}

test('dedupe: open windows are flushed when the source completes, and before an error', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable }) => {
    const p = new DedupeProcessor(id('dedupe'), testHost(), { keys: ['k'], windowMs: 1000, maxKeys: 100 }, ts);
    const a0 = rec('e', 't0', { k: 'a' });
    const a1 = rec('e', 't1', { k: 'a' });
    expectObservable(cold<KiteRecord>('ab|', { a: a0, b: a1 }).pipe(p.operator())).toBe('a-(S|)', { a: a0, S: expectSummary('test-1', 'a', 1, 't0', 't1', a0) });
    const q = new DedupeProcessor(id('dedupe'), testHost(), { keys: ['k'], windowMs: 1000, maxKeys: 100 }, ts);
    expectObservable(cold<KiteRecord>('ab#', { a: a0, b: a1 }).pipe(q.operator())).toBe('a-(S#)', { a: a0, S: expectSummary('test-1', 'a', 1, 't0', 't1', a0) });
  });
});

test('dedupe: bounded memory under a flood of distinct keys: the oldest window closes early, nothing is lost', () => {
  const ts = testScheduler();
  const host = testHost();
  const maxKeys = 50;
  const p = new DedupeProcessor(id('dedupe'), host, { keys: ['k'], windowMs: 60_000, maxKeys }, ts);
  const out: KiteRecord[] = [];
  let completedAt = -1;
  const src = new Observable<KiteRecord>((sub) => {
    for (let i = 0; i < 5000; i++) {
      sub.next(rec('e', 't', { k: `key-${i}` }));
      sub.next(rec('e', 't', { k: `key-${i}` }));
      sub.next(rec('e', 't', { k: `key-${i}` }));
    }
    completedAt = out.length;
    sub.complete();
  });
  src.pipe(p.operator()).subscribe((r) => out.push(r));
  const summaries = out.filter((r) => r['kite.summary'] === 'dedupe');
  assert.equal(summaries.length, 5000, 'every key gets its summary');
  assert.ok(summaries.every((s) => s['kite.repeat_count'] === 2));
  assert.equal(out.length - completedAt, maxKeys, `only ${maxKeys} windows were still open at the end`);
  const c = p_counters(host, 'dedupe');
  assert.equal(c.windows_evicted, 5000 - maxKeys);
  assert.equal(c.emitted, 10000);
  assert.equal(c['dropped.duplicate'], 10000);
});

test('dedupe: several keys: attributes as they appear in the output; a missing attribute is a value of its own', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable }) => {
    const p = new DedupeProcessor(id('dedupe'), testHost(), { keys: ['event.name', 'process.pid'], windowMs: 5, maxKeys: 10 }, ts);
    const a = rec('e', 't0', { 'process.pid': 1 });
    const b = rec('e', 't1', { 'process.pid': '1' }); // a string, not the number 1: another key
    const c = rec('e', 't2');
    const d = rec('e', 't3', { 'process.pid': 1 });
    const S = { time: 't3', 'event.name': 'e', 'kite.event_id': 'test-1', 'process.pid': 1, 'kite.summary': 'dedupe', 'kite.repeat_count': 1, 'kite.repeat.first_time': 't0', 'kite.repeat.last_time': 't3', 'kite.repeat.first_event_id': a['kite.event_id'] };
    expectObservable(cold<KiteRecord>('abcd|', { a, b, c, d }).pipe(p.operator())).toBe('abc-(S|)', { a, b, c, S });
  });
});

test('batch: by size, then by time after the first record of a group; the rest at completion', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    const p = new BatchProcessor(id('batch'), host, 3, 10, ts);
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((x) => rec(x, x));
    const src = cold<KiteRecord>('a-b-c-d 20ms e|', { a, b, c, d, e });
    // a b c: size 3 reached at frame 4; d at 6, sent at 16 by the timer; e at 27, sent at completion (28)
    expectObservable(src.pipe(p.operator())).toBe('----(abc) 7ms d 11ms (e|)', { a, b, c, d, e });
  });
  const c = p_counters(host, 'batch');
  assert.equal(c.batches, 3);
  assert.equal(c.emitted, 5);
});

test('batch: records held at an early unsubscribe are counted as dropped', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    const p = new BatchProcessor(id('batch'), host, 10, 100, ts);
    const a = rec('a', 'a');
    expectObservable(cold<KiteRecord>('aa 50ms |', { a }).pipe(p.operator()), '^ 10ms !').toBe('');
  });
  assert.equal(p_counters(host, 'batch')['dropped.unsubscribed'], 2);
});

test('rate_limit: a burst passes, the rest is suppressed and summed, the bucket refills', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    // 100/s = one token per 10 ms, burst 2
    const p = new RateLimitProcessor(id('rate_limit'), host, { keys: ['k'], rate: 100, burst: 2, maxKeys: 100, summaryIntervalMs: 50 }, ts);
    const r = (t: number, k = 'a') => rec('e', `t${t}`, { k });
    const [a0, a1, a2, a3, b3, a60] = [r(0), r(1), r(2), r(3), r(3, 'b'), r(60)];
    const src = cold<KiteRecord>('abc(de) 55ms f|', { a: a0, b: a1, c: a2, d: a3, e: b3, f: a60 });
    const S = { time: 't3', 'event.name': 'e', 'kite.event_id': 'test-1', k: 'a', 'kite.summary': 'rate_limit', 'kite.suppressed_count': 2, 'kite.suppressed.first_time': 't2', 'kite.suppressed.last_time': 't3' };
    // a: tokens 2 -> a0, a1 pass; a2, a3 suppressed (the timer starts at frame 2, fires at 52); b has its own bucket
    expectObservable(src.pipe(p.operator())).toBe('ab-e 48ms S 9ms f|', { a: a0, b: a1, e: b3, S, f: a60 });
  });
  const c = p_counters(host, 'rate_limit');
  assert.equal(c['dropped.rate_limited'], 2);
  assert.equal(c.summaries, 1);
  assert.equal(c.received, 6);
  assert.equal(c.emitted, 5);
});

test('rate_limit: pending suppressions are summarised at completion; summaries are bounded by max_keys', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable }) => {
    const p = new RateLimitProcessor(id('rate_limit'), testHost(), { keys: ['k'], rate: 1, burst: 1, maxKeys: 1, summaryIntervalMs: 1000 }, ts);
    const a = rec('e', 'ta', { k: 'a' });
    const b = rec('e', 'tb', { k: 'b' });
    const c = rec('e', 'tc', { k: 'c' });
    // one bucket at most: b evicts a's bucket... a comes back full; suppressions beyond one key go to an overflow summary
    const src = cold<KiteRecord>('aa bb cc|', { a, b, c });
    const Sa = { time: 'ta', 'event.name': 'e', 'kite.event_id': 'test-1', k: 'a', 'kite.summary': 'rate_limit', 'kite.suppressed_count': 1, 'kite.suppressed.first_time': 'ta', 'kite.suppressed.last_time': 'ta' };
    const So = { time: 'tc', 'event.name': 'e', 'kite.event_id': 'test-2', 'kite.summary': 'rate_limit', 'kite.suppressed_count': 2, 'kite.suppressed.first_time': 'tb', 'kite.suppressed.last_time': 'tc' };
    expectObservable(src.pipe(p.operator())).toBe('a-b-c-(ST|)', { a, b, c, S: Sa, T: So });
  });
});

test('filter: include and exclude, each drop counted by reason', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    const p = new FilterProcessor(id('filter'), host, 'process.pid > 100', 'process.executable.name in ["sleep"]');
    const a = rec('e', 't', { 'process.pid': 200, 'process.executable.name': 'bash' });
    const b = rec('e', 't', { 'process.pid': 50, 'process.executable.name': 'bash' });
    const c = rec('e', 't', { 'process.pid': 300, 'process.executable.name': 'sleep' });
    const d = rec('e', 't', { 'process.executable.name': 'bash' });
    expectObservable(cold<KiteRecord>('abcd|', { a, b, c, d }).pipe(p.operator())).toBe('a---|', { a });
  });
  const c = p_counters(host, 'filter');
  assert.deepEqual(
    { received: c.received, emitted: c.emitted, ni: c['filtered.not_included'], ex: c['filtered.excluded'], err: c['filtered.include_error'] },
    { received: 4, emitted: 1, ni: 1, ex: 1, err: 1 },
  );
});

test('enrich: an exited process is kept for exited_ttl on the virtual clock, then forgotten', () => {
  const ts = testScheduler();
  const host = testHost();
  const p = enrich(host, ts);
  const seen: KiteRecord[] = [];
  ts.run(({ cold }) => {
    const exec = rec('process.exec', 't0', { 'process.pid': 42, 'process.parent_pid': 1, 'process.executable.path': '/bin/x', 'process.command_args': ['/bin/x', '-y'], 'kite.process.exec_id': 'X' });
    const exit = rec('process.exit', 't1', { 'process.pid': 42 });
    const late = rec('net.connect', 't5', { 'process.pid': 42 });
    const tooLate = rec('net.connect', 't30', { 'process.pid': 42 });
    const other = rec('process.exit', 't31', { 'process.pid': 7 });
    cold<KiteRecord>('ab---c 24ms d-e|', { a: exec, b: exit, c: late, d: tooLate, e: other }).pipe(p.operator()).subscribe((r) => seen.push(r));
  });
  assert.equal(seen[2]!['process.command_line'], '/bin/x -y', 'a late event within the ttl is enriched');
  assert.equal(seen[2]!['kite.process.exec_id'], 'X');
  // the exit at frame 31 sweeps the table: the process exited at frame 1 is gone at frame 31 (ttl 10)
  assert.equal(p.table.get(42), undefined);
  assert.equal(seen[3]!['process.command_line'], '/bin/x -y', 'until a sweep, the entry is still there');
});

test('dedupe: a summary folded into a window counts as its kite.repeat_count repeats, so counts add up end to end', () => {
  const ts = testScheduler();
  const host = testHost();
  ts.run(({ cold, expectObservable }) => {
    const p = new DedupeProcessor(id('dedupe'), host, { keys: ['k'], windowMs: 10, maxKeys: 100 }, ts);
    const a0 = rec('e', 't0', { k: 'a' });
    // what the file receiver's in-kernel aggregation sends after a0: 41 more opens, then 2 more
    const k3 = rec('e', 't3', { k: 'a', 'kite.summary': 'kernel_aggregate', 'kite.repeat_count': 41, 'kite.repeat.last_time': 't3' });
    const a5 = rec('e', 't5', { k: 'a' });
    const k6 = rec('e', 't6', { k: 'a', 'kite.summary': 'kernel_aggregate', 'kite.repeat_count': 2 });
    // after the window: a summary opens a new one and passes as it is
    const k20 = rec('e', 't20', { k: 'a', 'kite.summary': 'kernel_aggregate', 'kite.repeat_count': 7 });
    const src = cold<KiteRecord>('a--b-cd 13ms e|', { a: a0, b: k3, c: a5, d: k6, e: k20 });
    const S = {
      time: 't6', 'event.name': 'e', 'kite.event_id': 'test-1', k: 'a', 'kite.summary': 'dedupe', 'kite.repeat_count': 44,
      'kite.repeat.first_time': 't0', 'kite.repeat.last_time': 't6', 'kite.repeat.first_event_id': a0['kite.event_id'],
    };
    expectObservable(src.pipe(p.operator())).toBe('a 9ms S 9ms e|', { a: a0, S, e: k20 });
  });
  const c = p_counters(host, 'dedupe');
  assert.equal(c.received, 5);
  assert.equal(c['dropped.duplicate'], 3, 'records folded');
  assert.equal(c.repeats_folded, 44, 'repeats folded: 41 + 1 + 2');
  assert.equal(c.summaries, 1);
  assert.equal(c.received + c.summaries, c.emitted + c['dropped.duplicate']);
});
