/**
 * Fan-out: a receiver feeding two pipelines hands each the same records; a pipeline whose processors
 * change records in place gets its own copies, so the other pipeline never sees the changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { map, Subject } from 'rxjs';
import { AnyFactory, KiteRecord } from '../../src/component/component';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { cloneRecord, Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { testHost } from '../helpers/host';
import { rec } from '../helpers/processors';

const input = new Subject<KiteRecord>();
const seen: Record<string, KiteRecord[]> = { a: [], b: [] };

const factories: AnyFactory[] = [
  {
    kind: 'receiver', type: 'fake', stability: 'development', description: 'test', schema: {},
    create: () => ({ records$: input, start: async () => {}, shutdown: async () => input.complete() }),
  },
  {
    kind: 'processor', type: 'stamp', stability: 'development', description: 'test', schema: {},
    create: () => ({
      mutatesRecords: true,
      operator: () => map((r: KiteRecord) => {
        r.stamped = true;
        return r;
      }),
      start: async () => {},
      shutdown: async () => {},
    }),
  },
  {
    kind: 'exporter', type: 'keep', stability: 'development', description: 'test', schema: {},
    create: (id) => ({
      consume: (r: KiteRecord) => void seen[id.name]!.push(r),
      flush: async () => {},
      start: async () => {},
      shutdown: async () => {},
    }),
  },
];

test('a pipeline that changes records gets its own copies when its receiver feeds another pipeline', async () => {
  const cfg = resolveConfig(parseConfigText(`
receivers: { fake: {} }
processors: { stamp: {} }
exporters: { keep/a: {}, keep/b: {} }
service:
  pipelines:
    changed: { receivers: [fake], processors: [stamp], exporters: [keep/a] }
    untouched: { receivers: [fake], exporters: [keep/b] }
`), createRegistry(factories));
  const service = new Service(cfg, testHost());
  await service.start();
  const r = rec('e', 't', { 'process.pid': 1, list: ['x'] });
  input.next(r);
  await service.shutdown();
  assert.equal(seen.a![0]!.stamped, true);
  assert.equal(seen.b![0]!.stamped, undefined, 'the other pipeline does not see the change');
  assert.equal(seen.b![0], r, 'the untouched pipeline gets the record itself');
  assert.notEqual(seen.a![0], r);
  // the same event, with its own sequence number as it leaves a different pipeline
  assert.deepEqual({ ...seen.a![0], stamped: undefined, 'kite.seq': undefined }, { ...r, stamped: undefined, 'kite.seq': undefined });
});

test('cloneRecord copies every attribute and every list, so changing the copy leaves the original as it was', () => {
  const orig: KiteRecord = { time: 't', 'event.name': 'process.exec', 'kite.event_id': 'e1', 'process.pid': 7, 'kite.flag': true, 'kite.none': null as never, 'process.command_args': ['/bin/sh', '-c', 'x'], 'kite.odd': { nested: [1] } as never };
  const copy = cloneRecord(orig);
  assert.deepEqual(copy, orig);
  (copy['process.command_args'] as string[]).push('y');
  ((copy['kite.odd'] as unknown as { nested: number[] }).nested).push(2);
  copy['process.pid'] = 8;
  assert.deepEqual(orig['process.command_args'], ['/bin/sh', '-c', 'x']);
  assert.deepEqual(orig['kite.odd'], { nested: [1] });
  assert.equal(orig['process.pid'], 7);
});
