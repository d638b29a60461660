/**
 * Which receivers a filter's plan is offered to: those feeding only its pipeline, with the filter at
 * the head (after enrich at most), and not the exec receiver behind an enrich (enrich learns processes
 * from its records). No kernel: the plans are computed from the config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { testHost } from '../helpers/host';

function plans(yaml: string): string[] {
  const cfg = resolveConfig(parseConfigText(yaml), createRegistry());
  const s = new Service(cfg, testHost()) as unknown as { pushdownPlans(c: typeof cfg): Map<string, unknown> };
  return [...s.pushdownPlans(cfg).keys()].sort();
}

const EXPORTERS = 'exporters: {file: {path: /dev/null}}\n';

test('a filter heading a pipeline is offered to its receivers, behind enrich too, except exec behind enrich', () => {
  assert.deepEqual(plans(`receivers: {exec: {}, file: {}, connect: {}}
processors: {filter: {include: 'process.pid == 5'}}
${EXPORTERS}service: {pipelines: {main: {receivers: [exec, file, connect], processors: [filter], exporters: [file]}}}
`), ['connect', 'exec', 'file']);
  assert.deepEqual(plans(`receivers: {exec: {}, file: {}}
processors: {enrich: {}, filter: {include: 'process.pid == 5'}}
${EXPORTERS}service: {pipelines: {main: {receivers: [exec, file], processors: [enrich, filter], exporters: [file]}}}
`), ['file'], 'enrich learns processes from the exec receiver: its records are not thinned in the kernel');
  assert.deepEqual(plans(`receivers: {exec: {}}
processors: {filter: {include: 'process.pid == 5', pushdown: false}}
${EXPORTERS}service: {pipelines: {main: {receivers: [exec], processors: [filter], exporters: [file]}}}
`), [], 'pushdown: false');
  assert.deepEqual(plans(`receivers: {exec: {}}
processors: {dedupe: {keys: [process.pid]}, filter: {include: 'process.pid == 5'}}
${EXPORTERS}service: {pipelines: {main: {receivers: [exec], processors: [dedupe, filter], exporters: [file]}}}
`), [], 'not at the head');
});
