/**
 * What `kite advise seccomp` records: a pid (checked to exist), a cgroup given as a path or a
 * container id (found in the cgroup v2 hierarchy), and the processes below a pid or in a cgroup.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KiteError } from '../../component/errors';
import { parseCgroupPath } from '../../process/cgroup';

export interface CgroupTarget {
  /** Its folder in the cgroup v2 mount. */
  dir: string;
  /** Its path as /proc/<pid>/cgroup shows it (`/libpod_parent/libpod-<id>`). */
  path: string;
  containerId?: string;
}

/** Where the cgroup v2 (unified) hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts. */
export function cgroup2Root(mounts = readFileSync('/proc/self/mounts', 'utf8')): string {
  const line = mounts.split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new KiteError('no_cgroup2', 'cgroup: no cgroup2 file system is mounted (the cgroup v2 hierarchy is needed to match a cgroup in the kernel)');
  return line.split(' ')[1]!;
}

function targetOf(root: string, rel: string, containerId?: string): CgroupTarget {
  const dir = rel === '/' ? root : join(root, rel);
  const path = `/${rel.split('/').filter(Boolean).join('/')}`;
  return { dir, path, ...(containerId ? { containerId } : {}) };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Folders below `dir` (relative paths), breadth first, at most `maxDepth` deep. */
function* walk(dir: string, maxDepth: number, rel = ''): Generator<string> {
  if (maxDepth < 0) return;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(dir, rel), { withFileTypes: true });
  } catch {
    return;
  }
  const subs = entries.filter((e) => e.isDirectory()).map((e) => `${rel}/${e.name}`);
  yield* subs;
  for (const s of subs) yield* walk(dir, maxDepth - 1, s);
}

/**
 * A cgroup from what a user typed: a folder of the cgroup v2 mount (`/sys/fs/cgroup/unified/x`), a
 * cgroup path as /proc/<pid>/cgroup shows it (`/libpod_parent/libpod-<id>`, `/system.slice/x.service`)
 * or a container id (full or a prefix of at least 12 hex digits) of docker, containerd, cri-o or podman.
 */
export function resolveCgroup(arg: string, root = cgroup2Root()): CgroupTarget {
  if (arg.startsWith('/')) {
    const rel = arg === root || arg.startsWith(`${root}/`) ? arg.slice(root.length) || '/' : arg;
    if (!isDir(rel === '/' ? root : join(root, rel))) {
      throw new KiteError('unknown_cgroup', `cgroup ${arg}: no such cgroup in the cgroup v2 hierarchy (${root}); give a path as /proc/<pid>/cgroup shows it, or a container id`);
    }
    const target = targetOf(root, rel);
    const id = parseCgroupPath(target.path).containerId;
    return id ? { ...target, containerId: id } : target;
  }
  if (!/^[0-9a-f]{12,64}$/.test(arg)) {
    throw new KiteError('unknown_cgroup', `cgroup ${JSON.stringify(arg)}: expected a cgroup path starting with / or a container id (12 to 64 hex digits)`);
  }
  const found = new Map<string, string>(); // container id -> relative path (the container's own cgroup)
  for (const rel of walk(root, 8)) {
    const id = parseCgroupPath(rel).containerId;
    if (id?.startsWith(arg) && !found.has(id)) found.set(id, rel);
  }
  if (found.size === 0) throw new KiteError('unknown_cgroup', `container ${arg}: no cgroup of a running container with this id under ${root} (is it created and started?)`);
  if (found.size > 1) throw new KiteError('unknown_cgroup', `container ${arg}: the prefix matches ${found.size} containers (${[...found.keys()].map((k) => k.slice(0, 16)).join(', ')}); give more digits`);
  const [[id, rel]] = [...found];
  return targetOf(root, rel, id);
}

/** True when the cgroup still has a process in it or below it (cgroup.events `populated 1`). */
export function cgroupPopulated(dir: string): boolean | null {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
  } catch {
    return null; // removed
  }
}

/** The processes of a cgroup and of the cgroups below it. */
export function cgroupProcs(dir: string): number[] {
  const out: number[] = [];
  const read = (d: string): void => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.push(Number(l));
    } catch {
      return;
    }
  };
  read(dir);
  for (const rel of walk(dir, 16)) read(join(dir, rel));
  return out;
}

/** Checks that `arg` is the pid of a live process. */
export function resolvePid(arg: string): number {
  if (!/^[1-9][0-9]*$/.test(arg)) throw new KiteError('bad_pid', `pid ${JSON.stringify(arg)}: expected a positive integer`);
  const pid = Number(arg);
  if (!isDir(`/proc/${pid}`)) throw new KiteError('bad_pid', `pid ${pid}: no such process`);
  return pid;
}

/** The children of a process (every thread's), from /proc/<pid>/task/<tid>/children. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      // the thread is gone
    }
  }
  return out;
}

/**
 * The system call each thread of `pid` is blocked in right now (/proc/<pid>/task/<tid>/syscall), for
 * calls entered before the recording began. Skips 32-bit processes, whose numbers are another table's,
 * and with `filteredOnly` processes not under a seccomp filter (mode 2);
 * needs the right to ptrace the process (root or CAP_SYS_PTRACE).
 */
export function callsInProgress(pid: number, filteredOnly = false): number[] {
  const out: number[] = [];
  if (filteredOnly) {
    try {
      if (!/^Seccomp:\s*2$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return out;
    } catch {
      return out;
    }
  }
  try {
    const fd = openSync(`/proc/${pid}/exe`, 'r');
    const head = Buffer.alloc(5);
    try {
      readSync(fd, head, 0, 5, 0);
    } finally {
      closeSync(fd);
    }
    if (head[4] !== 2) return out; // not ELFCLASS64
  } catch {
    return out;
  }
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const first = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ')[0]!.trim();
      if (/^[0-9]+$/.test(first)) out.push(Number(first));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}
