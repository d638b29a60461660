/**
 * The seam between rules and in-kernel enforcement. A rule's `action` is `alert` (the processor adds an
 * alert record), `kill` or `deny` (an enforcement module decides in the kernel and the processor still
 * alerts). The kernel enforcer (src/enforce/) is registered by default; setEnforcer() replaces it
 * (tests), and with null no module is there, so a rule with action kill or deny is a config error:
 * the agent never silently only alerts on a rule that asks for enforcement.
 */
import { compileDetectionRule, detectionRuleProblem } from '../../enforce/rules-adapter';
import type { ParsedRule } from './ruleset';

export interface Enforcer {
  /**
   * null when the module can enforce this rule as written, else why not (one line, for a ConfigError).
   * `interfaces` are the processor's enforcement interfaces (network deny rules need some).
   */
  problem(rule: ParsedRule, interfaces?: string[]): string | null;
}

/** In-kernel enforcement (src/enforce/): what the kernel can decide, checked without loading anything. */
export const kernelEnforcer: Enforcer = {
  problem(rule, interfaces = []) {
    const p = detectionRuleProblem(rule);
    if (p) return p;
    const c = compileDetectionRule(rule);
    if (c.ok && c.rule.target === 'network' && !interfaces.length) {
      return 'a network deny rule is enforced by XDP on the enforcement interfaces; set enforcement_interfaces';
    }
    return null;
  },
};

let enforcer: Enforcer | null = kernelEnforcer;
let inKernel = true;

/**
 * Whether rules processors load their kill and deny rules into the kernel. `kite replay` turns it off:
 * there such rules are still checked and still alert, and nothing touches the kernel.
 */
export function setKernelEnforcement(on: boolean): void {
  inKernel = on;
}

export function kernelEnforcementOn(): boolean {
  return inKernel;
}

/** Registers (or, with null, removes) the enforcement module. */
export function setEnforcer(e: Enforcer | null): void {
  enforcer = e;
}

/** null when the rule's action can be honoured, else the problem to report. */
export function enforcementProblem(rule: ParsedRule, interfaces: string[] = []): string | null {
  if (rule.action === 'alert') return null;
  if (!enforcer) return `action ${rule.action} is not available: this agent has no enforcement module, only alerts (use action: alert)`;
  return enforcer.problem(rule, interfaces);
}
