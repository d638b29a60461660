/**
 * Kill at exec on the real kernel (root): a program matching a kill rule is killed by SIGKILL before
 * it runs one instruction of its own (the marker file it would write never appears), and the
 * enforcement is reported with the rule, the process, its parent, user, executable, argv and cgroup.
 * Programs that do not match run. Rules on path prefixes, arguments, user ids and comm; the agent
 * itself is never acted on; nothing is left in the kernel afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { compileEnforcement, EnforceRuleSpec } from '../../src/enforce/compile';
import { Enforcer } from '../../src/enforce/enforcer';
import { cgroup2Root } from '../../src/receivers/filters';
import { testHost } from '../helpers/host';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';

const NOBODY = 65534;
const dir = mkdtempSync(join(tmpdir(), 'kite-enforce-'));
const tag = randomUUID().slice(0, 8);
const evil = join(dir, `evil-${tag}`);
const benign = join(dir, `benign-${tag}`);
const prefixDir = join(dir, 'quarantine');
const host = testHost();
const records: KiteRecord[] = [];
let enforcer: Enforcer;
let completed = false;

const RULES: EnforceRuleSpec[] = [
  { name: 'evil-binary', action: 'kill', condition: `event.name == "process.exec" && process.executable.path == "${evil}"` },
  { name: 'quarantine-with-flag', action: 'kill', condition: `process.executable.path.startsWith("${prefixDir}/") && "--detonate-${tag}" in process.command_args` },
  { name: 'nobody-runs-benign', action: 'kill', condition: `process.executable.path == "${benign}" && process.real_user.id == ${NOBODY}` },
  { name: 'comm', action: 'kill', condition: `kite.process.comm == "kc-${tag}"` },
];

before(async () => {
  setLibbpfLogger(() => {});
  const marker = buildTestProgram('marker');
  chmodSync(dir, 0o777);
  for (const p of [evil, benign]) copyFileSync(marker, p);
  mkdirSync(prefixDir, { mode: 0o777 });
  copyFileSync(marker, join(prefixDir, 'tool'));
  copyFileSync(marker, join(dir, `kc-${tag}`));
  for (const p of [evil, benign, join(prefixDir, 'tool'), join(dir, `kc-${tag}`)]) chmodSync(p, 0o755);
  const compiled = RULES.map((r) => {
    const c = compileEnforcement(r);
    assert.ok(c.ok, c.ok ? '' : c.problem);
    return c.rule;
  });
  enforcer = new Enforcer(host, compiled, { component: 'processor/rules' });
  enforcer.records$.subscribe({ next: (r) => records.push(r), complete: () => { completed = true; } });
  await enforcer.start();
});

after(async () => {
  await enforcer?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function run(cmd: string, args: string[], asNobody = false): Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null }> {
  const child = asNobody
    ? spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', cmd, ...args], { stdio: 'ignore' })
    : spawn(cmd, args, { stdio: 'ignore' });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { pid: child.pid!, code, signal };
}

const enforcementOf = (pid: number) => (): KiteRecord | undefined => records.find((r) => r['process.pid'] === pid);

test('a binary matching a kill rule dies of SIGKILL before writing its marker; the enforcement is reported', async () => {
  const m = join(dir, `m-${randomUUID()}`);
  const { pid, code, signal } = await run(evil, [m, 'second']);
  assert.equal(signal, 'SIGKILL', `exit code ${code}`);
  assert.equal(existsSync(m), false, 'the marker was never written');
  const r = await waitFor(enforcementOf(pid), 2000, 'the enforcement record');
  assert.equal(r['event.name'], 'kite.enforcement');
  assert.equal(r['kite.rule.name'], 'evil-binary');
  assert.equal(r['kite.enforcement.action'], 'kill');
  assert.equal(r['kite.enforcement.outcome'], 'killed');
  assert.equal(r['kite.enforcement.hook'], 'sched_process_exec');
  assert.equal(r['process.parent_pid'], process.pid);
  assert.equal(r['process.real_user.id'], 0);
  assert.equal(r['process.executable.path'], evil);
  assert.deepEqual(r['process.command_args'], [evil, m, 'second']);
  assert.equal(r['kite.process.comm'], `evil-${tag}`.slice(0, 15));
  const cg = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
  const root = cgroup2Root();
  assert.equal(r['kite.cgroup.id'], statSync(join(root, cg)).ino, 'the cgroup id of the process (the test runner\'s cgroup)');
  assert.equal(r['host.name'], 'test-host');
  assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 5000, r.time);
});

test('a non-matching binary in the same folder runs and writes its marker', async () => {
  const m = join(dir, `m-${randomUUID()}`);
  const { pid, code, signal } = await run(benign, [m]);
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.equal(readFileSync(m, 'utf8'), 'ran\n');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(enforcementOf(pid)(), undefined, 'nothing reported for it');
});

test('prefix and argument: killed only with the flag', async () => {
  const tool = join(prefixDir, 'tool');
  const m1 = join(dir, `m-${randomUUID()}`);
  const killed = await run(tool, [m1, `--detonate-${tag}`]);
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(existsSync(m1), false);
  const r = await waitFor(enforcementOf(killed.pid), 2000, 'the enforcement record');
  assert.equal(r['kite.rule.name'], 'quarantine-with-flag');
  const m2 = join(dir, `m-${randomUUID()}`);
  const ran = await run(tool, [m2, `--detonate-${tag}x`]);
  assert.equal(ran.code, 0, 'a longer argument is not the value');
  assert.equal(readFileSync(m2, 'utf8'), 'ran\n');
  // a long argument before the flag is skipped, not compared by its first bytes
  const m3 = join(dir, `m-${randomUUID()}`);
  const long = await run(tool, [m3, 'x'.repeat(300), `--detonate-${tag}`]);
  assert.equal(long.signal, 'SIGKILL');
  assert.equal(existsSync(m3), false);
  await waitFor(enforcementOf(long.pid), 2000, 'the enforcement record');
});

test('user id: the same binary is killed for nobody and runs for root', async () => {
  const m1 = join(dir, `m-${randomUUID()}`);
  const asNobody = await run(benign, [m1], true);
  assert.equal(asNobody.signal, 'SIGKILL');
  assert.equal(existsSync(m1), false);
  const r = await waitFor(() => records.find((x) => x['kite.rule.name'] === 'nobody-runs-benign'), 2000, 'the enforcement record');
  assert.equal(r['process.real_user.id'], NOBODY);
  assert.equal(r['process.user.id'], NOBODY);
  assert.equal(r['process.pid'], asNobody.pid, 'setpriv execs the binary in its own process');
  const m2 = join(dir, `m-${randomUUID()}`);
  const asRoot = await run(benign, [m2]);
  assert.equal(asRoot.code, 0);
  assert.equal(readFileSync(m2, 'utf8'), 'ran\n');
});

test('comm: the command name decides', async () => {
  const m = join(dir, `m-${randomUUID()}`);
  const k = await run(join(dir, `kc-${tag}`), [m]);
  assert.equal(k.signal, 'SIGKILL');
  assert.equal(existsSync(m), false);
  const r = await waitFor(enforcementOf(k.pid), 2000, 'the enforcement record');
  assert.equal(r['kite.rule.name'], 'comm');
});

test('counters: every kill counted per rule, in the kernel and in the agent', async () => {
  const hits = new Map(enforcer.ruleHits().map((h) => [h.rule, h.hits]));
  assert.equal(hits.get('evil-binary'), 1);
  assert.equal(hits.get('quarantine-with-flag'), 2);
  assert.equal(hits.get('nobody-runs-benign'), 1);
  assert.equal(hits.get('comm'), 1);
  const c = host.stats.snapshot()['processor/rules']!;
  assert.equal(c['enforce.killed'], 5);
  assert.equal(c['enforce.kill.quarantine-with-flag'], 2);
});

test('shutdown: nothing left in the kernel, the stream completes, programs run again', async () => {
  const ids = bpfIdsOf(process.pid);
  assert.ok(ids.progs.length >= 1, 'the enforcement program was loaded by this process');
  await enforcer.shutdown();
  await enforcer.shutdown();
  assert.equal(completed, true);
  const left = await waitUnloaded(ids);
  assert.deepEqual(left, { progs: [], maps: [], links: [] });
  const m = join(dir, `m-${randomUUID()}`);
  const again = await run(evil, [m]);
  assert.equal(again.code, 0, 'no longer enforced');
  assert.equal(readFileSync(m, 'utf8'), 'ran\n');
});
