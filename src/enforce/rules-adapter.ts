/**
 * From a detection rule as the rules processor parses it (condition with macros and lists expanded,
 * exceptions, scope, optional sequence) to what compileEnforcement takes: the exceptions become
 * `&& !(exception)`, a scope on container ids becomes `&& container.id in [...]`; what only user
 * space can decide (sequences, scope by image, namespace, pod labels or "any container") is refused.
 * Typed structurally so that it does not depend on the processor's module.
 */
import { compileEnforcement, CompileResult, EnforceRuleSpec } from './compile';

export interface DetectionRuleLike {
  name: string;
  condition: string;
  action: string;
  sequence?: unknown;
  exceptions?: { name: string; condition: string }[];
  scope?: { container?: boolean; containerIds?: string[]; images?: string[]; k8sNamespaces?: string[]; podLabels?: Record<string, string> };
}

export type SpecResult = { ok: true; spec: EnforceRuleSpec } | { ok: false; problem: string };

/** The enforcement spec of a kill or deny rule, or why the kernel cannot honour it as written. */
export function enforceSpecOf(rule: DetectionRuleLike): SpecResult {
  const head = `rule ${rule.name}: action ${rule.action}: `;
  if (rule.action !== 'kill' && rule.action !== 'deny') return { ok: false, problem: `${head}not an enforcement action` };
  if (rule.sequence) return { ok: false, problem: `${head}a sequence is decided over several events in user space; kill and deny need a single-event condition` };
  const sc = rule.scope ?? {};
  const userSpace = [
    sc.container !== undefined ? `container: ${sc.container}` : '',
    sc.images?.length ? 'images' : '',
    sc.k8sNamespaces?.length ? 'k8s_namespaces' : '',
    sc.podLabels && Object.keys(sc.podLabels).length ? 'pod_labels' : '',
  ].filter(Boolean);
  if (userSpace.length) return { ok: false, problem: `${head}scope ${userSpace.join(', ')} is known only from enrichment in user space, not in the kernel; scope the rule by container_ids` };
  const parts = [`(${rule.condition})`];
  if (sc.containerIds?.length) parts.push(`container.id in [${sc.containerIds.map((c) => JSON.stringify(c)).join(', ')}]`);
  for (const e of rule.exceptions ?? []) parts.push(`!(${e.condition})`);
  return { ok: true, spec: { name: rule.name, action: rule.action, condition: parts.join(' && ') } };
}

/** compileEnforcement of a detection rule, its scope and exceptions included. */
export function compileDetectionRule(rule: DetectionRuleLike): CompileResult {
  const s = enforceSpecOf(rule);
  if (!s.ok) return { ok: false, problem: s.problem };
  return compileEnforcement(s.spec);
}

/** The problem of a detection rule without the `rule <name>: action <action>: ` head (for callers that add their own). */
export function detectionRuleProblem(rule: DetectionRuleLike): string | null {
  const r = compileDetectionRule(rule);
  if (r.ok) return null;
  const head = `rule ${rule.name}: action ${rule.action}: `;
  return r.problem.startsWith(head) ? r.problem.slice(head.length) : r.problem;
}
