/**
 * In-kernel pushdown of filter expressions: the analysis half. A compiled `include` condition is split
 * into its top-level `&&` conjuncts and an `exclude` condition into its top-level `||` disjuncts; each
 * one that is a simple predicate on a field some receiver can filter in the kernel (pid, comm, uid,
 * cgroup id, container id, executable or file path prefix, port) becomes a KernelPredicate. A
 * receiver that declares KernelFilterTarget may install those on attributes it filters on exactly
 * (see its applyKernelFilter), so the records they reject never reach user space; the filter
 * processor keeps evaluating the full expression, so pushing down is an optimisation, never a change
 * of meaning.
 *
 * Wired by the pipeline service (src/pipeline/service.ts): a filter that is the first processor of a
 * pipeline (after enrich at most) offers its plan to every receiver that feeds only that pipeline.
 */
import { ASTNode } from '@marcbachmann/cel-js';
import { attributeName, flatten, scalar } from './cel';

export type PushdownField = 'pid' | 'comm' | 'uid' | 'cgroup' | 'container' | 'path_prefix' | 'port';

/** The record attribute each kernel-filterable field is read from. */
export const PUSHDOWN_ATTRIBUTES: Record<string, PushdownField> = {
  'process.pid': 'pid',
  'kite.process.comm': 'comm',
  'process.real_user.id': 'uid', // the kernel filters on the real uid (bpf_get_current_uid_gid)
  'kite.cgroup.id': 'cgroup',
  'container.id': 'container', // resolved to the cgroup ids of the container by the receiver
  'process.executable.path': 'path_prefix',
  'file.path': 'path_prefix',
  'network.peer.port': 'port',
  'source.port': 'port',
  'destination.port': 'port',
  'client.port': 'port',
  'server.port': 'port',
};

/** `attribute ∈ values` (or, for path_prefix, starts with one of values), or its negation. */
export interface KernelPredicate {
  field: PushdownField;
  attribute: string;
  values: (string | number)[];
  negated: boolean;
}

export interface PushdownPlan {
  /** Every record the filter keeps satisfies each of these: the kernel may drop records failing any. */
  require: KernelPredicate[];
  /** A record satisfying any of these is dropped by the filter: the kernel may drop it too. */
  drop: KernelPredicate[];
  /** True when the plan is the whole filter: nothing of either expression was left out. */
  complete: boolean;
}

/** A receiver that can apply predicates in the kernel; returns the ones it installed. */
export interface KernelFilterTarget {
  readonly kernelFilterFields: ReadonlySet<PushdownField>;
  applyKernelFilter(plan: PushdownPlan): KernelPredicate[];
}

/** Recognises one simple predicate: `a == v`, `v == a`, `a != v`, `a in [..]`, `!(..)`, `a.startsWith(p)`, `a == x || a == y`. */
export function simplePredicate(n: ASTNode): KernelPredicate | null {
  if (n.op === '!_') {
    const inner = simplePredicate(n.args);
    return inner ? { ...inner, negated: !inner.negated } : null;
  }
  if (n.op === '==' || n.op === '!=') {
    let attr = attributeName(n.args[0]);
    let v = scalar(n.args[1]);
    if (attr === null || v === null) {
      attr = attributeName(n.args[1]);
      v = scalar(n.args[0]);
    }
    const field = attr === null ? undefined : PUSHDOWN_ATTRIBUTES[attr];
    if (!field || field === 'path_prefix' || v === null) return null;
    return { field, attribute: attr!, values: [v], negated: n.op === '!=' };
  }
  if (n.op === 'in' && n.args[1].op === 'list') {
    const attr = attributeName(n.args[0]);
    const field = attr === null ? undefined : PUSHDOWN_ATTRIBUTES[attr];
    if (!field || field === 'path_prefix') return null;
    const values = n.args[1].args.map(scalar);
    if (values.some((v) => v === null)) return null;
    return { field, attribute: attr!, values: values as (string | number)[], negated: false };
  }
  if (n.op === 'rcall' && n.args[0] === 'startsWith' && n.args[2].length === 1) {
    const attr = attributeName(n.args[1]);
    const v = scalar(n.args[2][0]!);
    if ((attr !== 'process.executable.path' && attr !== 'file.path') || typeof v !== 'string') return null;
    return { field: 'path_prefix', attribute: attr, values: [v], negated: false };
  }
  if (n.op === '||') {
    const parts = flatten(n, '||').map(simplePredicate);
    if (parts.some((p) => !p || p.negated)) return null;
    const first = parts[0]!;
    if (parts.some((p) => p!.attribute !== first.attribute)) return null;
    return { ...first, values: parts.flatMap((p) => p!.values) };
  }
  return null;
}

export function planPushdown(include: ASTNode | undefined, exclude: ASTNode | undefined): PushdownPlan {
  const plan: PushdownPlan = { require: [], drop: [], complete: true };
  if (include) {
    for (const c of flatten(include, '&&')) {
      const p = simplePredicate(c);
      if (p) plan.require.push(p);
      else plan.complete = false;
    }
  }
  if (exclude) {
    for (const d of flatten(exclude, '||')) {
      const p = simplePredicate(d);
      if (p) plan.drop.push(p);
      else plan.complete = false;
    }
  }
  return plan;
}
