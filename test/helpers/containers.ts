/**
 * Real containers for kernel tests: podman with runc and the cgroupfs manager (see the repository's
 * notes on containers). Images are built from a local busybox root filesystem (no registry needed);
 * everything a test makes is removed by the test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PODMAN_RUN = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs', 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

/** Builds `tag` from busybox plus the given /etc files; returns a function that removes the image. */
export function buildBusyboxImage(tag: string, etc: Record<string, string>): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'kite-image-'));
  try {
    const root = join(dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const c of ['sh', 'cat', 'sleep', 'true', 'id', 'echo']) symlinkSync('busybox', join(root, 'bin', c));
    for (const [name, text] of Object.entries(etc)) writeFileSync(join(root, 'etc', name), text);
    execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
    execFileSync('podman', ['import', join(dir, 'rootfs.tar'), tag], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return () => {
    try {
      execFileSync('podman', ['rmi', '-f', tag], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
}

/** Runs a container to its end; returns its full id and exit code. */
export async function runContainer(image: string, args: string[], opts: string[] = []): Promise<{ id: string; code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kite-cid-'));
  const cidfile = join(dir, 'cid');
  try {
    const child = spawn('podman', [...PODMAN_RUN, '--cidfile', cidfile, ...opts, image, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    let id = '';
    try {
      id = readFileSync(cidfile, 'utf8').trim();
    } catch {
      // the container did not start
    }
    return { id, code, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The cgroup v2 (unified) mount point: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones. */
export function unifiedCgroupRoot(): string {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  const line = mounts.find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 mount: the kernel test needs the unified cgroup hierarchy');
  return line.split(' ')[1]!;
}
