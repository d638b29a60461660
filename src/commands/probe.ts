/**
 * `kite probe [--config FILE]`: what will run on this kernel, and why not. Prints the kernel release,
 * capabilities held, mounts, active LSMs, every feature probe, then each receiver of the config with
 * the features it requires. Returns 0 when every receiver of the config can run, 1 otherwise.
 */
import { KiteConfig } from '../pipeline/config';
import { FEATURES, probeFeature, systemFacts } from '../bpf/probe';

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
  }
  return failed ? 1 : 0;
}
