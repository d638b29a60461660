/**
 * Fills the enforcement rule tables (bpf/lib/enforce_rules.h) of a loaded object from compiled rules:
 * one bit per kernel rule, one map entry per value naming the rules that list it.
 */
import { BpfObject } from '../bpf/object';
import { CompiledEnforcement, FieldPredicate } from './compile';
import { ENFORCE_CFG, ENFORCE_FIELD_MAX, ENFORCE_LIMITS, FIELD_INDEX, pathKey, stringKey } from './wire';

/** One kernel rule (bit) and the enforcement rule it came from. */
export interface RuleBit {
  bit: number;
  rule: CompiledEnforcement;
  hook: 'exec' | 'open';
  predicates: FieldPredicate[];
}

/** Numbers the alternatives of `rules` (exec and open targets); throws past 64. */
export function assignBits(rules: CompiledEnforcement[]): RuleBit[] {
  const out: RuleBit[] = [];
  for (const rule of rules) {
    if (rule.target === 'network') continue;
    for (const k of rule.kernel) out.push({ bit: out.length, rule, hook: rule.target, predicates: k.predicates });
  }
  if (out.length > ENFORCE_LIMITS.maxRules) throw new Error(`${out.length} kernel rules; at most ${ENFORCE_LIMITS.maxRules}`);
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/**
 * Writes the rules into a loaded object's maps. `containers` maps container ids to their cgroup ids
 * (src/enforce/containers.ts); a container with none yet contributes nothing until `addContainer`.
 */
export function loadRules(obj: BpfObject, bits: RuleBit[], containers: Map<string, number[]>, selfTgid = process.pid): void {
  let activeExec = 0n;
  let activeOpen = 0n;
  const constrained = new Array<bigint>(ENFORCE_FIELD_MAX).fill(0n);
  const negated = new Array<bigint>(ENFORCE_FIELD_MAX).fill(0n);
  let fields = 0;
  const entries = new Map<string, { map: string; key: Buffer; mask: bigint }>();
  const add = (map: string, key: Buffer, bit: bigint): void => {
    const id = `${map}:${key.toString('hex')}`;
    const e = entries.get(id) ?? { map, key, mask: 0n };
    e.mask |= bit;
    entries.set(id, e);
  };
  const cgroups = new Map<number, { exact: bigint; subtree: bigint }>();
  const addCgroup = (id: number, bit: bigint, subtree: boolean): void => {
    const e = cgroups.get(id) ?? { exact: 0n, subtree: 0n };
    if (subtree) e.subtree |= bit;
    else e.exact |= bit;
    cgroups.set(id, e);
  };
  // path prefixes are folded like xdp_policy's: the longest match must carry every rule whose
  // prefix (or exact path) is a prefix of it
  const paths: { key: string; exact: boolean; bit: bigint }[] = [];
  for (const rb of bits) {
    const bit = 1n << BigInt(rb.bit);
    if (rb.hook === 'exec') activeExec |= bit;
    else activeOpen |= bit;
    for (const p of rb.predicates) {
      const f = FIELD_INDEX[p.field];
      constrained[f]! |= bit;
      if (p.negated) negated[f]! |= bit;
      fields |= 1 << f;
      for (const v of p.values) {
        switch (p.field) {
          case 'path': paths.push({ key: String(v), exact: true, bit }); break;
          case 'arg': add('enforce_args', stringKey(String(v), ENFORCE_LIMITS.argMax), bit); break;
          case 'uid': add('enforce_uids', u32(Number(v)), bit); break;
          case 'euid': add('enforce_euids', u32(Number(v)), bit); break;
          case 'comm': add('enforce_comms', stringKey(String(v), ENFORCE_LIMITS.commLen), bit); break;
          case 'cgroup': addCgroup(Number(v), bit, false); break;
          case 'container': for (const id of containers.get(String(v)) ?? []) addCgroup(id, bit, true); break;
        }
      }
      for (const pre of p.prefixes) paths.push({ key: pre, exact: false, bit });
    }
  }
  // fold: an entry's mask also holds the bits of every prefix entry that is a prefix of it
  const folded = new Map<string, { key: string; exact: boolean; mask: bigint }>();
  for (const p of paths) {
    const id = `${p.exact ? 'e' : 'p'}:${p.key}`;
    const e = folded.get(id) ?? { key: p.key, exact: p.exact, mask: 0n };
    e.mask |= p.bit;
    folded.set(id, e);
  }
  for (const e of folded.values()) {
    let mask = e.mask;
    for (const o of folded.values()) if (!o.exact && o !== e && e.key.startsWith(o.key)) mask |= o.mask;
    obj.map('enforce_paths').update(pathKey(e.key, e.exact), u64(mask));
  }
  for (const e of entries.values()) obj.map(e.map).update(e.key, u64(e.mask));
  for (const [id, c] of cgroups) {
    const v = Buffer.alloc(16);
    v.writeBigUInt64LE(c.exact, 0);
    v.writeBigUInt64LE(c.subtree, 8);
    obj.map('enforce_cgroups').update(u64(id), v);
  }
  const cfg = Buffer.alloc(ENFORCE_CFG.size);
  const F = ENFORCE_CFG.fields;
  cfg.writeBigUInt64LE(activeExec, F.active_exec.offset);
  cfg.writeBigUInt64LE(activeOpen, F.active_open.offset);
  for (let f = 0; f < ENFORCE_FIELD_MAX; f++) {
    cfg.writeBigUInt64LE(BigInt.asUintN(64, constrained[f]!), F.constrained.offset + 8 * f);
    cfg.writeBigUInt64LE(BigInt.asUintN(64, negated[f]!), F.negated.offset + 8 * f);
  }
  cfg.writeUInt32LE(fields, F.fields.offset);
  cfg.writeUInt32LE(selfTgid, F.self_tgid.offset);
  obj.map('enforce_cfg').update(Buffer.alloc(4), cfg);
}

/** Adds the cgroups of a container that started after the rules were loaded. */
export function addContainerCgroups(obj: BpfObject, bits: RuleBit[], containerId: string, cgroupIds: number[]): void {
  let mask = 0n;
  for (const rb of bits) {
    for (const p of rb.predicates) if (p.field === 'container' && p.values.includes(containerId)) mask |= 1n << BigInt(rb.bit);
  }
  if (!mask) return;
  const map = obj.map('enforce_cgroups');
  for (const id of cgroupIds) {
    const v = Buffer.alloc(16);
    const exists = map.lookup(u64(id), v);
    const exact = exists ? v.readBigUInt64LE(0) : 0n;
    const subtree = (exists ? v.readBigUInt64LE(8) : 0n) | mask;
    v.writeBigUInt64LE(exact, 0);
    v.writeBigUInt64LE(subtree, 8);
    map.update(u64(id), v);
  }
}

/** Per-rule match counts (summed over CPUs), by bit. */
export function readRuleHits(obj: BpfObject, n: number): bigint[] {
  const map = obj.map('enforce_rule_hits');
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(map.sumPerCpuU64(i));
  return out;
}
