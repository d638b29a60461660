// kite:host-only (runs containerd and a pod through its CRI plugin, which the test guest does not have)
/**
 * enrich with a real CRI runtime: the test starts its own containerd (Debian's, with the CRI plugin;
 * its own root, state and socket), runs a pod sandbox and a container through the CRI RuntimeService
 * like a kubelet would, and checks that the agent's exec records of the container's processes carry
 * the pod's name, namespace, labels and the container's name. Without the endpoint the agent keeps
 * running and says so once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { waitFor } from '../helpers/kernel';
import { records, runAgent } from '../helpers/agent-runs';
import { CriClient, decode, mapEntries, Msg } from '../../src/processors/enrich/cri';

const dir = mkdtempSync(join(tmpdir(), 'kite-cri-'));
const sock = join(dir, 'containerd.sock');
const image = `localhost/kite-cri-${randomUUID().slice(0, 8)}:1`;
const podUid = randomUUID();
let containerd: ChildProcess | null = null;
let client: CriClient | null = null;
let sandboxId = '';
let containerId = '';

/** Every cgroup hierarchy's mount point (v1 controllers and the unified one). */
const cgroupMounts = (): string[] => readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2').map((f) => f[1]!);
/** The pod's cgroup folders, innermost first: containerd makes them and, unlike a kubelet, leaves them. */
const podCgroups = (): string[] => cgroupMounts().flatMap((m) => [join(m, 'kubepods', 'besteffort', `pod${podUid}`), join(m, 'kubepods', 'besteffort'), join(m, 'kubepods')]);
let preexisting = new Set<string>();

const ctr = (...args: string[]): void => { execFileSync('ctr', ['-a', sock, '-n', 'k8s.io', ...args], { stdio: 'ignore' }); };

function sandboxConfig(): Msg {
  return [
    [1, [[1, 'web-0'], [2, podUid], [3, 'shop'], [4, 0]]], // metadata: name, uid, namespace, attempt
    [3, join(dir, 'logs')], // log_directory
    ...mapEntries(6, { app: 'web', tier: 'front' }), // labels
    // linux: cgroup_parent as a kubelet with the cgroupfs driver sets it; host network, pid and ipc
    [8, [[1, `/kubepods/besteffort/pod${podUid}`], [2, [[1, [[1, 2], [2, 2], [3, 2]]]]]]],
  ];
}

before(async () => {
  preexisting = new Set(podCgroups().filter((d) => existsSync(d)));
  // containerd's default config with its own directories; oom_score_adj cannot be lowered here
  const config = execFileSync('containerd', ['config', 'default'], { encoding: 'utf8' })
    .replace(/^root = .*$/m, `root = "${join(dir, 'root')}"`)
    .replace(/^state = .*$/m, `state = "${join(dir, 'state')}"`)
    .replace(/address = "\/run\/containerd\/containerd\.sock"/, `address = "${sock}"`)
    .replace(/sandbox_image = .*/, `sandbox_image = "${image}"`)
    .replace(/restrict_oom_score_adj = false/, 'restrict_oom_score_adj = true');
  writeFileSync(join(dir, 'config.toml'), config);
  containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitFor(() => (existsSync(sock) ? true : undefined), 20000, 'the containerd socket');
  // one busybox image serves as the sandbox (pause) image and the container's image: no registry here
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'etc'));
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const c of ['sh', 'sleep', 'true']) symlinkSync('busybox', join(rootfs, 'bin', c));
  execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  execFileSync('podman', ['import', '--change', 'CMD ["/bin/sleep","1000000"]', join(dir, 'rootfs.tar'), image], { stdio: 'ignore' });
  execFileSync('podman', ['save', '-o', join(dir, 'image.tar'), image], { stdio: 'ignore' });
  execFileSync('podman', ['rmi', '-f', image], { stdio: 'ignore' });
  ctr('images', 'import', join(dir, 'image.tar'));
  mkdirSync(join(dir, 'logs'));
  client = new CriClient(`unix://${sock}`, ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'StopPodSandbox', 'RemovePodSandbox']);
  sandboxId = decode(await client.call('RunPodSandbox', [[1, sandboxConfig()]], 60000)).get(1)![0]!.toString();
  const containerConfig: Msg = [
    [1, [[1, 'app']]], // metadata: name
    [2, [[1, image]]], // image
    [3, '/bin/sh'],
    [3, '-c'],
    [3, 'while :; do /bin/true; /bin/sleep 0.2; done'],
    [11, 'app.log'],
  ];
  containerId = decode(await client.call('CreateContainer', [[1, sandboxId], [2, containerConfig], [3, sandboxConfig()]], 60000)).get(1)![0]!.toString();
  await client.call('StartContainer', [[1, containerId]], 60000);
});

after(async () => {
  try {
    if (client && sandboxId) {
      await client.call('StopPodSandbox', [[1, sandboxId]], 60000).catch(() => undefined);
      await client.call('RemovePodSandbox', [[1, sandboxId]], 60000).catch(() => undefined);
    }
    client?.close();
    try {
      ctr('images', 'rm', image);
    } catch {
      // not imported
    }
  } finally {
    if (containerd && containerd.exitCode === null) {
      containerd.kill('SIGTERM');
      await once(containerd, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
    for (const d of podCgroups()) {
      if (preexisting.has(d)) continue;
      try {
        rmdirSync(d);
      } catch {
        // not there, or still in use by something else
      }
    }
  }
});

test('a pod run through containerd\'s CRI: its processes carry the pod name, namespace, labels and container name', async () => {
  const log = await runAgent(`receivers: {exec: {}}
processors:
  enrich: {cri_endpoint: "unix://${sock}", cri_poll_interval: 500ms}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [exec], processors: [enrich], exporters: [file]}}
`, async (out) => {
    const rec = await waitFor(() => records(out).find((r) => r['event.name'] === 'process.exec' && r['container.id'] === containerId && r['k8s.pod.name'] !== undefined), 15000, 'an exec in the pod\'s container with its pod name');
    assert.equal(rec['k8s.pod.name'], 'web-0');
    assert.equal(rec['k8s.namespace.name'], 'shop');
    assert.equal(rec['k8s.pod.uid'], podUid);
    assert.equal(rec['k8s.pod.label.app'], 'web');
    assert.equal(rec['k8s.pod.label.tier'], 'front');
    assert.equal(rec['k8s.container.name'], 'app');
  });
  assert.ok(log.find((l) => l.msg === 'CRI endpoint reached: pod names, namespaces, labels and container names are added' && l.pods === 1), 'the agent says the endpoint was reached');
});

test('no CRI endpoint: one clear log line, and records keep flowing', async () => {
  const missing = join(dir, 'absent.sock');
  const log = await runAgent(`receivers: {exec: {}}
processors:
  enrich: {cri_endpoint: "unix://${missing}", cri_poll_interval: 500ms}
exporters: {file: {path: OUT}}
service:
  telemetry: {enabled: false}
  pipelines: {main: {receivers: [exec], processors: [enrich], exporters: [file]}}
`, async (out) => {
    const tag = `kite-${randomUUID()}`;
    const p = spawn('/bin/echo', [tag], { stdio: 'ignore' });
    await once(p, 'close');
    await waitFor(() => records(out).find((r) => r['process.pid'] === p.pid), 5000, 'the echo');
    await new Promise((r) => setTimeout(r, 1500)); // several polls
  });
  const warnings = log.filter((l) => String(l.msg).startsWith('CRI endpoint unavailable'));
  assert.equal(warnings.length, 1, 'said once, not per poll');
  assert.equal(warnings[0]!.endpoint, `unix://${missing}`);
  assert.equal(warnings[0]!.level, 'warn');
});
