/**
 * Deny through the BPF LSM (root). The answer of the `lsm` probe decides what is asserted, and both
 * branches are strict:
 *   - where the probe says the BPF LSM works (the test guest's Debian 6.1 kernel), deny rules must
 *     really deny: an exec of a denied binary fails with EPERM and its marker never appears, another
 *     process's open of a denied file fails with EPERM (the agent never denies itself), other execs
 *     and opens work, and each denial is reported;
 *   - where it says it does not (this machine's kernel refuses LSM programs), the probe must be
 *     telling the truth (loading the deny programs fails too) and the enforcer must refuse the deny
 *     rules with that reason before loading anything, instead of running them as alerts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { ConfigError } from '../../src/component/errors';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { bpfObjectPath } from '../../src/bpf/paths';
import { probeFeature } from '../../src/bpf/probe';
import { compileEnforcement, EnforceRuleSpec } from '../../src/enforce/compile';
import { Enforcer } from '../../src/enforce/enforcer';
import { testHost } from '../helpers/host';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';

setLibbpfLogger(() => {});
const lsm = probeFeature('lsm');
const dir = mkdtempSync(join(tmpdir(), 'kite-deny-'));
const denied = join(dir, 'denied-tool');
const allowed = join(dir, 'allowed-tool');
const secret = join(dir, 'secret');
const plain = join(dir, 'plain');
const RULES: EnforceRuleSpec[] = [
  { name: 'no-denied-tool', action: 'deny', condition: `event.name == "process.exec" && process.executable.path == "${denied}"` },
  { name: 'no-secret', action: 'deny', condition: `event.name == "file.open" && file.path == "${secret}"` },
];
const compiled = RULES.map((r) => {
  const c = compileEnforcement(r);
  assert.ok(c.ok, c.ok ? '' : c.problem);
  return c.rule;
});

before(() => {
  const marker = buildTestProgram('marker');
  for (const p of [denied, allowed]) {
    copyFileSync(marker, p);
    chmodSync(p, 0o755);
  }
  writeFileSync(secret, 'top secret\n');
  writeFileSync(plain, 'plain\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test(`the lsm probe tells the truth: ${lsm.available ? 'available' : 'unavailable'} (${lsm.detail})`, () => {
  const obj = BpfObject.open(bpfObjectPath('lsm_enforce'));
  let loads = true;
  try {
    obj.load();
    obj.attach('handle_file_open');
  } catch {
    loads = false;
  } finally {
    obj.close();
  }
  assert.equal(lsm.available, loads, `the probe says ${lsm.available}, loading the deny programs ${loads ? 'works' : 'fails'}`);
  if (!lsm.available) assert.match(lsm.detail, /EPERM|not an active LSM/);
});

test(`deny rules: ${lsm.available ? 'enforced (the BPF LSM works here)' : 'refused with the probe\'s reason (no BPF LSM here)'}`, async () => {
  if (lsm.available) await provesDenial();
  else await provesRefusal();
});

/** Denied exec and open fail with EPERM, others work, every denial is reported. */
async function provesDenial(): Promise<void> {
  const host = testHost();
  const records: KiteRecord[] = [];
  const enforcer = new Enforcer(host, compiled, { component: 'processor/rules' });
  enforcer.records$.subscribe((r) => records.push(r));
  await enforcer.start();
  const ids = bpfIdsOf(process.pid);
  try {
    const m1 = join(dir, `m-${randomUUID()}`);
    const r1 = spawnSync(denied, [m1]);
    assert.equal((r1.error as NodeJS.ErrnoException | undefined)?.code, 'EPERM', `exec of the denied binary: ${r1.error ?? `exit ${r1.status}`}`);
    assert.equal(existsSync(m1), false, 'its marker never appears');
    const m2 = join(dir, `m-${randomUUID()}`);
    const r2 = spawnSync(allowed, [m2]);
    assert.equal(r2.status, 0, `the allowed binary runs: ${r2.error ?? ''}`);
    assert.equal(readFileSync(m2, 'utf8'), 'ran\n');
    // another process opens it (the agent never denies itself)
    const denyOpen = spawnSync('/bin/cat', [secret], { encoding: 'utf8' });
    assert.equal(denyOpen.status, 1, 'cat of the denied file fails');
    assert.match(denyOpen.stderr, /Operation not permitted/);
    assert.equal(denyOpen.stdout, '', 'nothing of the file was read');
    const plainOpen = spawnSync('/bin/cat', [plain], { encoding: 'utf8' });
    assert.equal(plainOpen.stdout, 'plain\n', 'other files open');
    const exec = await waitFor(() => records.find((r) => r['kite.rule.name'] === 'no-denied-tool'), 3000, 'the exec denial record');
    assert.equal(exec['event.name'], 'kite.enforcement');
    assert.equal(exec['kite.enforcement.action'], 'deny');
    assert.equal(exec['kite.enforcement.outcome'], 'denied');
    assert.equal(exec['kite.enforcement.hook'], 'bprm_check_security');
    assert.equal(exec['process.executable.path'], denied);
    const open = await waitFor(() => records.find((r) => r['kite.rule.name'] === 'no-secret'), 3000, 'the open denial record');
    assert.equal(open['kite.enforcement.hook'], 'file_open');
    assert.equal(open['file.path'], secret);
    assert.equal(open['process.pid'], denyOpen.pid, 'the process that opened it');
    assert.equal(open['kite.process.comm'], 'cat');
    assert.deepEqual(open['process.command_args'], ['/bin/cat', secret]);
    const c = host.stats.snapshot()['processor/rules']!;
    assert.ok((c['enforce.denied'] ?? 0) >= 2);
  } finally {
    await enforcer.shutdown();
  }
  assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
  assert.equal(spawnSync('/bin/cat', [secret], { encoding: 'utf8' }).stdout, 'top secret\n', 'no longer denied after shutdown');
}

/** The deny rules are refused with the probe's reason before anything is loaded. */
async function provesRefusal(): Promise<void> {
  const host = testHost();
  const enforcer = new Enforcer(host, compiled, { component: 'processor/rules', rulePath: (i) => `processors.rules.rules[${i}]` });
  const before = bpfIdsOf(process.pid);
  await assert.rejects(enforcer.start(), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.problems.length, 2, e.message);
    assert.equal(e.problems[0]!.path, 'processors.rules.rules[0].action');
    assert.match(e.message, /rule no-denied-tool: action deny: deny on execs needs the BPF LSM, which this kernel does not offer \(lsm: .*\); the rule cannot be honoured here/);
    assert.match(e.message, /rule no-secret: action deny: deny on file opens needs the BPF LSM/);
    assert.ok(e.message.includes(lsm.detail), 'the probe\'s reason is given');
    return true;
  });
  const after = bpfIdsOf(process.pid);
  assert.deepEqual(after, before, 'no program, map or link was created');
  await enforcer.shutdown();
  // and the files the rules name stay usable: nothing was silently half-enforced
  assert.equal(spawnSync('/bin/cat', [secret], { encoding: 'utf8' }).stdout, 'top secret\n');
}
