// kite:guest-all-only (starts the agent as a separate process: minutes under emulation; make test-guest-all runs it in the guest)
/**
 * Enforcement through the agent as users run it: a YAML config whose rules processor holds a kill
 * rule. The matching program dies of SIGKILL before writing its marker; the file exporter receives
 * both the kite.enforcement record and the rule's kite.alert; other programs run; the counters are in
 * /metrics; nothing is left in the kernel after the agent stops. A deny rule this kernel cannot honour
 * (no BPF LSM here) stops `kite run` with the rule and the reason before anything is attached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeFeature } from '../../src/bpf/probe';
import { KITE } from '../helpers/paths';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';

async function startAgent(dir: string, config: string): Promise<{ child: ReturnType<typeof spawn>; stderr: () => string }> {
  writeFileSync(join(dir, 'kite.yaml'), config);
  const child = spawn(process.execPath, [KITE, 'run', '--config', 'kite.yaml'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  await waitFor(() => (err.includes('"msg":"ready"') ? true : child.exitCode !== null ? (() => { throw new Error(`agent exited: ${err}`); })() : undefined), 20000, 'the ready line');
  return { child, stderr: () => err };
}

const lines = (file: string): Record<string, unknown>[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

test('kite run with a kill rule in the rules processor: killed before it writes, enforcement and alert exported, counters in /metrics', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kite-enforce-agent-'));
  const evil = join(dir, `evil-${randomUUID().slice(0, 8)}`);
  const benign = join(dir, 'benign');
  copyFileSync(buildTestProgram('marker'), evil);
  copyFileSync(buildTestProgram('marker'), benign);
  chmodSync(evil, 0o755);
  chmodSync(benign, 0o755);
  const port = 19000 + Math.floor(Math.random() * 1000);
  const agent = await startAgent(dir, `
receivers: { exec: {} }
processors:
  rules:
    default_rules: false
    rules:
      - rule: Stop the evil binary
        description: a known-bad binary is killed at exec
        condition: 'event.name == "process.exec" && process.executable.path == "${evil}"'
        output: 'killed %process.executable.path'
        priority: critical
        tags: [T1204]
        action: kill
exporters: { file: { path: out.jsonl } }
service:
  telemetry: { address: '127.0.0.1:${port}' }
  pipelines: { p: { receivers: [exec], processors: [rules], exporters: [file] } }
`);
  const ids = bpfIdsOf(agent.child.pid!);
  try {
    const marker = join(dir, 'marker');
    const child = spawn(evil, [marker], { stdio: 'ignore' });
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', `exit ${code}`);
    assert.equal(existsSync(marker), false, 'killed before it wrote anything');
    const ok = spawn(benign, [join(dir, 'ok')], { stdio: 'ignore' });
    assert.equal(((await once(ok, 'exit')) as [number])[0], 0);
    const out = join(dir, 'out.jsonl');
    const enforcement = await waitFor(() => lines(out).find((r) => r['event.name'] === 'kite.enforcement' && r['process.pid'] === child.pid), 5000, 'the enforcement record in the file');
    assert.equal(enforcement['kite.rule.name'], 'Stop the evil binary');
    assert.equal(enforcement['kite.enforcement.outcome'], 'killed');
    assert.equal(enforcement['process.executable.path'], evil);
    const alert = await waitFor(() => lines(out).find((r) => r['event.name'] === 'kite.alert' && r['process.pid'] === child.pid), 5000, 'the alert in the file');
    assert.equal(alert['kite.rule.action'], 'kill');
    assert.equal(lines(out).filter((r) => r['event.name'] === 'kite.enforcement').length, 1, 'only the matching program was acted on');
    // processors publish their counters on an interval: wait for the one that says the record was added
    let metrics = '';
    const added = /kite_events_total\{component="processor\/rules",outcome="added",reason="enforcement"\} 1/;
    for (let i = 0; i < 50 && !added.test(metrics); i++) {
      metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (!added.test(metrics)) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(metrics, /kite_component_counter_total\{component="processor\/rules",name="enforce\.killed"\} 1/);
    assert.match(metrics, /kite_events_total\{component="processor\/rules",outcome="added",reason="enforcement"\} 1/, 'the enforcement record counts as added by the processor');
  } finally {
    agent.child.kill('SIGTERM');
    await once(agent.child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] }, 'nothing of the agent is left in the kernel');
});

test('kite run with a deny rule on a kernel without the BPF LSM: refused with the rule and the reason, nothing attached', { skip: probeFeature('lsm').available && 'this kernel has the BPF LSM (enforce-lsm proves the denial there)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kite-enforce-agent-'));
  try {
    writeFileSync(join(dir, 'kite.yaml'), `
receivers: { exec: {} }
processors:
  rules:
    default_rules: false
    rules:
      - { rule: No shadow, description: d, condition: 'event.name == "file.open" && file.path == "/etc/shadow"', output: o, priority: critical, action: deny }
exporters: { console: {} }
service: { pipelines: { p: { receivers: [exec], processors: [rules], exporters: [console] } } }
`);
    const child = spawn(process.execPath, [KITE, 'run', '--config', 'kite.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    const [code] = (await once(child, 'exit')) as [number];
    assert.notEqual(code, 0);
    assert.match(err, /processors\.rules\.rules\[0\]\.action: rule No shadow: action deny: deny on file opens needs the BPF LSM, which this kernel does not offer \(lsm: .*EPERM.*\); the rule cannot be honoured here/);
    assert.doesNotMatch(err, /"msg":"ready"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
