/**
 * The seam between rules and in-kernel enforcement. A rule's `action` is `alert` (the processor adds an
 * alert record), `kill` or `deny` (an enforcement module decides in the kernel and the processor still
 * alerts). An enforcement module registers itself with setEnforcer(); until one is registered, a rule
 * with action kill or deny is a config error, so the agent never silently only alerts on a rule that
 * asks for enforcement.
 */
import type { ParsedRule } from './ruleset';

export interface Enforcer {
  /** null when the module can enforce this rule as written, else why not (one line, for a ConfigError). */
  problem(rule: ParsedRule): string | null;
}

let enforcer: Enforcer | null = null;

/** Registers (or, with null, removes) the enforcement module. */
export function setEnforcer(e: Enforcer | null): void {
  enforcer = e;
}

/** null when the rule's action can be honoured, else the problem to report. */
export function enforcementProblem(rule: ParsedRule): string | null {
  if (rule.action === 'alert') return null;
  if (!enforcer) return `action ${rule.action} is not available: this agent has no enforcement module, only alerts (use action: alert)`;
  return enforcer.problem(rule);
}
