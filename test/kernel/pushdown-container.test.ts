// kite:host-only (runs a podman container, which the test guest does not have)
/**
 * Filter pushdown of `container.id`: the id of a real podman container, resolved to its cgroups and
 * enforced by the shared in-kernel cgroup filter; the same records with pushdown on and off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestProgram } from '../helpers/kernel';
import { buildBusyboxImage, PODMAN_RUN } from '../helpers/containers';
import { onAndOff, userSpaceFiltered } from '../helpers/agent-runs';

const fileops = buildTestProgram('fileops');

test('container.id (from enrich) is enforced as the container\'s cgroups: same records, host processes never reach user space', async () => {
  const tag = `localhost/kite-pd-${randomUUID().slice(0, 8)}:latest`;
  const removeImage = buildBusyboxImage(tag, { 'kite-pd': 'x\n' });
  const cidDir = mkdtempSync(join(tmpdir(), 'kite-pdc-'));
  const cidfile = join(cidDir, 'cid');
  const name = `kite-pd-${randomUUID().slice(0, 8)}`;
  const podman = (...args: string[]): void => { execFileSync('podman', ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs', ...args], { stdio: 'ignore' }); };
  try {
    execFileSync('podman', [...PODMAN_RUN.filter((a) => a !== '--rm'), '-d', '--name', name, '--cidfile', cidfile, tag, '/bin/sleep', '120'], { stdio: 'ignore' });
    const id = readFileSync(cidfile, 'utf8').trim();
    const { on, off } = await onAndOff((pushdown) => `receivers:
  file: {paths: {include: [/etc/kite-pd], exclude: []}, operations: [open]}
processors:
  enrich: {}
  filter: {include: 'container.id == "${id}"', pushdown: ${pushdown}}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [file], processors: [enrich, filter], exporters: [file]}}
`, async () => {
      // enrich learns the container's cgroup from the first record of it, read from /proc off the hot
      // path: the shell lives long enough to be read
      podman('exec', '-d', name, '/bin/sh', '-c', 'read x < /etc/kite-pd; sleep 3');
      await new Promise((r) => setTimeout(r, 500));
      const host = spawn(fileops, ['repeat:100:/etc/kite-pd'], { stdio: 'ignore' });
      await once(host, 'close');
      for (let i = 0; i < 3; i++) podman('exec', name, '/bin/cat', '/etc/kite-pd');
    });
    assert.deepEqual(on.pushed, [`container.id in ["${id}"]`]);
    const project = (rs: Record<string, unknown>[]) => rs.map((r) => `${r['event.name']} ${r['file.path']} ${r['kite.process.comm']} ${r['container.id']} ${r['container.runtime']} ${r['kite.file.result']}`).sort();
    assert.deepEqual(project(on.records), project(off.records), 'the same records with pushdown on and off');
    const cats = on.records.filter((r) => r['kite.process.comm'] === 'cat');
    assert.equal(cats.length, 3, 'the three opens in the container');
    assert.ok(on.records.every((r) => r['container.id'] === id));
    // with pushdown the filter removes at most the container's first record, which reached enrich
    // before it had read the container's cgroup (no container.id yet: filtered as an include error),
    // with pushdown and without
    const f = on.stats['processor/filter']!;
    assert.ok(userSpaceFiltered(f) <= 1 && userSpaceFiltered(f) === (f['filtered.include_error'] ?? 0), `with pushdown the filter removed nothing else: ${JSON.stringify(f)}`);
    assert.ok(on.stats['receiver/file']!.filtered! >= 100, `the host's opens were dropped in the kernel: ${on.stats['receiver/file']!.filtered}`);
    assert.ok(userSpaceFiltered(off.stats['processor/filter']) >= 100, `without pushdown the filter removed them in user space: ${JSON.stringify(off.stats['processor/filter'])}`);
  } finally {
    try {
      execFileSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
    } catch {
      // not started
    }
    rmSync(cidDir, { recursive: true, force: true });
    removeImage();
  }
});
