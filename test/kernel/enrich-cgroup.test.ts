/**
 * enrich names the cgroup of short-lived processes: each program a long-lived parent starts exits
 * before enrich can read its /proc/<pid>/cgroup, so enrich reads the cgroup through the parent, and
 * keeps that reading only when the parent's cgroup folder is the very cgroup (its inode is the id).
 * A python parent moves itself into a cgroup of the test's own, then runs /bin/true twenty times, a
 * tenth of a second apart; the exec records carry that cgroup's path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { createLogger } from '../../src/component/logger';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createHost, Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { unifiedCgroupRoot } from '../helpers/containers';

const TAG = `kite-cg-${randomUUID().slice(0, 8)}`;
const RUNS = 20;
const dir = mkdtempSync(join(tmpdir(), 'kite-cg-'));
const out = join(dir, 'records.jsonl');
const cgroupName = `/${TAG}.scope`;
const cgroupDir = join(unifiedCgroupRoot(), cgroupName);
let service: Service | null = null;
let records: KiteRecord[] = [];

before(async () => {
  setLibbpfLogger(() => {});
  mkdirSync(cgroupDir);
  const config = `
receivers:
  exec: { ring_buffer_size: 4MiB }
processors:
  enrich: {}
  filter:
    include: 'event.name == "process.exec" && process.command_line == "/bin/true ${TAG}"'
exporters:
  file: { path: ${out} }
service:
  pipelines:
    cg: { receivers: [exec], processors: [enrich, filter], exporters: [file] }
`;
  service = new Service(resolveConfig(parseConfigText(config), createRegistry()), createHost(createLogger('warn')));
  await service.start();
  const py = [
    'import os, subprocess, sys, time',
    `open(${JSON.stringify(join(cgroupDir, 'cgroup.procs'))}, 'w').write(str(os.getpid()))`,
    `for i in range(${RUNS}):`,
    `    subprocess.run(['/bin/true', '${TAG}'], check=True)`,
    '    time.sleep(0.1)',
  ].join('\n');
  const parent = spawn('/usr/bin/python3', ['-c', py], { stdio: 'inherit' });
  const [code] = (await once(parent, 'exit')) as [number | null];
  assert.equal(code, 0);
  await new Promise((r) => setTimeout(r, 300));
  await service.shutdown();
  service = null;
  records = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord)
    .filter((r) => r['event.name'] === 'process.exec');
});

after(async () => {
  await service?.shutdown();
  try {
    rmdirSync(cgroupDir);
  } catch {
    // not created, or still in use: nothing of ours runs in it by now
  }
  rmSync(dir, { recursive: true, force: true });
});

test('the exec records of short-lived programs carry their cgroup, read through their parent', () => {
  assert.equal(records.length, RUNS, `one exec record per run: ${records.map((r) => r['process.command_line']).join(', ')}`);
  // the first may pass before the cgroup is read (enrich never holds a record for it); by the second
  // run, a tenth of a second later, it is known
  const later = records.slice(2);
  for (const r of later) assert.equal(r['kite.cgroup.path'], cgroupName, `cgroup of ${r['process.pid']}: ${JSON.stringify(later.map((x) => x['kite.cgroup.path']))}`);
});
