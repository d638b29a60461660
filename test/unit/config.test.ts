/**
 * Config validation: one fixture per broken case (test/testdata/config/bad-*.yaml), each listing the
 * exact lines `kite validate` must print (`# expect:`) or a fragment (`# expect-fragment:`). Every
 * problem of a file is reported in one pass, and nothing else is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { ConfigError, formatProblem } from '../../src/component/errors';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createRegistry } from '../../src/registry';
import { KITE, ROOT, TESTDATA } from '../helpers/paths';

const dir = join(TESTDATA, 'config');
const registry = createRegistry();

function problemsOf(text: string): string[] {
  try {
    resolveConfig(parseConfigText(text), registry);
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
    return e.problems.map(formatProblem);
  }
}

for (const file of readdirSync(dir).filter((f) => f.startsWith('bad-')).sort()) {
  test(`config ${file}: every problem reported with its path`, () => {
    const text = readFileSync(join(dir, file), 'utf8');
    const exact = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
    const fragments = [...text.matchAll(/^# expect-fragment: (.*)$/gm)].map((m) => m[1]!);
    assert.ok(exact.length + fragments.length > 0, 'the fixture says what to expect');
    const got = problemsOf(text);
    for (const line of exact) assert.ok(got.includes(line), `expected line\n  ${line}\namong\n  ${got.join('\n  ')}`);
    for (const f of fragments) assert.ok(got.some((g) => g.includes(f)), `expected a line with ${f} among\n  ${got.join('\n  ')}`);
    if (!fragments.length) assert.equal(got.length, exact.length, `exactly the expected problems, got\n  ${got.join('\n  ')}`);
  });
}

for (const file of [...readdirSync(dir).filter((f) => f.startsWith('good-')).map((f) => join(dir, f)), join(ROOT, 'config', 'default.yaml')]) {
  test(`config ${file.slice(ROOT.length + 1)} is valid`, () => {
    assert.deepEqual(problemsOf(readFileSync(file, 'utf8')), []);
  });
}

test('defaults apply to empty settings; ids, pipelines and fan-out are kept', () => {
  const cfg = resolveConfig(parseConfigText(readFileSync(join(dir, 'good-named.yaml'), 'utf8')), registry);
  const empty = { pids: [], comms: [], uids: [], cgroups: [] };
  assert.deepEqual(cfg.receivers.get('exec')!.config, {
    max_args: 64, max_arg_bytes: 4096, ring_buffer_size: '16MiB', filter: { include: empty, exclude: empty, exclude_self: true },
  });
  assert.equal(cfg.receivers.get('exec/wide')!.id.name, 'wide');
  assert.deepEqual(cfg.pipelines.map((p) => p.name), ['main', 'security']);
  assert.deepEqual(cfg.pipelines[1]!.receivers, ['exec', 'exec/wide']);
  assert.deepEqual(cfg.exporters.get('file/audit')!.config, { path: '/tmp/kite-audit.jsonl' });
  const emptyCfg = resolveConfig(parseConfigText(readFileSync(join(dir, 'good-empty-settings.yaml'), 'utf8')), registry);
  assert.deepEqual(emptyCfg.exporters.get('file')!.config, { path: './kite-events.jsonl' });
  assert.equal(emptyCfg.pipelines[0]!.name, 'audit trail');
});

test('kite validate: one line per problem, non-zero exit, no privileges needed', () => {
  const bad = join(dir, 'bad-many.yaml');
  // as nobody, with no capabilities: validation loads no BPF
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, KITE, 'validate', '--config', bad], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  const expected = [...readFileSync(bad, 'utf8').matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /bad-many\.yaml: 6 problems$/);
  assert.deepEqual(lines.slice(1).sort(), expected.sort());
  assert.equal(r.stdout, '', 'nothing on standard output');
  const ok = execFileSync(process.execPath, [KITE, 'validate', '--config', join(ROOT, 'config', 'default.yaml')], { encoding: 'utf8' });
  assert.match(ok, /valid \(1 pipeline: main\)/);
});

test('kite validate: a missing file is named', () => {
  const r = spawnSync(process.execPath, [KITE, 'validate', '--config', 'no/such/file.yaml'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no\/such\/file\.yaml: ENOENT/);
});
