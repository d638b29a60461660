/**
 * In-kernel include/exclude filters shared by every receiver (bpf/lib/filter.h): by process id,
 * command name, user id and cgroup. Events that do not pass are dropped in the kernel before they are
 * copied to the ring, and counted (`filtered`).
 *
 * YAML, under any receiver:
 *   filter:
 *     include: { pids: [], comms: [], uids: [], cgroups: [] }   # empty: everything
 *     exclude: { pids: [], comms: [], uids: [], cgroups: [] }
 *     exclude_self: true                                        # the agent's own activity
 * Cgroups are paths of cgroup v2 folders (absolute, or relative to the cgroup v2 mount).
 */
import { Dirent, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { boolean, integerList, stringListOf } from '../component/formats';
import { KiteError } from '../component/errors';
import { BpfObject } from '../bpf/object';
import { parseCgroupPath } from '../process/cgroup';

/** Constants of bpf/lib/filter_wire.h (checked by the layout test). */
export const FilterFlags = {
  PID_INCLUDE: 1 << 0,
  PID_EXCLUDE: 1 << 1,
  COMM_INCLUDE: 1 << 2,
  COMM_EXCLUDE: 1 << 3,
  UID_INCLUDE: 1 << 4,
  UID_EXCLUDE: 1 << 5,
  CGROUP_INCLUDE: 1 << 6,
  CGROUP_EXCLUDE: 1 << 7,
  EXCLUDE_SELF: 1 << 8,
} as const;
export const FilterValue = { INCLUDE: 1, EXCLUDE: 2 } as const;
export const FILTER_MAX_ENTRIES = 1024;
export const COMM_LEN = 16;

export interface FilterSet {
  pids: number[];
  comms: string[];
  uids: number[];
  cgroups: string[];
  /** cgroup ids (not from the YAML: from a filter processor's pushdown). */
  cgroup_ids?: number[];
}

export interface FilterSettings {
  include: FilterSet;
  exclude: FilterSet;
  exclude_self: boolean;
}

const setSchema = (verb: string) => ({
  pids: {
    doc: `Process ids (thread group ids) to ${verb}.`,
    format: integerList({ min: 1, max: 4194304, what: 'a list of process ids' }),
    default: [] as number[],
  },
  comms: {
    doc: `Command names (the kernel's comm, at most 15 bytes) to ${verb}.`,
    format: stringListOf({ nonEmpty: true, maxLength: COMM_LEN - 1, what: 'a list of command names of 1 to 15 bytes' }),
    default: [] as string[],
  },
  uids: {
    doc: `User ids to ${verb}.`,
    format: integerList({ min: 0, max: 4294967294, what: 'a list of user ids' }),
    default: [] as number[],
  },
  cgroups: {
    doc: `cgroup v2 folders to ${verb} (absolute paths, or relative to the cgroup v2 mount); only processes directly in them match.`,
    format: stringListOf({ nonEmpty: true, what: 'a list of cgroup paths' }),
    default: [] as string[],
  },
});

export const filterSchema = {
  include: setSchema('keep (empty: all)'),
  exclude: setSchema('drop'),
  exclude_self: {
    doc: "Drop events caused by the agent's own process.",
    format: boolean(),
    default: true,
  },
};

/** The cgroup v2 mount: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones. */
export function cgroup2Root(mounts = readFileSync('/proc/self/mounts', 'utf8')): string {
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1];
  }
  return '/sys/fs/cgroup';
}

/** The cgroup id of a cgroup v2 folder (its inode number, as bpf_get_current_cgroup_id() reports it). */
export function cgroupId(path: string, root = cgroup2Root()): number {
  const full = isAbsolute(path) && existsSync(path) ? path : join(root, path);
  try {
    return statSync(full).ino;
  } catch (e) {
    throw new KiteError('filter_cgroup', `filter: cgroup ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function commKey(comm: string): Buffer {
  const b = Buffer.alloc(COMM_LEN);
  b.write(comm, 'utf8');
  return b;
}

/** Fills the filter maps of a loaded object. Throws (naming the path) when a cgroup does not exist. */
export function applyFilters(obj: BpfObject, s: FilterSettings): void {
  let flags = s.exclude_self ? FilterFlags.EXCLUDE_SELF : 0;
  const entries = new Map<string, { map: string; key: Buffer; value: number }>();
  const add = (map: string, key: Buffer, bit: number): void => {
    const id = `${map}:${key.toString('hex')}`;
    const e = entries.get(id) ?? { map, key, value: 0 };
    e.value |= bit;
    entries.set(id, e);
  };
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const sets: [FilterSet, number, 'INCLUDE' | 'EXCLUDE'][] = [[s.include, FilterValue.INCLUDE, 'INCLUDE'], [s.exclude, FilterValue.EXCLUDE, 'EXCLUDE']];
  for (const [set, bit, which] of sets) {
    if (set.pids.length) flags |= FilterFlags[`PID_${which}`];
    if (set.comms.length) flags |= FilterFlags[`COMM_${which}`];
    if (set.uids.length) flags |= FilterFlags[`UID_${which}`];
    if (set.cgroups.length || set.cgroup_ids?.length) flags |= FilterFlags[`CGROUP_${which}`];
    for (const p of set.pids) add('kite_fpid', u32(p), bit);
    for (const c of set.comms) add('kite_fcomm', commKey(c), bit);
    for (const u of set.uids) add('kite_fuid', u32(u), bit);
    for (const c of set.cgroups) add('kite_fcgrp', u64(cgroupId(c)), bit);
    for (const id of set.cgroup_ids ?? []) add('kite_fcgrp', u64(id), bit);
  }
  for (const e of entries.values()) obj.map(e.map).update(e.key, Buffer.from([e.value]));
  const cfg = Buffer.alloc(8);
  cfg.writeUInt32LE(flags, 0);
  cfg.writeUInt32LE(process.pid, 4);
  obj.map('kite_fcfg').update(Buffer.alloc(4), cfg);
}

/** Cross-field checks: at most FILTER_MAX_ENTRIES entries per map. */
export function validateFilters(s: FilterSettings): { key: string; expected: string; actual: unknown }[] {
  const out: { key: string; expected: string; actual: unknown }[] = [];
  for (const k of ['pids', 'comms', 'uids', 'cgroups'] as const) {
    const n = new Set([...s.include[k], ...s.exclude[k]].map(String)).size;
    if (n > FILTER_MAX_ENTRIES) out.push({ key: `filter.include.${k}`, expected: `at most ${FILTER_MAX_ENTRIES} distinct ${k} in include and exclude together`, actual: n });
  }
  return out;
}

/**
 * The cgroup ids of containers: every cgroup v2 folder whose path names one of `ids` as its container
 * (parsed as the enrich processor parses /proc/<pid>/cgroup: src/process/cgroup.ts), and the folders
 * below it. One walk of the cgroup tree (bounded by `maxFolders`).
 */
export function containerCgroupIds(ids: ReadonlySet<string>, root = cgroup2Root(), maxFolders = 100_000): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let seen = 0;
  const walk = (dir: string, rel: string, owner: string | undefined): void => {
    if (++seen > maxFolders) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const childRel = `${rel}/${e.name}`;
      const childDir = join(dir, e.name);
      const id = parseCgroupPath(childRel).containerId;
      const who = id !== undefined && ids.has(id) ? id : owner;
      if (who !== undefined) {
        try {
          const list = out.get(who) ?? [];
          list.push(statSync(childDir).ino);
          out.set(who, list);
        } catch {
          continue; // removed meanwhile
        }
      }
      walk(childDir, childRel, who);
    }
  };
  walk(root, '', undefined);
  return out;
}

/** The pushdown fields the shared in-kernel filters implement, and the FilterSet each one fills. */
const PUSHDOWN_SETS = { pid: 'pids', comm: 'comms', uid: 'uids', cgroup: 'cgroup_ids', container: 'cgroup_ids' } as const;

/** Record attributes the shared filters check exactly as the filter processor reads them. */
export const SHARED_PUSHDOWN_ATTRIBUTES = new Set(['process.pid', 'kite.process.comm', 'process.real_user.id', 'kite.cgroup.id', 'container.id']);

export interface PushdownPredicate {
  field: string;
  attribute?: string;
  values: (string | number)[];
  negated: boolean;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

function acceptable(field: keyof typeof PUSHDOWN_SETS, v: string | number): boolean {
  if (field === 'comm') return typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) < COMM_LEN;
  if (field === 'container') return typeof v === 'string' && CONTAINER_ID.test(v);
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= (field === 'pid' || field === 'cgroup' ? 1 : 0);
}

/** Container ids pushed down, kept so that their new cgroups can be added while the receiver runs. */
export interface ContainerPushdown {
  include: string[];
  exclude: string[];
}

/**
 * Adds a filter processor's pushdown plan to a receiver's filter settings: a required `x in values`
 * becomes an include set (only when the settings have none for x, since include sets of one field are
 * unions), a required `x not in values` and a dropped `x in values` become exclude entries. Container
 * ids become the cgroup ids of the containers (`resolve`); a required container id is pushed down only
 * when every one of them has a cgroup now (a container that does not exist yet would otherwise be
 * dropped in the kernel until the next rescan). Returns the new settings, the predicates taken and the
 * container ids to rescan; the others stay in user space (the filter processor always evaluates its
 * whole expression anyway).
 */
export function mergePushdown<P extends PushdownPredicate>(
  s: FilterSettings,
  plan: { require: P[]; drop: P[] },
  resolve: (ids: ReadonlySet<string>) => Map<string, number[]> = (ids) => containerCgroupIds(ids),
): { settings: FilterSettings; installed: P[]; containers: ContainerPushdown } {
  const out: FilterSettings = {
    include: { ...s.include },
    exclude: { ...s.exclude },
    exclude_self: s.exclude_self,
  };
  const installed: P[] = [];
  const containers: ContainerPushdown = { include: [], exclude: [] };
  const take = (p: P, into: 'include' | 'exclude'): void => {
    const f = p.field as keyof typeof PUSHDOWN_SETS;
    const set = PUSHDOWN_SETS[f];
    if (!set || !p.values.length || !p.values.every((v) => acceptable(f, v))) return;
    if (p.attribute !== undefined && !SHARED_PUSHDOWN_ATTRIBUTES.has(p.attribute)) return;
    if (into === 'include') {
      const used = set === 'cgroup_ids' ? out.include.cgroups.length + (out.include.cgroup_ids?.length ?? 0) : out.include[set].length;
      if (used) return;
    }
    let values = p.values;
    if (f === 'container') {
      const ids = new Set(p.values as string[]);
      const found = resolve(ids);
      if (into === 'include' && [...ids].some((id) => !found.get(id)?.length)) return;
      values = [...found.values()].flat();
      containers[into].push(...ids);
    }
    const target = out[into] as unknown as Record<string, (string | number)[] | undefined>;
    target[set] = into === 'include' ? [...values] : [...(target[set] ?? []), ...values];
    installed.push(p);
  };
  for (const p of plan.require) take(p, p.negated ? 'exclude' : 'include');
  for (const p of plan.drop) if (!p.negated) take(p, 'exclude');
  return { settings: out, installed, containers };
}
