// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * Filter pushdown: simple predicates of a `filter` processor that heads a pipeline are installed in
 * the receiver's in-kernel filter, so what the filter would drop never reaches user space; the result
 * is the same as the filter alone (each test runs the same workload with `pushdown: true` and
 * `false`). Fields: comm, file.path prefixes (file receiver), network.peer.port (connect receiver);
 * container.id in pushdown-container.test.ts. A receiver that feeds another pipeline too is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { AddressInfo, createServer } from 'node:net';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestProgram, waitFor } from '../helpers/kernel';
import { onAndOff, records, runAgent, userSpaceFiltered } from '../helpers/agent-runs';

const trigger = buildTestProgram('trigger');

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
  assert.equal(f['filtered.not_included'] ?? 0, (f.received ?? 0) - (f.emitted ?? 0), 'user space dropped only what the kernel could not (fork and exit of trigger)');
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

const fileops = buildTestProgram('fileops');
const netops = buildTestProgram('netops');

test('file.path.startsWith is enforced in the watched-prefix trie: same records, the others never reach user space', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kite-pdf-'));
  mkdirSync(join(dir, 'keep'));
  mkdirSync(join(dir, 'other'));
  writeFileSync(join(dir, 'keep', 'a'), 'a');
  writeFileSync(join(dir, 'other', 'b'), 'b');
  const { on, off } = await onAndOff((pushdown) => `receivers:
  file: {paths: {include: [${dir}], exclude: []}, operations: [open]}
processors:
  filter: {include: "file.path.startsWith('${dir}/keep/')", pushdown: ${pushdown}}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [file], processors: [filter], exporters: [file]}}
`, async () => {
    const p = spawn(fileops, [`repeat:200:${dir}/other/b`, `open:${dir}/keep/a`, `open:${dir}/keep`, `open:${dir}/keep/missing`, `repeat:3:${dir}/keep/a`, `open:${dir}/keeper`], { stdio: 'ignore' });
    await once(p, 'close');
  });
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(on.pushed, [`file.path starts with ["${dir}/keep/"]`]);
  assert.equal(off.pushed, undefined);
  const project = (rs: Record<string, unknown>[]) => rs.map((r) => `${r['event.name']} ${r['file.path']} ${r['kite.file.result']} ${r['error.type'] ?? ''}`).sort();
  assert.deepEqual(project(on.records), project(off.records), 'the same records with pushdown on and off');
  assert.equal(on.records.length, 5, 'keep/a four times and keep/missing');
  assert.equal(userSpaceFiltered(on.stats['processor/filter']), 0, 'with pushdown the filter removed nothing: what it would remove never reached user space');
  assert.equal(on.stats['receiver/file']!.received, on.records.length);
  assert.ok(userSpaceFiltered(off.stats['processor/filter']) >= 202, `without pushdown the filter removed them in user space: ${JSON.stringify(off.stats['processor/filter'])}`);
  assert.ok(on.stats['receiver/file']!.path_filtered! >= 202, 'counted by the kernel as path_filtered');
});

test('network.peer.port is enforced in the connect receiver\'s port filter: same records, the others never reach user space', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    ports.push((s.address() as AddressInfo).port);
    await new Promise<void>((r) => s.close(() => r()));
  }
  const [keep, other] = ports as [number, number];
  const pair = async (port: number): Promise<void> => {
    const l = spawn(netops, ['listen', '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    l.stdout!.on('data', (d) => { out += d; });
    await waitFor(() => (out.includes('listening') ? true : undefined), 5000, 'listening');
    const c = spawn(netops, ['connect', '127.0.0.1', String(port)], { stdio: 'ignore' });
    await Promise.all([once(c, 'close'), once(l, 'close')]);
  };
  const { on, off } = await onAndOff((pushdown) => `receivers:
  connect: {udp: false}
processors:
  filter: {include: 'network.peer.port == ${keep}', pushdown: ${pushdown}}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [connect], processors: [filter], exporters: [file]}}
`, async () => {
    for (let i = 0; i < 10; i++) await pair(other);
    for (let i = 0; i < 3; i++) await pair(keep);
  });
  assert.deepEqual(on.pushed, [`network.peer.port in [${keep}]`]);
  const project = (rs: Record<string, unknown>[]) => rs.map((r) => `${r['event.name']} ${r['network.peer.address']}:${r['network.peer.port']} ${r['kite.network.result']} ${r['kite.process.comm']}`).sort();
  assert.deepEqual(project(on.records), project(off.records), 'the same records with pushdown on and off');
  assert.equal(on.records.filter((r) => r['event.name'] === 'network.connect').length, 3, 'the three connections to the kept port');
  assert.equal(userSpaceFiltered(on.stats['processor/filter']), 0, 'with pushdown the filter removed nothing');
  assert.equal(on.stats['receiver/connect']!.received, on.records.length);
  assert.ok(userSpaceFiltered(off.stats['processor/filter']) >= 23, `without: the 10 connects and 13 accepts reached user space: ${JSON.stringify(off.stats['processor/filter'])}`);
  assert.ok(on.stats['receiver/connect']!.peer_filtered! >= 23, 'counted by the kernel as peer_filtered');
});
