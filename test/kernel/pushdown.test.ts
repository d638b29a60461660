// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * Filter pushdown: simple predicates of a `filter` processor that heads a pipeline are installed in
 * the receiver's in-kernel filter, so what the filter would drop never reaches user space; the result
 * is the same as the filter alone. A receiver that feeds another pipeline too is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITE } from '../helpers/paths';
import { buildTestProgram, waitFor } from '../helpers/kernel';
import { readRecordLines } from '../helpers/events';

const trigger = buildTestProgram('trigger');

async function runAgent(yaml: string, body: (out: string) => Promise<void>): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kite-pd-'));
  const out = join(dir, 'out.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, yaml.replaceAll('OUT', out));
  const agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent.exitCode !== null ? (() => { throw new Error(err); })() : undefined), 15000, 'ready');
    await body(out);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  return err.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const records = (out: string) => readRecordLines(out);

test('a comm condition heading the pipeline is enforced in the kernel: same records, no user-space drops', async () => {
  const tag = `kite-${randomUUID()}`;
  const log = await runAgent(`receivers: {exec: {}}
processors:
  filter: {include: 'kite.process.comm == "trigger" && event.name == "process.exec"'}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [exec], processors: [filter], exporters: [file]}}
`, async (out) => {
    for (let i = 0; i < 5; i++) await once(spawn('/bin/echo', [tag], { stdio: 'ignore' }), 'exit');
    const t = spawn(trigger, ['0', tag], { stdio: 'ignore' });
    await once(t, 'exit');
    const rec = await waitFor(() => records(out).find((r) => r['process.pid'] === t.pid), 2000, 'the trigger exec');
    assert.equal(rec['kite.process.comm'], 'trigger');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(records(out).every((r) => r['kite.process.comm'] === 'trigger' && r['event.name'] === 'process.exec'), 'only what the filter keeps');
  });
  const pushed = log.find((l) => l.msg === 'filter pushed down into the kernel');
  assert.ok(pushed, 'the plan was pushed down');
  assert.deepEqual(pushed.predicates, ['kite.process.comm in ["trigger"]']);
  const stats = log.find((l) => l.msg === 'stopped')!.stats as Record<string, Record<string, number>>;
  assert.ok(stats['receiver/exec']!.filtered! > 0, `dropped in the kernel: ${JSON.stringify(stats['receiver/exec'])}`);
  const f = stats['processor/filter']!;
  assert.equal(f['dropped.not_included'] ?? 0, (f.received ?? 0) - (f.emitted ?? 0), 'user space dropped only what the kernel could not (fork and exit of trigger)');
  assert.ok((stats['receiver/exec']!.received ?? 0) < 20, `few records crossed into user space: ${stats['receiver/exec']!.received}`);
});

test('no pushdown when the receiver also feeds a pipeline without the filter', async () => {
  const log = await runAgent(`receivers: {exec: {}}
processors:
  filter: {include: 'kite.process.comm == "trigger"'}
exporters: {file: {path: OUT}, file/all: {path: OUT.all}}
service:
  telemetry: {enabled: false}
  pipelines:
    main: {receivers: [exec], processors: [filter], exporters: [file]}
    all: {receivers: [exec], exporters: [file/all]}
`, async (out) => {
    const tag = `kite-${randomUUID()}`;
    const e = spawn('/bin/echo', [tag], { stdio: 'ignore' });
    await once(e, 'exit');
    await waitFor(() => records(`${out}.all`).find((r) => r['process.pid'] === e.pid), 2000, 'the echo in the unfiltered pipeline');
  });
  assert.equal(log.find((l) => l.msg === 'filter pushed down into the kernel'), undefined);
});
