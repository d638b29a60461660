/** The shipped deployment files agree with the agent: their configs validate, capabilities match. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createRegistry } from '../../src/registry';
import { ROOT } from '../helpers/paths';

test('the DaemonSet: its config validates; it adds exactly the documented capabilities; probes hit real paths', () => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'config', 'kubernetes', 'kite.yaml'), 'utf8')).map((d) => d.toJS());
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  const cfg = resolveConfig(parseConfigText(cm.data['kite.yaml']), createRegistry());
  assert.equal(cfg.telemetry.address, '0.0.0.0:9464');
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostPID, true);
  const c = pod.containers[0];
  const documented = [...readFileSync(join(ROOT, 'docs', 'capabilities.md'), 'utf8').matchAll(/^\| `CAP_([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual([...c.securityContext.capabilities.add].sort(), documented);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.securityContext.runAsNonRoot, true);
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.ports[0].containerPort, 9464);
});

test('the Grafana dashboard queries only metrics the agent serves', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'config', 'grafana', 'kite-dashboard.json'), 'utf8'));
  const served = ['kite_events_total', 'kite_component_value', 'kite_component_counter_total', 'kite_export_duration_seconds_bucket', 'kite_export_duration_seconds_count', 'kite_bpf_program_runs_total', 'kite_bpf_program_run_seconds_total', 'kite_process_cpu_seconds_total', 'kite_process_resident_memory_bytes', 'kite_nodejs_eventloop_lag_p99_seconds'];
  assert.ok(dash.panels.length >= 6);
  for (const p of dash.panels) {
    for (const t of p.targets) {
      const names = [...String(t.expr).matchAll(/\b(kite_[a-z0-9_]+)/g)].map((m) => m[1]);
      assert.ok(names.length > 0, p.title);
      for (const n of names) assert.ok(served.includes(n), `${p.title}: ${n} is served at /metrics`);
    }
  }
});

test('the image ships the default ruleset, and the rules processor finds it where the image puts it', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^COPY --from=build \/src\/config \.\/config$/m, 'config/ (with config/rules/default.yaml) is copied next to dist/');
  assert.match(dockerfile, /^WORKDIR \/opt\/kite$/m);
  // the processor reads <package root>/config/rules/default.yaml; in the image the package root is /opt/kite
  const cfg = resolveConfig(parseConfigText(readFileSync(join(ROOT, 'config', 'detect.yaml'), 'utf8')), createRegistry());
  assert.equal(cfg.processors.get('rules')!.config.default_rules, true);
});
