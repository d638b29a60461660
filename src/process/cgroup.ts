/**
 * What a cgroup path says about the workload: the container id and runtime (docker, containerd,
 * cri-o, podman), the Kubernetes pod uid of kubepods cgroups, and the systemd unit of a slice.
 * Pure string parsing, no I/O; tested on paths of each runtime in both cgroup drivers (cgroupfs and
 * systemd).
 */

export interface CgroupInfo {
  /** The cgroup path as the process sees it in /proc/<pid>/cgroup (the unified line when present). */
  path: string;
  containerId?: string;
  containerRuntime?: string;
  podUid?: string;
  systemdUnit?: string;
}

const HEX64 = '[0-9a-f]{64}';

/** One leaf naming rule: the container id is the first capture group. */
const RULES: { re: RegExp; runtime: string | undefined }[] = [
  { re: new RegExp(`^docker-(${HEX64})\\.scope$`), runtime: 'docker' },
  { re: new RegExp(`^cri-containerd-(${HEX64})\\.scope$`), runtime: 'containerd' },
  { re: new RegExp(`^crio-(${HEX64})\\.scope$`), runtime: 'cri-o' },
  { re: new RegExp(`^libpod-(${HEX64})(?:\\.scope)?$`), runtime: 'podman' },
];

const POD_SYSTEMD = /^kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\.slice$/;
const POD_CGROUPFS = /^pod([0-9a-f-]{36})$/;

/** Parses one cgroup path (`/system.slice/docker-<id>.scope`, `/kubepods/burstable/pod<uid>/<id>`, ...). */
export function parseCgroupPath(path: string): CgroupInfo {
  const info: CgroupInfo = { path };
  const parts = path.split('/').filter(Boolean);
  let inKubepods = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === 'kubepods' || p.startsWith('kubepods.') || p.startsWith('kubepods-')) inKubepods = true;
    let m = POD_SYSTEMD.exec(p);
    if (m) info.podUid = m[1]!.replace(/_/g, '-');
    else if (inKubepods && (m = POD_CGROUPFS.exec(p))) info.podUid = m[1]!;
    for (const rule of RULES) {
      const c = rule.re.exec(p);
      if (c) {
        info.containerId = c[1]!;
        if (rule.runtime) info.containerRuntime = rule.runtime;
      }
    }
    // docker with the cgroupfs driver: /docker/<id>; kubelet with cgroupfs: /kubepods/.../pod<uid>/<id>
    if (!info.containerId && new RegExp(`^${HEX64}$`).test(p)) {
      const prev = parts[i - 1] ?? '';
      if (prev === 'docker') {
        info.containerId = p;
        info.containerRuntime = 'docker';
      } else if (inKubepods) {
        info.containerId = p;
      }
    }
  }
  if (!info.containerId) {
    const unit = [...parts].reverse().find((p) => /\.(service|scope)$/.test(p));
    if (unit) info.systemdUnit = unit;
  }
  return info;
}

/**
 * Picks the path to parse from /proc/<pid>/cgroup: the unified (v2, `0::`) line when it names a
 * container, otherwise the first v1 line that does, otherwise the unified line (or the first).
 */
export function parseProcCgroup(text: string): CgroupInfo {
  let unified: CgroupInfo | undefined;
  let first: CgroupInfo | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const info = parseCgroupPath(line.slice(b + 1));
    if (line.startsWith('0::')) {
      unified = info;
      if (info.containerId) return info;
    } else if (info.containerId) {
      first ??= info;
    }
  }
  return first ?? unified ?? { path: '/' };
}
