// kite:host-only (runs podman containers, which the test guest does not have)
/**
 * exec -> enrich -> filter -> dedupe -> file, on the real kernel (root), through the pipeline service.
 * A process tree (a shell runs a child shell, five times, which runs a grandchild) runs inside a real
 * container (podman + runc, as user 1234 known only to the container's /etc/passwd), and again on the
 * host as nobody inside a cgroup named like a docker container's. The test checks the ancestry, user
 * and group names (the container's own, the host's), container ids and runtimes, and the repeat counts
 * dedupe folded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
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
import { buildBusyboxImage, runContainer, unifiedCgroupRoot } from '../helpers/containers';

const TAG = `kite-e2e-${randomUUID().slice(0, 8)}`;
const IMAGE = `localhost/kite-test-processors:${TAG}`;
const FAKE_ID = randomBytes(32).toString('hex');
const REPEATS = 5;
const dir = mkdtempSync(join(tmpdir(), 'kite-e2e-'));
const out = join(dir, 'records.jsonl');
let removeImage = (): void => {};
let cgroupParent = '';
let cgroupDir = '';
let service: Service;
let records: KiteRecord[] = [];
let containerId = '';
const hostStats = createHost(createLogger('warn'));

// the child shell runs the grandchild and then exits: busybox and dash fork for a command that is not the last
const tree = (sh: string, yes: string) => `sleep 1; for i in 1 2 3 4 5; do ${sh} -c '${yes} ${TAG}-grandchild; exit 0' ${TAG}-child; done`;
const dump = (): string => JSON.stringify(records.map((r) => [r['event.name'], line(r).slice(-30), r['container.id'] === undefined ? '-' : String(r['container.id']).slice(0, 6), r['process.user.name'], r['kite.repeat_count']]));

const config = `
receivers:
  exec: { ring_buffer_size: 4MiB }
processors:
  enrich: { ancestry_depth: 4 }
  filter:
    include: 'event.name == "process.exec" && process.command_line.contains("${TAG}") && process.command_line.startsWith("/bin/")'
  dedupe:
    keys: [event.name, process.command_line, container.id]
    window: 1m
exporters:
  file: { path: ${out} }
service:
  pipelines:
    e2e: { receivers: [exec], processors: [enrich, filter, dedupe], exporters: [file] }
`;

before(async () => {
  setLibbpfLogger(() => {});
  removeImage = buildBusyboxImage(IMAGE, {
    passwd: 'root:x:0:0:root:/root:/bin/sh\nkiteuser:x:1234:1234:in the container only:/tmp:/bin/sh\n',
    group: 'root:x:0:\nkitegrp:x:1234:\n',
  });
  cgroupParent = join(unifiedCgroupRoot(), `kite-test-${TAG}.slice`);
  cgroupDir = join(cgroupParent, `docker-${FAKE_ID}.scope`);
  mkdirSync(cgroupDir, { recursive: true });
  service = new Service(resolveConfig(parseConfigText(config), createRegistry()), hostStats);
  await service.start();

  const c = await runContainer(IMAGE, ['/bin/sh', '-c', tree('/bin/sh', '/bin/true'), `${TAG}-top-in-container`], ['--user', '1234:1234']);
  assert.equal(c.code, 0, c.stderr);
  containerId = c.id;

  // on the host: move into the docker-named cgroup, then run the same tree as nobody
  const host = spawn('/bin/sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && exec setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c "${tree('/bin/sh', '/bin/true').replace(/"/g, '\\"')}" ${TAG}-top-on-host`], { stdio: 'ignore' });
  const [code] = (await once(host, 'exit')) as [number | null];
  assert.equal(code, 0);
  await new Promise((r) => setTimeout(r, 300));
  await service.shutdown(); // dedupe's open windows are flushed into the file
  records = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord)
    .filter((r) => r['event.name'] !== 'kite.heartbeat' && r['event.name'] !== 'kite.loss'); // the agent's own stream-health records
});

after(async () => {
  await service?.shutdown();
  removeImage();
  for (const d of [cgroupDir, cgroupParent]) {
    try {
      if (d) rmdirSync(d);
    } catch {
      // not created
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const execOf = (pred: (r: KiteRecord) => boolean): KiteRecord[] => records.filter((r) => r['kite.summary'] === undefined && pred(r));
const summaryOf = (pred: (r: KiteRecord) => boolean): KiteRecord[] => records.filter((r) => r['kite.summary'] === 'dedupe' && pred(r));
const line = (r: KiteRecord): string => String(r['process.command_line']);

test('in the container: ancestry, the container\'s own user and group names, container id and runtime', () => {
  assert.match(containerId, /^[0-9a-f]{64}$/);
  const inContainer = (r: KiteRecord) => r['container.id'] === containerId;
  const grandchildren = execOf((r) => inContainer(r) && line(r).endsWith(`${TAG}-grandchild`));
  assert.equal(grandchildren.length, 1, `the first grandchild passes, the repeats are folded: ${JSON.stringify(records.map(line))}`);
  const g = grandchildren[0]!;
  assert.equal(g['container.runtime'], 'podman');
  assert.equal(g['process.executable.path'], '/bin/busybox', 'the path as the container sees it');
  assert.equal(g['process.user.id'], 1234);
  assert.equal(g['process.user.name'], 'kiteuser', `from the container's /etc/passwd: ${dump()}`);
  assert.equal(g['process.group.name'], 'kitegrp', 'from the container\'s /etc/group');
  const cmds = g['kite.process.ancestors.command_line'] as string[];
  assert.equal(cmds[0], `/bin/sh -c /bin/true ${TAG}-grandchild; exit 0 ${TAG}-child`, 'the parent: the child shell');
  assert.ok(cmds[1]!.startsWith('/bin/sh -c sleep 1;') && cmds[1]!.endsWith(`${TAG}-top-in-container`), `the grandparent: the top shell, got ${cmds[1]}`);
  assert.match((g['kite.process.ancestors.executable.path'] as string[])[2] ?? '', /conmon$/, 'above the container\'s first process: podman\'s conmon on the host');
  assert.equal(g['process.parent.command_line'], cmds[0]);
  assert.equal((g['kite.process.ancestors.pid'] as number[])[0], g['process.parent_pid']);
  assert.equal((g['kite.process.ancestors.exec_id'] as string[]).length, 4);
  assert.notEqual(g['kite.process.exec_id'], g['kite.process.parent.exec_id']);
  assert.equal(g['host.name'], hostStats.resource['host.name']);
  assert.match(String(g['host.id']), /^[0-9a-f]{32}$/);
  assert.match(String(g['kite.host.boot_id']), /^[0-9a-f-]{36}$/);
});

test('in the container: the repeats of the child and of the grandchild are folded into one summary each', () => {
  for (const suffix of [`${TAG}-grandchild`, `${TAG}-child`]) {
    const s = summaryOf((r) => r['container.id'] === containerId && line(r).endsWith(suffix));
    assert.equal(s.length, 1, suffix);
    assert.equal(s[0]!['kite.repeat_count'], REPEATS - 1, 'the repeats, not counting the first');
    assert.equal(s[0]!['event.name'], 'process.exec');
    assert.ok(Date.parse(String(s[0]!['kite.repeat.first_time'])) < Date.parse(String(s[0]!['kite.repeat.last_time'])));
  }
  // the first records of a new cgroup may go without container attributes (resolved in the background)
  const top = execOf((r) => line(r).endsWith(`${TAG}-top-in-container`));
  assert.equal(top.length, 1, 'the top shell ran once: no summary');
  assert.equal(summaryOf((r) => line(r).endsWith(`${TAG}-top-in-container`)).length, 0);
});

test('on the host, in a cgroup named like a docker container\'s: docker id and runtime, host user names, host ancestry', () => {
  const inFake = (r: KiteRecord) => r['container.id'] === FAKE_ID;
  const [g] = execOf((r) => inFake(r) && line(r).endsWith(`${TAG}-grandchild`));
  assert.ok(g, `a grandchild record in the docker-named cgroup among ${JSON.stringify(records.map((r) => [line(r), r['container.id']]))}`);
  assert.equal(g['container.runtime'], 'docker');
  assert.equal(g['kite.cgroup.path'], `/kite-test-${TAG}.slice/docker-${FAKE_ID}.scope`);
  assert.equal(g['process.executable.path'], '/usr/bin/true');
  assert.equal(g['process.user.name'], 'nobody');
  assert.equal(g['process.group.name'], 'nogroup');
  const paths = g['kite.process.ancestors.executable.path'] as string[];
  assert.deepEqual(paths.slice(0, 2), ['/usr/bin/dash', '/usr/bin/dash'], 'child shell, top shell');
  const s = summaryOf((r) => inFake(r) && line(r).endsWith(`${TAG}-grandchild`));
  assert.equal(s.length, 1);
  assert.equal(s[0]!['kite.repeat_count'], REPEATS - 1);
});

test('every processor counted what it received and emitted', () => {
  const st = hostStats.stats.snapshot();
  const enrich = st['processor/enrich']!;
  const filter = st['processor/filter']!;
  const dedupe = st['processor/dedupe']!;
  assert.equal(enrich.received, enrich.emitted);
  assert.equal(filter.received, enrich.emitted);
  assert.ok(filter['filtered.not_included']! > 0);
  assert.equal(dedupe.received, filter.emitted);
  assert.equal(dedupe['dropped.duplicate'], 4 * (REPEATS - 1), 'two containers (one real, one named like one) x child and grandchild');
  assert.equal(dedupe.emitted, records.length);
});
