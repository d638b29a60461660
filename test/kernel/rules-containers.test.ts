// kite:host-only (runs podman containers, which the test guest does not have)
/**
 * The default ruleset's container rules on the real kernel (root), through the agent's pipeline run
 * in-process (exec and file receivers -> enrich -> rules -> file exporter), with a real podman container
 * (runc) and a host cgroup named like a docker container's: a shell run in the container, a shell with a
 * terminal attached to it (`podman exec -t`), a write below /bin inside it; and their look-alikes (a
 * non-shell program in the container, a terminal shell on the host). Alerts are matched by a tag in
 * the command lines and by the container's id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { createLogger } from '../../src/component/logger';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createHost, Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { buildBusyboxImage, PODMAN_RUN, runContainer, unifiedCgroupRoot } from '../helpers/containers';
import { ms, waitFor } from '../helpers/kernel';
import { readRecordLines } from '../helpers/events';

const TAG = `kite-rules-ctr-${randomUUID().slice(0, 8)}`;
const IMAGE = `localhost/kite-test-rules:${TAG}`;
const NAME = TAG;
const FAKE_ID = randomBytes(32).toString('hex');
const PODMAN = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
const dir = mkdtempSync(join(tmpdir(), 'kite-rules-ctr-'));
const out = join(dir, 'records.jsonl');
const host = createHost(createLogger('warn'));
let service: Service;
let removeImage = (): void => {};
let containerId = '';
let cgroupParent = '';
let cgroupDir = '';

const config = `
receivers:
  exec: { ring_buffer_size: 4MiB }
  file: {}
processors:
  enrich: {}
  rules: {}
exporters:
  file: { path: ${out} }
service:
  telemetry: { enabled: false }
  pipelines:
    detect: { receivers: [exec, file], processors: [enrich, rules], exporters: [file] }
`;

async function podman(args: string[]): Promise<number | null> {
  const child = spawn('podman', [...PODMAN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'close')) as [number | null];
  return code;
}

function records(): KiteRecord[] {
  if (!existsSync(out)) return [];
  return readRecordLines(out);
}

const tagged = (suffix: string) => (r: KiteRecord): boolean => String(r['process.command_line'] ?? '').endsWith(`${TAG}-${suffix}`);
const alertsOf = (suffix: string, rule?: string): KiteRecord[] =>
  records().filter((r) => r['event.name'] === 'kite.alert' && tagged(suffix)(r) && (rule === undefined || r['kite.rule.name'] === rule));
const alertOf = (suffix: string, rule: string): Promise<KiteRecord> =>
  waitFor(() => alertsOf(suffix, rule)[0], ms(5000), `alert "${rule}" for ${suffix} among ${JSON.stringify(records().filter((r) => r['event.name'] === 'kite.alert').map((r) => [r['kite.rule.name'], String(r['process.command_line']).slice(-40)]))}`);

/** Waits until the exec record of `suffix` went through the pipeline, then a little more: no alert of `rule`. */
async function noAlert(suffix: string, rule: string): Promise<void> {
  await waitFor(() => records().find((r) => r['event.name'] === 'process.exec' && tagged(suffix)(r)), ms(5000), `the exec of ${suffix}`);
  await new Promise((r) => setTimeout(r, ms(300)));
  assert.deepEqual(alertsOf(suffix, rule).map((a) => a['kite.rule.output']), [], `no "${rule}" for ${suffix}`);
}

before(async () => {
  setLibbpfLogger(() => {});
  removeImage = buildBusyboxImage(IMAGE, { passwd: 'root:x:0:0:root:/root:/bin/sh\n', group: 'root:x:0:\n' });
  service = new Service(resolveConfig(parseConfigText(config), createRegistry()), host);
  await service.start();
  // PODMAN_RUN is `... run --rm <ulimits>`: detached, named
  containerId = execFileSync('podman', [...PODMAN_RUN, '-d', '--name', NAME, IMAGE, '/bin/sleep', '120'], { encoding: 'utf8' }).trim();
  assert.match(containerId, /^[0-9a-f]{64}$/);
  // the first records of a new cgroup may go without container attributes and user names (enrich
  // resolves them in the background): warm-up execs, until records of the container carry them
  await waitFor(async () => {
    await podman(['exec', NAME, '/bin/true', `${TAG}-warmup`]);
    return records().find((r) => r['container.id'] === containerId && r['event.name'] === 'process.exec' && r['process.user.name'] === 'root') ? true : undefined;
  }, ms(10000), 'records of the container with its id and the user names of its /etc/passwd');
  cgroupParent = join(unifiedCgroupRoot(), `kite-test-${TAG}.slice`);
  cgroupDir = join(cgroupParent, `docker-${FAKE_ID}.scope`);
  mkdirSync(cgroupDir, { recursive: true });
});

after(async () => {
  await service?.shutdown();
  if (containerId) await podman(['rm', '-f', '-t', '0', NAME]);
  removeImage();
  for (const d of [cgroupDir, cgroupParent]) {
    try {
      if (d) rmdirSync(d);
    } catch {
      // not created, or still populated for a moment
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('Shell in a container: podman exec of a shell, with the container\'s id, runtime and user; not a non-shell busybox applet', async () => {
  assert.equal(await podman(['exec', NAME, '/bin/sh', '-c', 'exit 0', `${TAG}-shell`]), 0);
  const a = await alertOf('shell', 'Shell in a container');
  assert.equal(a['container.id'], containerId);
  assert.equal(a['container.runtime'], 'podman');
  assert.equal(a['process.executable.path'], '/bin/busybox', 'the path as the container sees it');
  assert.equal((a['process.command_args'] as string[])[0], '/bin/sh');
  assert.equal(a['process.user.name'], 'root', 'from the container\'s /etc/passwd');
  assert.equal(a['kite.process.stdin.type'], 'char_device', 'podman exec without -t or -i: /dev/null');
  assert.ok(a['process.parent.executable.path'], 'the parent is known');
  assert.equal(a['kite.rule.priority'], 'notice');
  assert.equal(alertsOf('shell', 'Terminal shell in a container').length, 0);
  assert.equal(await podman(['exec', NAME, '/bin/echo', `${TAG}-echo`]), 0);
  await noAlert('echo', 'Shell in a container');
});

test('Shell in a container: the container\'s first process is the shell (podman run), alerted with the container\'s id', async () => {
  const c = await runContainer(IMAGE, ['/bin/sh', '-c', 'exit 0', `${TAG}-run`]);
  assert.equal(c.code, 0, c.stderr);
  const a = await alertOf('run', 'Shell in a container');
  assert.equal(a['container.id'], c.id, 'known from the cgroup\'s name on the very first record of the container');
  assert.equal(a['container.runtime'], 'podman');
});

test('Terminal shell in a container: podman exec -t; not a terminal shell on the host', async () => {
  assert.equal(await podman(['exec', '-t', NAME, '/bin/sh', '-c', 'exit 0', `${TAG}-tty`]), 0);
  const a = await alertOf('tty', 'Terminal shell in a container');
  assert.equal(a['container.id'], containerId);
  assert.equal(a['kite.process.stdin.type'], 'tty');
  assert.equal(a['kite.rule.priority'], 'warning');
  assert.equal(alertsOf('tty', 'Shell in a container').length, 0, 'one alert: the terminal one');
  const onHost = spawn('script', ['-qec', `/bin/sh -c 'exit 0' ${TAG}-hosttty`, '/dev/null'], { stdio: 'ignore' });
  await once(onHost, 'close');
  const hostExec = await waitFor(() => records().find((r) => r['event.name'] === 'process.exec' && tagged('hosttty')(r) && r['process.executable.path'] === '/usr/bin/dash'), ms(5000), 'the host shell');
  assert.equal(hostExec['kite.process.stdin.type'], 'tty');
  await noAlert('hosttty', 'Terminal shell in a container');
  await noAlert('hosttty', 'Shell in a container');
});

test('Write below a binary directory inside the container: the alert names the container', async () => {
  assert.equal(await podman(['exec', NAME, '/bin/sh', '-c', `echo x > /bin/${TAG}; exit 0`, `${TAG}-write`]), 0);
  const a = await waitFor(() => records().find((r) => r['event.name'] === 'kite.alert' && r['kite.rule.name'] === 'Write below a binary directory' && r['file.path'] === `/bin/${TAG}`), ms(5000), 'the write alert');
  assert.equal(a['container.id'], containerId);
  assert.equal(a['kite.process.comm'], 'sh');
});

test('Shell in a container, for a cgroup named like a docker container\'s: runtime docker', async () => {
  const sh = spawn('/bin/sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && sleep 0.5 && /bin/sh -c 'exit 0' ${TAG}-docker`], { stdio: 'ignore' });
  const [code] = (await once(sh, 'close')) as [number | null];
  assert.equal(code, 0);
  const a = await alertOf('docker', 'Shell in a container');
  assert.equal(a['container.id'], FAKE_ID);
  assert.equal(a['container.runtime'], 'docker');
  assert.equal(a['process.executable.path'], '/usr/bin/dash');
});
