/** Container id, runtime, pod uid and systemd unit from cgroup paths of every runtime and driver. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCgroupPath, parseProcCgroup } from '../../src/process/cgroup';

const ID = '1cc924a921ca072fa3f85fbaf34035f8231b3543db6b7d722ab637c690fcd849';
const UID = '0f5b2a3c-1234-4d6e-9abc-0123456789ab';

test('container ids and runtimes from cgroup paths', () => {
  const cases: [string, Record<string, string | undefined>][] = [
    [`/system.slice/docker-${ID}.scope`, { containerId: ID, containerRuntime: 'docker' }],
    [`/docker/${ID}`, { containerId: ID, containerRuntime: 'docker' }],
    [`/libpod_parent/libpod-${ID}`, { containerId: ID, containerRuntime: 'podman' }],
    [`/machine.slice/libpod-${ID}.scope`, { containerId: ID, containerRuntime: 'podman' }],
    [`/machine.slice/libpod-${ID}.scope/container`, { containerId: ID, containerRuntime: 'podman' }],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`, { containerId: ID, containerRuntime: 'containerd', podUid: UID }],
    [`/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/crio-${ID}.scope`, { containerId: ID, containerRuntime: 'cri-o', podUid: UID }],
    [`/kubepods/besteffort/pod${UID}/${ID}`, { containerId: ID, containerRuntime: undefined, podUid: UID }],
    ['/system.slice/nginx.service', { containerId: undefined, systemdUnit: 'nginx.service' }],
    ['/user.slice/user-1000.slice/session-3.scope', { containerId: undefined, systemdUnit: 'session-3.scope' }],
    [`/machine.slice/libpod-conmon-${ID}.scope`, { containerId: undefined, systemdUnit: `libpod-conmon-${ID}.scope` }],
    ['/', { containerId: undefined, systemdUnit: undefined }],
    [`/somewhere/${ID}`, { containerId: undefined }],
  ];
  for (const [path, want] of cases) {
    const got = parseCgroupPath(path);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof typeof got], v, `${k} of ${path}`);
    assert.equal(got.path, path);
  }
});

test('/proc/<pid>/cgroup: the unified line, or a v1 line naming a container (hybrid hierarchies)', () => {
  const hybrid = `9:name=systemd:/libpod_parent/libpod-${ID}\n4:memory:/libpod_parent/libpod-${ID}\n0::/\n`;
  assert.equal(parseProcCgroup(hybrid).containerId, ID);
  const v2 = `0::/system.slice/docker-${ID}.scope\n`;
  assert.equal(parseProcCgroup(v2).containerRuntime, 'docker');
  const host = '4:memory:/process_api/84fa\n0::/\n';
  assert.deepEqual(parseProcCgroup(host), { path: '/' });
});
