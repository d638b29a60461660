/**
 * `kite replay`: a file recorded by the file exporter of a real agent (test/testdata/replay/README.md)
 * runs through the default ruleset with no kernel and no privileges; alerts come out on standard
 * output, the summary on standard error; malformed lines are counted and reported, not a crash.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { KITE, TESTDATA } from '../helpers/paths';

const dir = mkdtempSync(join(tmpdir(), 'kite-replay-'));
chmodSync(dir, 0o755); // readable by nobody, who runs the replays
after(() => rmSync(dir, { recursive: true, force: true }));
const recorded = join(TESTDATA, 'replay', 'recorded.ndjson');

const config = (extra = ''): string => {
  const path = join(dir, `replay-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `
receivers:
  exec: {}
processors:
  enrich: {}
  rules: {${extra}}
exporters:
  console: {}
service:
  telemetry: { enabled: false }
  pipelines:
    p: { receivers: [exec], processors: [enrich, rules], exporters: [console] }
`);
  return path;
};

function replay(cfg: string, file: string): { status: number | null; records: KiteRecord[]; stderr: string } {
  // as nobody, without capabilities: a replay needs no kernel
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, KITE, 'replay', '--config', cfg, file], { encoding: 'utf8' });
  return { status: r.status, records: r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord), stderr: r.stderr };
}

test('kite --help names replay', () => {
  const r = spawnSync(process.execPath, [KITE, '--help'], { encoding: 'utf8' });
  assert.match(r.stdout, /kite replay \[--config FILE\] EVENTS\.ndjson/);
});

test('a recorded file through the default ruleset: the expected alerts, with the trigger\'s process, parent and user', () => {
  const { status, records, stderr } = replay(config(), recorded);
  assert.equal(status, 0, stderr);
  const lines = readFileSync(recorded, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord);
  const health = lines.filter((r) => r['event.name'] === 'kite.loss' || r['event.name'] === 'kite.heartbeat').length;
  const alerts = records.filter((r) => r['event.name'] === 'kite.alert');
  const passed = records.filter((r) => r['event.name'] !== 'kite.alert' && r['event.name'] !== 'kite.loss');
  assert.equal(passed.length, lines.length - health, 'every recorded record passes, stream-health records aside');
  assert.deepEqual(alerts.map((a) => a['kite.rule.name']).sort(), [
    'Connection to a mining pool port',
    'Execution from a temporary directory or memory',
    'Read of sensitive credential file',
    'Shell after an outbound connection',
  ]);
  const shadow = alerts.find((a) => a['kite.rule.name'] === 'Read of sensitive credential file')!;
  assert.equal(shadow['file.path'], '/etc/shadow');
  assert.equal(shadow['process.executable.path'], '/usr/bin/cat');
  assert.equal(shadow['process.user.name'], 'nobody');
  assert.equal(shadow['process.parent.executable.path'], '/usr/bin/bash');
  assert.equal(shadow['kite.trigger.event.name'], 'file.open');
  const tmp = alerts.find((a) => a['kite.rule.name'] === 'Execution from a temporary directory or memory')!;
  assert.equal(tmp['process.executable.path'], '/tmp/kite-replay-true');
  const seq = alerts.find((a) => a['kite.rule.name'] === 'Shell after an outbound connection')!;
  assert.match(String(seq['process.command_line']), /kite-replay-shell$/, 'the shell that followed the connect, not the one without');
  assert.deepEqual(seq['kite.rule.sequence.event_names'], ['network.connect', 'process.exec']);
  const connect = lines.find((r) => r['kite.event_id'] === (seq['kite.rule.sequence.event_ids'] as string[])[0])!;
  assert.equal(connect['process.pid'], seq['process.pid'], 'the same process');
  // the replay is a stream of its own: every record numbered once, in order
  const seqs = records.map((r) => r['kite.seq'] as number);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  assert.match(stderr, /processor enrich left out/);
  assert.match(stderr, new RegExp(`${lines.length - health} records replayed, 0 malformed lines skipped, ${health} stream-health records skipped, 4 alerts`));
});

test('malformed lines are counted and reported with their line numbers; the rest is replayed', () => {
  const good = readFileSync(recorded, 'utf8').split('\n').filter(Boolean);
  const file = join(dir, 'malformed.ndjson');
  writeFileSync(file, [good[1], '{"event.name": "process.exec", "time": "2026-', '[1,2,3]', ...good.slice(2), 'not json at all', ''].join('\n'));
  const { status, records, stderr } = replay(config(), file);
  assert.equal(status, 0, stderr);
  assert.match(stderr, /malformed\.ndjson:2: skipped: not JSON/);
  assert.match(stderr, /malformed\.ndjson:3: skipped: not a record/);
  assert.match(stderr, new RegExp(`malformed\\.ndjson:${good.length + 2}: skipped: not JSON`));
  assert.match(stderr, /3 malformed lines skipped/);
  assert.equal(records.filter((r) => r['event.name'] === 'kite.alert').length, 4);
  const loss = records.find((r) => r['event.name'] === 'kite.loss');
  assert.ok(loss, 'the stream itself says records were lost');
});

test('a rule written for the replay: inline, default rules off, counted per rule', () => {
  const cfg = config(`
    default_rules: false,
    rules: [{ rule: "Python", description: "python ran", condition: 'event.name == "process.exec" && process.executable.name.startsWith("python")', output: "%process.pid", priority: info }]`);
  const { status, records, stderr } = replay(cfg, recorded);
  assert.equal(status, 0, stderr);
  const alerts = records.filter((r) => r['event.name'] === 'kite.alert');
  assert.ok(alerts.length >= 3, `python execs: ${alerts.length}`);
  assert.ok(alerts.every((a) => a['kite.rule.name'] === 'Python' && a['kite.rule.priority'] === 'informational'));
});

test('a missing events file or a bad config: a clear message and a non-zero exit', () => {
  const missing = replay(config(), join(dir, 'nope.ndjson'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.ndjson: ENOENT/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'receivers: { exec: {} }\nprocessors: { rules: { rules: [{ rule: x, description: d, condition: "nosuch && true", output: o, priority: info }], default_rules: false } }\nexporters: { console: {} }\nservice: { pipelines: { p: { receivers: [exec], processors: [rules], exporters: [console] } } }\n');
  const r = replay(bad, recorded);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /processors\.rules\.rules\[0\]\.condition: rule "x": a condition whose macros and lists are defined \(unknown macro or list nosuch\)/);
  assert.equal(r.records.length, 0);
});

test('a kill rule in a replay alerts with its action and loads nothing into the kernel (nobody, no capabilities)', () => {
  const { status, records, stderr } = replay(config(`
    default_rules: false,
    rules: [{ rule: Kill tmp true, description: d, output: o, priority: critical, action: kill,
              condition: 'event.name == "process.exec" && process.executable.path == "/tmp/kite-replay-true"' }]`), recorded);
  assert.equal(status, 0, stderr);
  const alerts = records.filter((r) => r['event.name'] === 'kite.alert');
  assert.ok(alerts.length >= 1, stderr);
  assert.ok(alerts.every((a) => a['kite.rule.name'] === 'Kill tmp true' && a['kite.rule.action'] === 'kill'));
  assert.equal(records.filter((r) => r['event.name'] === 'kite.enforcement').length, 0, 'nothing enforced');
  assert.doesNotMatch(stderr, /enforcement attached|bpf/i);
});
