/**
 * `kite probe [--config FILE]`: what will run on this kernel, and why not. Prints the kernel release,
 * capabilities held, mounts, active LSMs, every feature probe, then each receiver of the config with
 * the features it requires, and each rules processor with kill or deny rules with the features they
 * require. Returns 0 when every receiver and every enforcement rule of the config can run, 1 otherwise.
 */
import { KiteConfig } from '../pipeline/config';
import { FEATURES, probeFeature, systemFacts } from '../bpf/probe';
import { needs } from '../enforce/enforcer';
import { compileDetectionRule } from '../enforce/rules-adapter';
import { loadRules, RulesRawConfig } from '../processors/rules/config';

/** The features the kill and deny rules of a rules processor's config need, by action. */
function enforcementNeeds(config: RulesRawConfig): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of loadRules(config).rules) {
    if (r.action !== 'kill' && r.action !== 'deny') continue;
    const c = compileDetectionRule(r);
    if (!c.ok) continue; // validation reports it
    const key = c.rule.target === 'network' ? 'deny network' : c.rule.action === 'kill' ? 'kill' : `deny ${c.rule.target === 'open' ? 'open' : 'exec'}`;
    const set = out.get(key) ?? new Set<string>();
    for (const n of needs(c.rule)) set.add(n.feature);
    out.set(key, set);
  }
  return out;
}

export function runProbe(cfg: KiteConfig | null, out: (line: string) => void): number {
  const facts = systemFacts();
  out(`kernel        ${facts.kernel}`);
  out(`capabilities  held: ${facts.capabilities.held.join(' ') || 'none'}; missing: ${facts.capabilities.missing.join(' ') || 'none'}`);
  out(`mounts        ${Object.entries(facts.mounts).map(([k, v]) => `${k} ${v ? 'mounted' : 'not mounted'}`).join(', ')}`);
  out(`lsm           ${facts.lsms.join(',') || 'unknown (securityfs not mounted)'}${facts.lsms.length ? (facts.lsms.includes('bpf') ? ' (bpf active)' : ' (bpf not active)') : ''}`);
  out('');
  out(`${'feature'.padEnd(14)}${'status'.padEnd(8)}detail`);
  const results = new Map<string, boolean>();
  for (const [name, spec] of Object.entries(FEATURES)) {
    const r = probeFeature(name);
    results.set(name, r.available);
    out(`${name.padEnd(14)}${(r.available ? 'yes' : 'no').padEnd(8)}${spec.what} (Linux ${spec.minKernel}+): ${r.detail}`);
  }
  let failed = 0;
  if (cfg) {
    out('');
    out(`${'receiver'.padEnd(20)}${'status'.padEnd(8)}needs`);
    for (const [key, rc] of cfg.receivers) {
      const needs = rc.factory.requires ?? [];
      const missing = needs.filter((f) => !results.get(f));
      if (missing.length) failed++;
      out(`${key.padEnd(20)}${(missing.length ? 'no' : 'ok').padEnd(8)}${needs.join(', ') || 'nothing special'}${missing.length ? `; unavailable: ${missing.join(', ')}` : ''}`);
    }
    for (const [key, pc] of cfg.processors) {
      if (pc.factory.type !== 'rules') continue;
      for (const [what, features] of enforcementNeeds(pc.config as unknown as RulesRawConfig)) {
        const missing = [...features].filter((f) => !results.get(f));
        if (missing.length) failed++;
        out(`${`${key} ${what}`.padEnd(20)}${(missing.length ? 'no' : 'ok').padEnd(8)}${[...features].join(', ')}${missing.length ? `; unavailable: ${missing.join(', ')}` : ''}`);
      }
    }
  }
  return failed ? 1 : 0;
}
