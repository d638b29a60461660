/**
 * Container ids to cgroup ids: the cgroup v2 folders whose path names the container (as
 * src/process/cgroup.ts parses them: docker, containerd, cri-o, podman, kubepods), found by walking
 * the cgroup file system. A container's processes may sit in that folder or below it (runc's nested
 * cgroups), which is why container rules match the subtree.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCgroupPath } from '../process/cgroup';
import { cgroup2Root } from '../receivers/filters';

/** Folders deeper than this below the cgroup root are not searched. */
export const CGROUP_SCAN_DEPTH = 8;

/**
 * The cgroup ids (inode numbers) of the outermost folders naming each of `containerIds`, from one walk
 * of the cgroup tree. Containers not running have no entry.
 */
export function resolveContainerCgroups(containerIds: Iterable<string>, root = cgroup2Root()): Map<string, number[]> {
  const wanted = new Set(containerIds);
  const out = new Map<string, number[]>();
  if (!wanted.size) return out;
  const walk = (dir: string, rel: string, depth: number): void => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while walking, or not readable
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = `${rel}/${e.name}`;
      const id = parseCgroupPath(path).containerId;
      if (id && wanted.has(id) && parseCgroupPath(rel).containerId !== id) {
        try {
          const ino = statSync(join(dir, e.name)).ino;
          out.set(id, [...(out.get(id) ?? []), ino]);
        } catch {
          // gone
        }
        continue; // everything below is the container's too
      }
      if (depth < CGROUP_SCAN_DEPTH) walk(join(dir, e.name), path, depth + 1);
    }
  };
  walk(root, '', 1);
  return out;
}
