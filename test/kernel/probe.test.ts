/**
 * `kite probe` tells the truth: every answer matches what loading the same program actually does, the
 * features Kite's receivers need here are reported available, and a receiver whose needs are not met
 * makes the command fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { probeFeature } from '../../src/bpf/probe';
import { runProbe } from '../../src/commands/probe';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createRegistry, FACTORIES } from '../../src/registry';
import { execFactory } from '../../src/receivers/exec/factory';
import { BPF_DIR, KITE, ROOT } from '../helpers/paths';
import { ms } from '../helpers/kernel';

setLibbpfLogger(() => {});

test('kite probe on the default config: exit 0, one line per feature, the exec receiver ok', () => {
  const r = spawnSync(process.execPath, [KITE, 'probe', '--config', join(ROOT, 'config', 'default.yaml')], { encoding: 'utf8', timeout: ms(60000) });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^kernel\s+\S+/m);
  for (const f of ['btf', 'tp_btf', 'raw_tp', 'ringbuf_loop', 'xdp', 'socket_filter', 'send_signal']) {
    assert.match(r.stdout, new RegExp(`^${f}\\s+yes\\s`, 'm'), `${f} is available on this machine`);
  }
  assert.match(r.stdout, /^fentry\s+(yes|no)\s/m);
  assert.match(r.stdout, /^lsm\s+(yes|no)\s/m);
  assert.match(r.stdout, /^exec\s+ok\s+btf, tp_btf, ringbuf_loop$/m);
});

test('the fentry answer is what loading an fentry program really does', () => {
  const probe = probeFeature('fentry');
  const obj = BpfObject.open(join(BPF_DIR, 'test', 'fentry_probe.bpf.o'));
  let loads = true;
  try {
    obj.load();
    obj.attach('handle_fentry_unlinkat');
  } catch {
    loads = false;
  } finally {
    obj.close();
  }
  assert.equal(probe.available, loads, probe.detail);
  if (!probe.available) assert.match(probe.detail, /EPERM: every needed capability is held, so the kernel itself refuses/);
});

test('a receiver whose needs are not met makes the probe fail, naming what is missing', () => {
  const cfg = resolveConfig(parseConfigText('receivers: {exec: {}}\nexporters: {console: {}}\nservice: {pipelines: {main: {receivers: [exec], exporters: [console]}}}'), createRegistry([
    { ...execFactory, requires: ['btf', 'no_such_feature'] }, ...FACTORIES.filter((f) => f.type !== 'exec'),
  ]));
  const lines: string[] = [];
  assert.equal(runProbe(cfg, (l) => lines.push(l)), 1);
  assert.ok(lines.some((l) => /^exec\s+no\s+btf, no_such_feature; unavailable: no_such_feature$/.test(l)), lines.join('\n'));
});

test('a config with kill and deny rules: the probe names what each action needs, and fails where a hook is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kite-probe-'));
  try {
    writeFileSync(join(dir, 'kite.yaml'), `
receivers: { exec: {} }
processors:
  rules:
    default_rules: false
    rules:
      - { rule: k, description: d, output: o, priority: critical, action: kill, condition: 'process.executable.path == "/tmp/x"' }
      - { rule: s, description: d, output: o, priority: critical, action: deny, condition: 'file.path == "/etc/shadow"' }
exporters: { console: {} }
service: { pipelines: { p: { receivers: [exec], processors: [rules], exporters: [console] } } }
`);
    const r = spawnSync(process.execPath, [KITE, 'probe', '--config', join(dir, 'kite.yaml')], { encoding: 'utf8', timeout: ms(60000) });
    assert.match(r.stdout, /^rules kill\s+ok\s+tp_btf, send_signal$/m);
    const lsm = probeFeature('lsm').available;
    assert.match(r.stdout, lsm ? /^rules deny open\s+ok\s+lsm$/m : /^rules deny open\s+no\s+lsm; unavailable: lsm$/m);
    assert.equal(r.status, lsm ? 0 : 1, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
