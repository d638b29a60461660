/**
 * Fan-out: a receiver feeding two pipelines hands each the same records; a pipeline whose processors
 * change records in place gets its own copies, so the other pipeline never sees the changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { map, Subject } from 'rxjs';
import { AnyFactory, KiteRecord } from '../../src/component/component';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { Service } from '../../src/pipeline/service';
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
