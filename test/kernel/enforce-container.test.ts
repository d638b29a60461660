// kite:host-only (runs podman containers, which the test guest does not have)
/**
 * Kill at exec scoped to a container (root, real podman containers; kite:host-only): a rule naming a
 * container id kills the matching program inside that container only. The container's cgroup is
 * found by walking the cgroup file system; a container created before the agent but started after it
 * is found by the rescan.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { compileEnforcement } from '../../src/enforce/compile';
import { Enforcer } from '../../src/enforce/enforcer';
import { testHost } from '../helpers/host';
import { buildBusyboxImage, PODMAN_RUN } from '../helpers/containers';
import { waitFor } from '../helpers/kernel';

const image = `localhost/kite-enforce-${randomUUID().slice(0, 8)}:latest`;
const podman = PODMAN_RUN.slice(0, PODMAN_RUN.indexOf('run'));
const runOpts = PODMAN_RUN.slice(PODMAN_RUN.indexOf('run') + 1);
let removeImage: () => void = () => {};
const containers: string[] = [];
let running = '';
let later = '';
let other = '';
const host = testHost();
const records: KiteRecord[] = [];
let enforcer: Enforcer | undefined;

function podmanOut(args: string[]): string {
  return execFileSync('podman', [...podman, ...args], { encoding: 'utf8' }).trim();
}

async function exec(id: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn('podman', [...podman, 'exec', id, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out };
}

before(async () => {
  setLibbpfLogger(() => {});
  removeImage = buildBusyboxImage(image, { 'kite-note': 'kite-enforce\n' });
  const opts = runOpts.filter((o) => o !== '--rm');
  running = podmanOut(['run', '-d', ...opts, image, 'sleep', '300']);
  other = podmanOut(['run', '-d', ...opts, image, 'sleep', '300']);
  later = podmanOut(['create', ...opts, image, 'sleep', '300']);
  containers.push(running, other, later);
  const rules = [
    compileEnforcement({ name: 'no-cat-in-container', action: 'kill', condition: `container.id == "${running}" && kite.process.comm == "cat"` }),
    compileEnforcement({ name: 'no-cat-later', action: 'kill', condition: `container.id in ["${later}"] && kite.process.comm == "cat"` }),
  ].map((c) => {
    assert.ok(c.ok, c.ok ? '' : c.problem);
    return c.rule;
  });
  enforcer = new Enforcer(host, rules, { component: 'processor/rules', containerRescanMs: 200 });
  enforcer.records$.subscribe((r) => records.push(r));
  await enforcer.start();
});

after(async () => {
  await enforcer?.shutdown();
  for (const id of containers) {
    try {
      execFileSync('podman', [...podman, 'rm', '-f', '-t', '0', id], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
  removeImage();
});

test('cat in the named container is killed at exec; the record names the container', async () => {
  const r = await exec(running, ['cat', '/etc/kite-note']);
  assert.equal(r.code, 137, 'podman exec reports the SIGKILL as 137');
  assert.equal(r.out, '', 'cat never printed anything');
  const rec = await waitFor(() => records.find((x) => x['kite.rule.name'] === 'no-cat-in-container'), 3000, 'the enforcement record');
  assert.equal(rec['container.id'], running);
  assert.equal(rec['process.executable.path'], '/bin/busybox', 'the path as the container sees it');
  assert.deepEqual(rec['process.command_args'], ['cat', '/etc/kite-note']);
  assert.equal(rec['kite.enforcement.outcome'], 'killed');
});

test('other commands in that container, and cat in another container and on the host, run', async () => {
  const echo = await exec(running, ['echo', 'alive']);
  assert.equal(echo.code, 0);
  assert.equal(echo.out.trim(), 'alive');
  const elsewhere = await exec(other, ['cat', '/etc/kite-note']);
  assert.equal(elsewhere.code, 0);
  assert.equal(elsewhere.out.trim(), 'kite-enforce');
  const onHost = execFileSync('cat', ['/proc/sys/kernel/ostype'], { encoding: 'utf8' });
  assert.equal(onHost.trim(), 'Linux');
});

test('a container started after the rules is found by the rescan and enforced', async () => {
  podmanOut(['start', later]);
  await waitFor(() => host.logs.find((l) => l.msg === 'container found: its enforcement rules apply' && l.container === later), 5000, 'the rescan to find the container');
  const r = await exec(later, ['cat', '/etc/kite-note']);
  assert.equal(r.code, 137);
  const rec = await waitFor(() => records.find((x) => x['kite.rule.name'] === 'no-cat-later'), 3000, 'the enforcement record');
  assert.equal(rec['container.id'], later);
});
