/**
 * compileEnforcement: what a kill or deny rule becomes in the kernel, and the exact problem for each
 * condition the kernel cannot decide (never a silent fallback to an alert). Also the enforcement
 * record's decoder on crafted records, short and malformed ones included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileEnforcement, CompiledEnforcement, EnforceRuleSpec } from '../../src/enforce/compile';
import { decodeEnforce, ENFORCE_EVENT, EnforceOp, pathKey } from '../../src/enforce/wire';
import { compileDetectionRule, detectionRuleProblem } from '../../src/enforce/rules-adapter';
import { createEnforcer, Enforcer, enforcementValidation, mergeEnforcement } from '../../src/enforce';
import { ConfigError } from '../../src/component/errors';
import { KiteRecord } from '../../src/component/component';
import { Subject } from 'rxjs';
import { testHost } from '../helpers/host';

const ID = 'a'.repeat(64);

function ok(condition: string, action: 'kill' | 'deny' = 'kill'): CompiledEnforcement {
  const r = compileEnforcement({ name: 'r', action, condition });
  assert.ok(r.ok, r.ok ? '' : r.problem);
  return r.rule;
}

function problem(condition: string, action: 'kill' | 'deny' = 'kill'): string {
  const r = compileEnforcement({ name: 'r', action, condition } as EnforceRuleSpec);
  assert.ok(!r.ok, `expected a problem for ${condition}`);
  return r.problem;
}

test('kill at exec: path exact and prefix, argument, uids, comm, cgroup, container', () => {
  const r = ok(`event.name == "process.exec" && process.executable.path in ["/usr/bin/nc", "/bin/nc"] && "-e" in process.command_args && process.real_user.id != 0 && process.user.id == 1000 && kite.process.comm == "nc" && container.id == "${ID}" && kite.cgroup.id == 42`);
  assert.equal(r.target, 'exec');
  assert.equal(r.kernel.length, 1);
  const by = Object.fromEntries(r.kernel[0]!.predicates.map((p) => [p.field, p]));
  assert.deepEqual(by.path, { field: 'path', values: ['/usr/bin/nc', '/bin/nc'], prefixes: [], negated: false });
  assert.deepEqual(by.arg, { field: 'arg', values: ['-e'], prefixes: [], negated: false });
  assert.deepEqual(by.uid, { field: 'uid', values: [0], prefixes: [], negated: true });
  assert.deepEqual(by.euid!.values, [1000]);
  assert.deepEqual(by.comm!.values, ['nc']);
  assert.deepEqual(by.container!.values, [ID]);
  assert.deepEqual(by.cgroup!.values, [42]);
  const p = ok('process.executable.path.startsWith("/tmp/") || process.executable.path == "/dev/shm/x"');
  assert.equal(p.kernel.length, 1, 'a disjunction on one attribute stays one rule');
  assert.deepEqual(p.kernel[0]!.predicates[0], { field: 'path', values: ['/dev/shm/x'], prefixes: ['/tmp/'], negated: false });
});

test('disjunctions across attributes become alternatives (one kernel rule each)', () => {
  const r = ok('(process.executable.path == "/bin/a" || kite.process.comm == "b") && process.real_user.id == 1000');
  assert.equal(r.kernel.length, 2);
  assert.deepEqual(r.kernel.map((k) => k.predicates.map((p) => p.field).sort()), [['path', 'uid'], ['comm', 'uid']]);
  assert.match(problem(Array.from({ length: 7 }, (_, i) => `(kite.process.comm == "a${i}" || process.real_user.id == ${i})`).join(' && ')), /more than 64 alternatives/);
});

test('kill: what cannot be decided at exec is refused with what can', () => {
  assert.equal(problem('process.command_line.contains("curl")'),
    'rule r: action kill: condition uses process.command_line, which cannot be decided in the kernel at exec; supported: process.executable.path (==, !=, in, startsWith), "value" in process.command_args, process.real_user.id, process.user.id (==, !=, in), kite.process.comm (==, !=, in), kite.cgroup.id (==, !=, in), container.id (==, in)');
  assert.match(problem('container.image.name == "nginx"'), /^rule r: action kill: condition uses container.image.name, which cannot be decided in the kernel at exec; supported: /);
  assert.match(problem('process.executable.path.endsWith("/nc")'), /condition uses process\.executable\.path\.endsWith\("\/nc"\) \(on process\.executable\.path\), which is not a simple comparison/);
  assert.match(problem('event.name == "file.open" && file.path == "/etc/shadow"'), /condition is about file opens; kill is decided at exec \(process.exec\); use deny/);
  assert.match(problem('event.name == "dns.query"'), /event.name "dns.query", which no enforcement hook decides; kill is decided at exec/);
  assert.match(problem('true'), /always true/);
  assert.match(problem('process.real_user.id == 0 || true'), /condition uses true, which is not a simple comparison/);
  assert.match(problem('process.executable.path == "relative"'), /which is not an absolute path/);
  assert.match(problem(`"${'x'.repeat(64)}" in process.command_args`), /longer than the 63 bytes an argument is compared on/);
  assert.match(problem('kite.process.comm == "a-very-long-command"'), /longer than the kernel's comm \(15 bytes\), so it never matches/);
  assert.match(problem('container.id == "abc"'), /not a full container id/);
  assert.match(problem(`container.id != "${ID}"`), /negates container.id/);
  assert.match(problem('process.executable.path.startsWith("/a") && process.executable.path != "/a/b"'), /constrains process.executable.path twice in one alternative/);
  assert.match(problem('process.command_args == ["a"]'), /condition uses process.command_args == \["a"\], which compares no attribute with a literal/);
  assert.match(problem('process.command_args == "a"'), /compares process.command_args as a whole/);
  assert.match(problem('process.real_user.id == '), /not valid CEL/);
  assert.match(problem('process.real_user.id == 1 && process.real_user.id == 2'), /can never be true/);
});

test('deny at exec (LSM bprm_check): no argv or comm; deny at open: file.path', () => {
  assert.match(problem('"-e" in process.command_args', 'deny'), /^rule r: action deny: condition uses process.command_args, which cannot be decided in the kernel before an exec \(LSM bprm_check_security\); supported: process.executable.path/);
  assert.match(problem('kite.process.comm == "nc"', 'deny'), /kite.process.comm, which cannot be decided in the kernel before an exec/);
  assert.equal(ok('process.executable.path == "/bin/nc"', 'deny').target, 'exec');
  const open = ok('event.name == "file.open" && file.path.startsWith("/etc/ssh/") && process.real_user.id != 0', 'deny');
  assert.equal(open.target, 'open');
  assert.deepEqual(open.kernel[0]!.predicates.map((p) => p.field).sort(), ['path', 'uid']);
  assert.equal(ok('file.path == "/etc/shadow"', 'deny').target, 'open', 'the hook follows from the attributes');
  assert.match(problem('file.path == "/etc/shadow" && process.executable.path == "/bin/cat"', 'deny'), /condition uses process.executable.path, which cannot be decided in the kernel at file open/);
  assert.match(problem('event.name in ["process.exec", "file.open"]', 'deny'), /mixes events decided at different hooks/);
});

test('deny network: peer address, local port and transport become drop entries', () => {
  const r = ok('network.peer.address in ["192.0.2.1", "2001:db8::1"] && network.local.port in [22, 2222] && network.transport == "tcp"', 'deny');
  assert.equal(r.target, 'network');
  assert.deepEqual(r.network, [
    { cidrs: ['192.0.2.1/32', '2001:db8::1/128'], protocol: 'tcp', port: 22 },
    { cidrs: ['192.0.2.1/32', '2001:db8::1/128'], protocol: 'tcp', port: 2222 },
  ]);
  assert.deepEqual(ok('event.name == "network.accept" && network.local.port == 23', 'deny').network, [
    { cidrs: [], protocol: 'tcp', port: 23 }, { cidrs: [], protocol: 'udp', port: 23 },
  ]);
  assert.deepEqual(ok('network.peer.port in [3333, 5555] && network.transport == "tcp"', 'deny').network, [
    { cidrs: [], protocol: 'tcp', peerPort: 3333 }, { cidrs: [], protocol: 'tcp', peerPort: 5555 },
  ], 'mining-pool ports: replies from those peer ports are dropped');
  assert.match(problem('network.peer.port > 1024', 'deny'), /condition uses network.peer.port > 1024, which is not a simple comparison/);
  assert.match(problem('network.local.address == "10.0.0.1"', 'deny'), /network.local.address, which cannot be decided in the kernel on received packets \(XDP\); supported: network.peer.address/);
  assert.match(problem('network.peer.address == "10.0.0.0/8"', 'deny'), /not an IPv4 or IPv6 address/);
  assert.match(problem('network.peer.address != "192.0.2.1"', 'deny'), /negates or takes a prefix of network.peer.address/);
  assert.match(problem('network.peer.address == "192.0.2.1"', 'kill'), /kill is decided at exec/);
});

test('path keys: an exact path includes its NUL, a prefix does not', () => {
  assert.equal(pathKey('/bin/nc', true).readUInt32LE(0), 8 * 8);
  assert.equal(pathKey('/tmp/', false).readUInt32LE(0), 5 * 8);
  assert.equal(pathKey('/tmp/', false).length, 260);
});

function record(opts: { op?: number; path?: string; args?: string[]; size?: number } = {}): Buffer {
  const path = Buffer.from(opts.path ?? '/tmp/evil');
  const args = Buffer.from((opts.args ?? ['/tmp/evil', '-x']).map((a) => `${a}\0`).join(''));
  const b = Buffer.alloc(ENFORCE_EVENT.size + path.length + args.length);
  const F = ENFORCE_EVENT.fields;
  b.writeUInt16LE(opts.op ?? EnforceOp.KILL_EXEC, 0);
  b.writeUInt16LE(opts.size ?? b.length, 2);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(0x89abcdef, 8);
  b.writeUInt32LE(0x1, 12);
  b.writeUInt32LE(4242, F.pid.offset);
  b.writeUInt32LE(4243, F.tid.offset);
  b.writeUInt32LE(1, F.ppid.offset);
  b.writeUInt32LE(1000, F.uid.offset);
  b.writeUInt32LE(0, F.euid.offset);
  b.writeUInt32LE(1000, F.gid.offset);
  b.writeBigUInt64LE(777n, F.cgroup_id.offset);
  b.writeBigUInt64LE(0b101n, F.rules.offset);
  b.writeInt32LE(0, F.result.offset);
  b.writeUInt8(1, F.action.offset);
  b.writeUInt8(1, F.hook.offset);
  b.writeUInt16LE(2, F.flags.offset);
  b.writeUInt16LE(path.length, F.path_size.offset);
  b.writeUInt16LE(args.length, F.args_size.offset);
  b.write('evil', F.comm.offset);
  path.copy(b, F.data.offset);
  args.copy(b, F.data.offset + path.length);
  return b;
}

test('decoder: a crafted record, and short or malformed ones as reasons (never a throw)', () => {
  const b = record();
  const w = decodeEnforce(b, 0, b.length);
  assert.ok(typeof w !== 'string', String(w));
  assert.equal(w.pid, 4242);
  assert.equal(w.tid, 4243);
  assert.equal(w.uid, 1000);
  assert.equal(w.cgroupId, 777);
  assert.equal(w.rules, 0b101n);
  assert.equal(w.comm, 'evil');
  assert.equal(w.path, '/tmp/evil');
  assert.deepEqual(w.args, ['/tmp/evil', '-x']);
  assert.equal(w.flags, 2);
  assert.equal(decodeEnforce(b, 0, 40), 'short');
  assert.equal(decodeEnforce(record({ op: 5 }), 0, b.length), 'unknown_op');
  const big = record({ size: 60000 });
  assert.equal(decodeEnforce(big, 0, big.length), 'bad_size');
  const lying = record();
  lying.writeUInt16LE(5000, ENFORCE_EVENT.fields.path_size.offset);
  assert.equal(decodeEnforce(lying, 0, lying.length), 'bad_size');
});

test('negations are pushed inwards: an exception on two fields becomes two alternatives', () => {
  const r = ok('process.executable.path.startsWith("/tmp/") && !(kite.process.comm == "ok" && process.real_user.id == 0)');
  assert.equal(r.kernel.length, 2);
  assert.deepEqual(r.kernel.map((k) => k.predicates.map((p) => `${p.field}${p.negated ? '!' : ''}`).sort()), [['comm!', 'path'], ['path', 'uid!']]);
  assert.match(problem('!(process.executable.path in ["/a", "/b"] || process.executable.path.startsWith("/c"))'), /constrains process.executable.path twice/);
});

test('detection rules: scope by container ids and exceptions are kept; what only user space knows is refused', () => {
  const base = { name: 'shell', action: 'kill', condition: 'process.executable.path == "/bin/sh"' };
  const scoped = compileDetectionRule({ ...base, scope: { containerIds: [ID] }, exceptions: [{ name: 'root', condition: 'process.real_user.id == 0' }] });
  assert.ok(scoped.ok, scoped.ok ? '' : scoped.problem);
  assert.deepEqual(scoped.rule.kernel[0]!.predicates.map((p) => `${p.field}${p.negated ? '!' : ''}`).sort(), ['container', 'path', 'uid!']);
  assert.equal(detectionRuleProblem({ ...base, scope: { images: ['nginx*'] } }), 'scope images is known only from enrichment in user space, not in the kernel; scope the rule by container_ids');
  assert.match(detectionRuleProblem({ ...base, scope: { container: true } })!, /scope container: true is known only from enrichment/);
  assert.match(detectionRuleProblem({ ...base, sequence: { steps: [] } })!, /a sequence is decided over several events in user space/);
  assert.match(detectionRuleProblem({ ...base, exceptions: [{ name: 'x', condition: 'container.image.name == "a"' }] })!, /^condition uses container.image.name, which cannot be decided in the kernel at exec/);
  assert.equal(detectionRuleProblem(base), null);
});

test('enforcementValidation: every problem with its key, network rules without interfaces included', () => {
  const problems = enforcementValidation([
    { name: 'a', action: 'kill', condition: 'process.executable.path == "/bin/a"' },
    { name: 'b', action: 'kill', condition: 'process.command_line.contains("x")' },
    { name: 'c', action: 'deny', condition: 'network.peer.address == "192.0.2.1"' },
  ]);
  assert.deepEqual(problems.map((p) => p.key), ['rules[1].condition', 'rules[2].action']);
  assert.match(problems[0]!.expected, /^rule b: action kill: condition uses process.command_line/);
  assert.match(problems[1]!.expected, /^rule c: action deny on network traffic is enforced by XDP on named interfaces/);
  assert.deepEqual(enforcementValidation([{ name: 'c', action: 'deny', condition: 'network.peer.address == "192.0.2.1"' }], { interfaces: ['eth0'] }), []);
  assert.throws(() => createEnforcer(testHost(), [{ name: 'b', action: 'kill', condition: 'container.image.name == "x"' }], { component: 'processor/rules' }), (e: unknown) => e instanceof ConfigError && e.problems[0]!.path === 'rules[0].condition');
});

test('mergeEnforcement: enforcement records join the stream, which completes with its source', async () => {
  const enforcer = new Enforcer(testHost(), [], { component: 'processor/rules' });
  const source = new Subject<KiteRecord>();
  const out: string[] = [];
  let done = false;
  source.pipe(mergeEnforcement(enforcer)).subscribe({ next: (r) => out.push(r['event.name']), complete: () => { done = true; } });
  source.next({ time: 't', 'event.name': 'process.exec', 'kite.event_id': '1' });
  enforcer.records$.next({ time: 't', 'event.name': 'kite.enforcement', 'kite.event_id': '2' });
  source.complete();
  enforcer.records$.next({ time: 't', 'event.name': 'kite.enforcement', 'kite.event_id': '3' });
  assert.deepEqual(out, ['process.exec', 'kite.enforcement']);
  assert.equal(done, true, 'the pipeline is not held open by the enforcer');
  await enforcer.shutdown();
});
