/**
 * The default ruleset on the real kernel (root), through the agent's pipeline run in-process: exec,
 * file, connect, security and dns receivers -> enrich -> rules -> file exporter. Each rule about host
 * behaviour is driven by a real action (test/kernel/rulestool.c, coreutils, a set-user-ID copy, a DNS
 * server and client of test/kernel/dns_tool.py) and must raise its alert with the right process, parent
 * and user; a benign look-alike must not. Alerts are matched by the pids of the test's own processes.
 * Runs in the qemu guest too (no containers needed).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { createLogger } from '../../src/component/logger';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createHost, Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { bpfIdsOf, buildTestProgram, ms, waitFor, waitUnloaded } from '../helpers/kernel';
import { ROOT } from '../helpers/paths';
import { readRecordLines } from '../helpers/events';

const TAG = `kite-rules-${randomUUID().slice(0, 8)}`;
const NOBODY = 65534;
const DNS_PORT = 15353;
const PY = '/usr/bin/python3';
const DNS_TOOL = join(ROOT, 'test', 'kernel', 'dns_tool.py');
const dir = mkdtempSync(join(tmpdir(), 'kite-rules-'));
const out = join(dir, 'records.jsonl');
const host = createHost(createLogger('warn'));
let service: Service;
let tool = '';
let listener: Server;
let listenPort = 0;
let dnsServer: ChildProcess | null = null;
const cleanup: string[] = [];

const config = `
receivers:
  exec: { ring_buffer_size: 4MiB }
  file: {}
  connect: {}
  security: {}
  dns: { interfaces: [lo], ports: [${DNS_PORT}] }
processors:
  enrich: {}
  rules: {}
exporters:
  file: { path: ${out} }
service:
  telemetry: { enabled: false }
  pipelines:
    detect: { receivers: [exec, file, connect, security, dns], processors: [enrich, rules], exporters: [file] }
`;

before(async () => {
  setLibbpfLogger(() => {});
  chmodSync(dir, 0o755);
  tool = buildTestProgram('rulestool');
  listener = createServer((s) => {
    s.on('error', () => {});
    s.resume();
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  listenPort = (listener.address() as AddressInfo).port;
  service = new Service(resolveConfig(parseConfigText(config), createRegistry()), host);
  await service.start();
});

after(async () => {
  await service?.shutdown();
  listener?.close();
  dnsServer?.kill('SIGKILL');
  for (const f of cleanup) rmSync(f, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

function records(): KiteRecord[] {
  return readRecordLines(out);
}

const alerts = (pid: number, rule?: string): KiteRecord[] =>
  records().filter((r) => r['event.name'] === 'kite.alert' && r['process.pid'] === pid && (rule === undefined || r['kite.rule.name'] === rule));

async function run(cmd: string, args: string[], opts: { uid?: number; stdio?: 'ignore' | 'pipe' } = {}): Promise<{ pid: number; code: number | null }> {
  const argv = opts.uid === undefined ? [cmd, ...args] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', cmd, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: opts.stdio ?? 'ignore' });
  const [code] = (await once(child, 'close')) as [number | null];
  return { pid: child.pid!, code };
}

/** Waits for the rule's alert on `pid`; returns it. */
const alertOf = (pid: number, rule: string): Promise<KiteRecord> => waitFor(() => alerts(pid, rule)[0], ms(3000), `alert "${rule}" for pid ${pid} among ${JSON.stringify(records().filter((r) => r['event.name'] === 'kite.alert').map((r) => [r['kite.rule.name'], r['process.pid']]))}`);

/** After a look-alike ran: a marker that is processed after it, then no alert of `rule` for `pid`. */
async function noAlert(pid: number, rule: string): Promise<void> {
  const marker = await run(tool, ['connect', '1', `${TAG}-marker`]);
  await waitFor(() => records().find((r) => r['process.pid'] === marker.pid && r['event.name'] === 'process.exit'), ms(3000), 'the marker');
  await new Promise((r) => setTimeout(r, ms(300)));
  assert.deepEqual(alerts(pid, rule).map((a) => a['kite.rule.output']), [], `no "${rule}" for pid ${pid}`);
}

test('Read of sensitive credential file: nobody reads /etc/shadow (refused), root reads it with an unexpected program, cat reads an SSH private key; not /etc/passwd, not a public key', async () => {
  const byNobody = await run('cat', ['/etc/shadow', `/nonexistent/${TAG}`], { uid: NOBODY });
  assert.notEqual(byNobody.code, 0);
  const a = await alertOf(byNobody.pid, 'Read of sensitive credential file');
  assert.equal(a['file.path'], '/etc/shadow');
  assert.equal(a['kite.process.comm'], 'cat', 'the kernel\'s name of the program that opened it');
  // setpriv execs cat in place: the file record (file ring) may be read before the exec record (exec
  // ring); enrich holds it until the exec record comes (kite.process.exec_seq), so it names cat
  assert.equal(a['process.executable.path'], '/usr/bin/cat');
  assert.equal(a['process.user.id'], NOBODY);
  assert.equal(a['process.user.name'], 'nobody');
  assert.equal(a['kite.file.result'], 'error');
  assert.equal(a['kite.trigger.event.name'], 'file.open');
  assert.equal(a['process.parent_pid'], process.pid);
  assert.equal(a['process.parent.executable.path'], process.execPath);
  assert.equal(a['kite.rule.priority'], 'warning');
  const byRoot = await run('head', ['-c1', '/etc/shadow', `/nonexistent/${TAG}`], { stdio: 'ignore' });
  const b = await alertOf(byRoot.pid, 'Read of sensitive credential file');
  assert.equal(b['kite.process.comm'], 'head');
  assert.equal(b['process.executable.path'], '/usr/bin/head');
  assert.equal(b['process.user.name'], 'root');
  assert.equal(b['kite.file.result'], 'ok');
  const pub = join('/root', '.ssh', `${TAG}_id_ed25519.pub`);
  mkdirSync('/root/.ssh', { recursive: true, mode: 0o700 });
  writeFileSync(pub, 'ssh-ed25519 AAAA test\n');
  cleanup.push(pub);
  const key = join('/root', '.ssh', `id_${TAG}`);
  writeFileSync(key, '-----BEGIN OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
  cleanup.push(key);
  const keyRead = await run('cat', [key]);
  assert.equal(keyRead.code, 0);
  const k = await alertOf(keyRead.pid, 'Read of sensitive credential file');
  assert.equal(k['file.path'], key);
  const benign = await run('cat', ['/etc/passwd', pub]);
  assert.equal(benign.code, 0);
  await noAlert(benign.pid, 'Read of sensitive credential file');
});

test('Write below a binary directory: touch /usr/local/bin/<x> and a rename into /usr/local/sbin; not a write in /tmp', async () => {
  const target = `/usr/local/bin/${TAG}-hack`;
  cleanup.push(target);
  const t = await run('touch', [target]);
  assert.equal(t.code, 0);
  const a = await alertOf(t.pid, 'Write below a binary directory');
  assert.equal(a['file.path'], target);
  assert.equal(a['process.executable.path'], '/usr/bin/touch');
  assert.equal(a['process.user.name'], 'root');
  assert.equal(a['kite.rule.priority'], 'error');
  const staged = join(dir, `${TAG}-staged`);
  writeFileSync(staged, '#!/bin/sh\n');
  const moved = `/usr/local/sbin/${TAG}-moved`;
  cleanup.push(moved);
  const mv = await run('mv', [staged, moved]);
  assert.equal(mv.code, 0);
  const m = await alertOf(mv.pid, 'Write below a binary directory');
  assert.equal(m['kite.file.new_path'], moved);
  assert.equal(m['kite.trigger.event.name'], 'file.rename');
  const benign = await run('touch', [join(dir, `${TAG}-benign`)]);
  await noAlert(benign.pid, 'Write below a binary directory');
});

test('Reverse shell: a shell whose stdin and stdout are a TCP socket; also the shell after the connect of the same process', async () => {
  const r = await run(tool, ['revshell', String(listenPort), TAG]);
  assert.equal(r.code, 0);
  const a = await alertOf(r.pid, 'Reverse shell');
  assert.equal(a['process.executable.path'], '/usr/bin/dash');
  assert.equal(a['kite.process.stdin.type'], 'inet_socket');
  assert.equal(a['kite.process.stdout.type'], 'inet_socket');
  assert.equal(a['process.parent.executable.path'], process.execPath);
  assert.equal(a['kite.rule.priority'], 'critical');
  await alertOf(r.pid, 'Shell after an outbound connection');
});

test('Shell after an outbound connection: connect, then exec of a shell in place; not a shell without a connect, nor one run by a child', async () => {
  const r = await run(tool, ['connect-exec', String(listenPort), TAG]);
  assert.equal(r.code, 0);
  const a = await alertOf(r.pid, 'Shell after an outbound connection');
  assert.equal(a['process.executable.path'], '/usr/bin/dash');
  assert.deepEqual(a['kite.rule.sequence.event_names'], ['network.connect', 'process.exec']);
  const ids = a['kite.rule.sequence.event_ids'] as string[];
  const connect = records().find((x) => x['kite.event_id'] === ids[0])!;
  assert.equal(connect['process.pid'], r.pid, 'the connect of the same process');
  assert.equal(connect['network.peer.port'], listenPort);
  assert.equal(connect['kite.process.comm'], 'rulestool', 'made by the tool, before its exec of the shell');
  assert.equal(a['kite.process.stdin.type'], 'char_device', 'stdin is /dev/null: not the stdio rule');
  assert.equal(alerts(r.pid, 'Reverse shell').length, 0);
  const noConnect = await run(tool, ['exec-shell', TAG]);
  await noAlert(noConnect.pid, 'Shell after an outbound connection');
  const child = await run(tool, ['connect-fork', String(listenPort), TAG]);
  assert.equal(child.code, 0);
  await noAlert(child.pid, 'Shell after an outbound connection');
  const shells = records().filter((x) => x['event.name'] === 'kite.alert' && x['kite.rule.name'] === 'Shell after an outbound connection' && x['process.parent_pid'] === child.pid);
  assert.deepEqual(shells, [], 'the forked child is another process');
});

test('Execution from a temporary directory or memory: a copy in /tmp, and a memfd (fexecve); not /usr/bin/true', async () => {
  const copy = join(dir, `${TAG}-true`);
  copyFileSync('/usr/bin/true', copy);
  chmodSync(copy, 0o755);
  const t = await run(copy, []);
  assert.equal(t.code, 0);
  const a = await alertOf(t.pid, 'Execution from a temporary directory or memory');
  assert.equal(a['process.executable.path'], copy);
  const m = await run(tool, ['memfd-exec', TAG]);
  assert.equal(m.code, 0);
  const b = await alertOf(m.pid, 'Execution from a temporary directory or memory');
  assert.match(String(b['process.executable.path']), /^\/memfd:kite-fileless/);
  const benign = await run('/usr/bin/true', [TAG]);
  await noAlert(benign.pid, 'Execution from a temporary directory or memory');
});

test('Ptrace attach to another process: PTRACE_ATTACH of a child; not PTRACE_TRACEME', async () => {
  const p = await run(tool, ['ptrace-attach', TAG]);
  assert.equal(p.code, 0);
  const a = await alertOf(p.pid, 'Ptrace attach to another process');
  assert.equal(a['kite.ptrace.request'], 'attach');
  assert.notEqual(a['kite.target.process.pid'], p.pid);
  assert.equal(a['process.executable.path'], tool);
  const benign = await run(tool, ['ptrace-traceme', TAG]);
  assert.equal(benign.code, 0);
  await noAlert(benign.pid, 'Ptrace attach to another process');
});

test('Privilege escalation to root and new capabilities: nobody runs a set-user-ID-root copy that calls setuid(0); not su, not a uid change between non-root users', async () => {
  const copy = join(dir, `${TAG}-suid`);
  copyFileSync(tool, copy);
  chmodSync(copy, 0o4755);
  // through a shell run as nobody, which execs the copy in place: nobody's shell holds no capabilities
  const p = await run('/bin/sh', ['-c', `exec ${copy} setuid0 ${TAG}`], { uid: NOBODY });
  assert.equal(p.code, 0);
  const a = await alertOf(p.pid, 'Privilege escalation to root');
  assert.equal(a['kite.process.before.user.id'], NOBODY);
  assert.equal(a['process.user.id'], 0);
  assert.equal(a['kite.trigger.event.name'], 'process.privilege_change');
  assert.equal(a['kite.syscall'], 'execve');
  assert.equal(a['process.executable.path'], copy);
  const caps = await alertOf(p.pid, 'New capabilities');
  assert.ok((caps['kite.process.capabilities.added'] as string[]).includes('CAP_SYS_ADMIN'));
  // su as nobody: the exec makes it root (set-user-ID) but su is a known privileged program
  const su = await run('/bin/sh', ['-c', 'exec su -c true root </dev/null'], { uid: NOBODY });
  assert.notEqual(su.code, 0, 'no password: su fails');
  await noAlert(su.pid, 'Privilege escalation to root');
  assert.equal(alerts(su.pid, 'New capabilities').length, 0);
  // root to nobody: a drop, not an escalation
  const drop = await run('/usr/bin/true', [TAG], { uid: NOBODY });
  await noAlert(drop.pid, 'Privilege escalation to root');
});

test('Connection to a mining pool port: a connect to port 3333 (refused); not to the listener\'s port', async () => {
  const m = await run(tool, ['connect', '3333', TAG]);
  assert.equal(m.code, 0);
  const a = await alertOf(m.pid, 'Connection to a mining pool port');
  assert.equal(a['network.peer.port'], 3333);
  assert.equal(a['kite.network.result'], 'refused');
  assert.equal(a['process.executable.path'], tool);
  const benign = await run(tool, ['connect', String(listenPort), TAG]);
  await noAlert(benign.pid, 'Connection to a mining pool port');
});

test('DNS query with a long or high-entropy label: a tunnelling-like name and a random label; not an ordinary long name', async () => {
  dnsServer = spawn(PY, [DNS_TOOL, 'serve', 'udp', '127.0.0.1', String(DNS_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    dnsServer!.stdout!.once('data', () => resolve());
    dnsServer!.once('exit', (c) => reject(new Error(`dns server exited with ${c}`)));
  });
  const query = (name: string) => run(PY, [DNS_TOOL, 'query', 'udp', '127.0.0.1', String(DNS_PORT), name, 'A']);
  const tunnel = `${'4a6f686e20446f65'.repeat(3)}0a1b.${TAG}.example.com`;
  const q = await query(tunnel);
  assert.equal(q.code, 0);
  const a = await alertOf(q.pid, 'DNS query with a long or high-entropy label');
  assert.equal(a['dns.question.name'], tunnel);
  assert.equal(a['process.executable.path'], realpathOf(PY));
  const random = `q7x2mz9kd4vbt8wn3hj6ps5c.${TAG}.example.com`;
  const r = await query(random);
  await alertOf(r.pid, 'DNS query with a long or high-entropy label');
  const benign = await query(`averyordinarysubdomainname.${TAG}.example.com`);
  assert.equal(benign.code, 0);
  await noAlert(benign.pid, 'DNS query with a long or high-entropy label');
});

/** /usr/bin/python3 is a symlink; exec records carry the resolved path. */
const realpathOf = (p: string): string => realpathSync(p);

test('the rules processor counted what it did: emitted = received + alerts; nothing of ours is left in the kernel after shutdown', async () => {
  const ids = bpfIdsOf(process.pid);
  assert.ok(ids.progs.length > 0, 'the receivers hold their programs');
  await service.shutdown();
  assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] }, 'nothing of the agent is left in the kernel');
  const s = host.stats.snapshot()['processor/rules']!;
  assert.ok(s.alerts! > 0);
  assert.equal(s.emitted, s.received! + s.alerts!);
  const perRule = Object.entries(s).filter(([k]) => k.startsWith('rule_matched.')).reduce((n, [, v]) => n + v, 0);
  assert.equal(perRule, s.alerts);
});
