/**
 * The rules processor: matches, exceptions, macros and lists, scope, sequences on a virtual clock,
 * bounded state, unsubscribe, counters, and the default ruleset (each rule's positive and negative
 * cases on hand-written records; the kernel tests drive the same rules with real behaviour).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, Observable, Subject, toArray } from 'rxjs';
import { AttrValue, KiteRecord, parseComponentId } from '../../src/component/component';
import { ConfigError } from '../../src/component/errors';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { classify } from '../../src/pipeline/telemetry';
import { loadRules } from '../../src/processors/rules/config';
import { kernelEnforcer, setEnforcer } from '../../src/processors/rules/enforcement';
import { RulesProcessor } from '../../src/processors/rules/processor';
import { compileTemplate, expandCondition, parseRuleset } from '../../src/processors/rules/ruleset';
import { entropy } from '../../src/processors/filter/cel';
import { createRegistry } from '../../src/registry';
import { testHost } from '../helpers/host';
import { rec, testScheduler } from '../helpers/processors';

const id = parseComponentId('rules')!;

function processor(items: unknown[], opts: { maxSequences?: number; host?: ReturnType<typeof testHost>; scheduler?: ReturnType<typeof testScheduler> } = {}): RulesProcessor {
  const set = parseRuleset([{ label: 'inline', path: 'rules', items }]);
  assert.deepEqual(set.problems, []);
  return new RulesProcessor(id, opts.host ?? testHost(), { rules: set.rules, minPriority: 'debug', maxSequences: opts.maxSequences ?? 100 }, opts.scheduler);
}

async function run(p: RulesProcessor, records: KiteRecord[]): Promise<KiteRecord[]> {
  return lastValueFrom(from(records).pipe(p.operator(), toArray()));
}

const alertsOf = (out: KiteRecord[]): KiteRecord[] => out.filter((r) => r['event.name'] === 'kite.alert');

const SHELL_RULES = [
  { list: 'shells', items: ['sh', 'bash'] },
  { macro: 'shell_exec', condition: 'event.name == "process.exec" && process.executable.name in shells' },
  {
    rule: 'Shell', description: 'a shell ran', condition: 'shell_exec && process.user.id != 0',
    output: 'shell %process.command_line by uid %process.user.id in %container.id (%%)', priority: 'WARNING', tags: ['shell', 'T1059.004', 'mitre_execution'],
  },
];

const exec = (name: string, attrs: Record<string, AttrValue> = {}): KiteRecord =>
  rec('process.exec', '2026-01-01T00:00:00.000000001Z', { 'process.executable.name': name, 'process.command_line': `/bin/${name} -c x`, 'process.user.id': 1000, 'process.pid': 42, ...attrs });

test('a match: the record passes unchanged, then one alert with the rule, the rendered output and the trigger\'s attributes', async () => {
  const trigger = exec('sh', { 'container.id': 'abc', 'kite.seq': 7, 'kite.process.ancestors.pid': [1, 2] });
  const copy = structuredClone(trigger);
  const host = testHost();
  const out = await run(processor(SHELL_RULES, { host }), [trigger]);
  assert.equal(out.length, 2);
  assert.equal(out[0], trigger, 'the same record object, first');
  assert.deepEqual(out[0], copy, 'unchanged');
  const a = out[1]!;
  assert.equal(a['event.name'], 'kite.alert');
  assert.notEqual(a['kite.event_id'], trigger['kite.event_id']);
  assert.equal(a.time, trigger.time);
  assert.equal(a['kite.trigger.event.name'], 'process.exec');
  assert.equal(a['kite.trigger.event_id'], trigger['kite.event_id']);
  assert.equal(a['kite.rule.name'], 'Shell');
  assert.equal(a['kite.rule.description'], 'a shell ran');
  assert.equal(a['kite.rule.priority'], 'warning');
  assert.deepEqual(a['kite.rule.tags'], ['shell', 'T1059.004', 'mitre_execution']);
  assert.deepEqual(a['kite.rule.mitre.techniques'], ['T1059.004']);
  assert.equal(a['kite.rule.action'], 'alert');
  assert.equal(a['kite.rule.output'], 'shell /bin/sh -c x by uid 1000 in abc (%)');
  assert.equal(a['process.command_line'], '/bin/sh -c x');
  assert.equal(a['container.id'], 'abc');
  assert.deepEqual(a['kite.process.ancestors.pid'], [1, 2]);
  assert.equal(a['kite.seq'], undefined, 'the alert gets its own sequence number downstream');
  assert.equal(a['kite.rule.source'], 'inline');
});

test('no match: a root shell, another program, and a record without the attribute pass alone', async () => {
  const host = testHost();
  const p = processor(SHELL_RULES, { host });
  await p.start();
  const records = [exec('sh', { 'process.user.id': 0 }), exec('ls'), rec('process.exec', 't', { 'process.executable.name': 'sh' }), rec('file.open', 't', { 'file.path': '/x' })];
  const out = await run(p, records);
  assert.deepEqual(out, records);
  await p.shutdown();
  const s = host.stats.snapshot()['processor/rules']!;
  assert.equal(s.received, 4);
  assert.equal(s.emitted, 4);
  assert.equal(s.condition_errors, 1, 'the record without process.user.id');
  assert.equal(s.alerts ?? 0, 0);
});

test('counters: emitted = received + alerts; alerts = the sum of rule_matched.<rule>; excepted matches are not alerts', async () => {
  const host = testHost();
  const p = processor([
    ...SHELL_RULES,
    { rule: 'Any exec', description: 'd', condition: 'event.name == "process.exec"', output: 'o', priority: 'debug', exceptions: [{ name: 'ls', fields: ['process.executable.name'], values: ['ls'] }] },
  ], { host });
  await run(p, [exec('sh'), exec('ls'), exec('bash'), rec('x', 't')]);
  const s = host.stats.snapshot()['processor/rules']!;
  assert.equal(s.received, 4);
  assert.equal(s['rule_matched.Shell'], 2);
  assert.equal(s['rule_matched.Any exec'], 2);
  assert.equal(s['rule_excepted.Any exec'], 1);
  assert.equal(s.alerts, 4);
  assert.equal(s.emitted, s.received + s.alerts);
  assert.deepEqual(classify('rule_matched.Any exec'), { outcome: 'rule_matched', reason: 'Any exec' });
  assert.deepEqual(classify('rule_excepted.Any exec'), { outcome: 'rule_excepted', reason: 'Any exec' });
});

test('exceptions: Falco fields/comps/values (with a list by name), and a condition', async () => {
  const p = processor([
    { list: 'trusted', items: ['/usr/sbin/cron', '/usr/bin/sudo'] },
    {
      rule: 'Shadow', description: 'd', condition: 'event.name == "file.open" && file.path == "/etc/shadow"', output: '%process.executable.path', priority: 'warning',
      exceptions: [
        { name: 'trusted_root', fields: ['process.executable.path', 'process.user.id'], comps: ['in', '='], values: [['trusted', 0]] },
        { name: 'tools', fields: 'process.executable.path', comps: 'startswith', values: ['/opt/backup/'] },
        { name: 'test_pid', condition: 'process.pid == 4242' },
      ],
    },
  ]);
  const open = (path: string, uid: number, pid = 1): KiteRecord => rec('file.open', 't', { 'file.path': '/etc/shadow', 'process.executable.path': path, 'process.user.id': uid, 'process.pid': pid });
  const out = await run(p, [open('/usr/sbin/cron', 0), open('/usr/sbin/cron', 1000), open('/usr/bin/cat', 0), open('/opt/backup/bin/b', 0), open('/usr/bin/cat', 0, 4242)]);
  assert.deepEqual(alertsOf(out).map((a) => a['kite.rule.output']), ['/usr/sbin/cron', '/usr/bin/cat']);
  assert.equal(alertsOf(out)[0]!['process.user.id'], 1000);
});

test('macros and lists: nested, in lists, as list methods; unknown names and cycles are errors', () => {
  const ctx = {
    lists: new Map([['a', { items: ['x', 'y'], path: '' }], ['b', { items: ['a', 'z'], path: '' }], ['ports', { items: [1, 2], path: '' }]]),
    macros: new Map([['m1', { condition: 'x.k in b', path: '' }], ['m2', { condition: 'm1 && x.p in ports', path: '' }], ['loop', { condition: 'loop2', path: '' }], ['loop2', { condition: 'loop', path: '' }]]),
  };
  assert.equal(expandCondition('m2 || "m1" == x.s', ctx), '((x.k in ["x", "y", "z"]) && x.p in [1, 2]) || "m1" == x.s');
  assert.equal(expandCondition('a.exists(d, f.startsWith(d)) && process.pid > 0 && has(a.b)', ctx), '["x", "y"].exists(d, f.startsWith(d)) && process.pid > 0 && has(a.b)');
  const dns = "dns.question.name.split('.').exists(l, size(l) > 3 && entropy(l) > 3.5 && l in a)";
  assert.equal(expandCondition(dns, ctx), dns.replace(' in a)', ' in ["x", "y"])'), 'comprehension variables are not macros');
  assert.throws(() => expandCondition('m9 && x.y', ctx), /unknown macro or list m9/);
  assert.throws(() => expandCondition('loop', ctx), /refers to itself \(loop -> loop2 -> loop\)/);
});

test('scope: container, container ids, images, Kubernetes namespaces and pod labels', async () => {
  const rule = (name: string, scope: unknown) => ({ rule: name, description: 'd', condition: 'event.name == "process.exec"', output: name, priority: 'notice', scope });
  const p = processor([
    rule('in containers', { container: true }),
    rule('on the host', { container: false }),
    rule('by id', { container_ids: ['0123456789ab'] }),
    rule('by image', { images: ['docker.io/library/nginx:*'] }),
    rule('by namespace and label', { k8s_namespaces: ['shop'], pod_labels: { app: 'web' } }),
  ]);
  const fired = async (attrs: Record<string, AttrValue>): Promise<string[]> => alertsOf(await run(p, [rec('process.exec', 't', attrs)])).map((a) => String(a['kite.rule.name']));
  assert.deepEqual(await fired({}), ['on the host']);
  assert.deepEqual(await fired({ 'container.id': '0123456789abcdef' }), ['in containers', 'by id']);
  assert.deepEqual(await fired({ 'container.id': 'ffff', 'container.image.name': 'docker.io/library/nginx:1.27' }), ['in containers', 'by image']);
  assert.deepEqual(await fired({ 'container.id': 'ffff', 'k8s.namespace.name': 'shop', 'k8s.pod.label.app': 'web' }), ['in containers', 'by namespace and label']);
  assert.deepEqual(await fired({ 'container.id': 'ffff', 'k8s.namespace.name': 'shop', 'k8s.pod.label.app': 'db' }), ['in containers']);
});

const SEQUENCE = [
  { macro: 'connect', condition: 'event.name == "network.connect"' },
  { macro: 'shell', condition: 'event.name == "process.exec" && process.executable.name == "sh"' },
  { rule: 'Shell after connect', description: 'd', sequence: { by: 'process', within: '10ms', steps: ['connect', { condition: 'shell' }] }, output: 'shell %process.pid', priority: 'critical' },
];

const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();

test('sequence on a virtual clock: in order within the window alerts once; too late, wrong order or another process does not', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable }) => {
    const p = processor(SEQUENCE, { scheduler: ts });
    const c = rec('network.connect', at(0), { 'kite.process.exec_id': 'A', 'process.pid': 1 });
    // the shell exec of the same process: a new exec id, the previous one links it
    const e = rec('process.exec', at(5), { 'kite.process.exec_id': 'B', 'kite.process.previous_exec_id': 'A', 'process.executable.name': 'sh', 'process.pid': 1 });
    const late = rec('process.exec', at(50), { 'kite.process.exec_id': 'B2', 'kite.process.previous_exec_id': 'A', 'process.executable.name': 'sh', 'process.pid': 1 });
    const other = rec('process.exec', at(5), { 'kite.process.exec_id': 'C', 'kite.process.previous_exec_id': 'Z', 'process.executable.name': 'sh', 'process.pid': 2 });
    const child = rec('process.exec', at(6), { 'kite.process.exec_id': 'D', 'kite.process.parent.exec_id': 'A', 'process.executable.name': 'sh', 'process.pid': 3 });
    const alert = p.alertRecord(p.rules[0]!, e, [c, e]);
    const src = cold<KiteRecord>('c 4ms e 9ms o d|', { c, e, o: other, d: child });
    expectObservable(src.pipe(p.operator())).toBe('c 4ms (ea) 6ms o d|', { c, e, o: other, d: child, a: { ...alert, 'kite.event_id': 'test-2' } });
    // the shell 50 ms after the connect: the state expired on the scheduler's clock (and the times are too far apart)
    const src2 = cold<KiteRecord>('c 49ms l|', { c, l: late });
    expectObservable(src2.pipe(p.operator())).toBe('c 49ms l|', { c, l: late });
  });
});

test('sequence: records arriving out of order still match by their own times; wrong order by time does not', async () => {
  const p = processor(SEQUENCE);
  const c = rec('network.connect', at(0), { 'kite.process.exec_id': 'A' });
  const e = rec('process.exec', at(3), { 'kite.process.exec_id': 'B', 'kite.process.previous_exec_id': 'A', 'process.executable.name': 'sh' });
  const out = await run(p, [e, c]);
  assert.equal(alertsOf(out).length, 1);
  assert.equal(alertsOf(out)[0]!['kite.trigger.event_id'], e['kite.event_id'], 'the alert is about the last step, whatever arrived last');
  assert.deepEqual(alertsOf(out)[0]!['kite.rule.sequence.event_ids'], [c['kite.event_id'], e['kite.event_id']]);
  const cLater = rec('network.connect', at(8), { 'kite.process.exec_id': 'A2' });
  const eBefore = rec('process.exec', at(3), { 'kite.process.exec_id': 'B2', 'kite.process.previous_exec_id': 'A2', 'process.executable.name': 'sh' });
  assert.equal(alertsOf(await run(p, [cLater, eBefore])).length, 0, 'the connect came after the shell');
});

test('sequence by process_tree links a child to its parent\'s chain; by process does not', async () => {
  const tree = SEQUENCE.map((x) => ('sequence' in x ? { ...x, sequence: { ...x.sequence, by: 'process_tree' } } : x));
  const c = rec('network.connect', at(0), { 'kite.process.exec_id': 'A' });
  const child = rec('process.exec', at(2), { 'kite.process.exec_id': 'D', 'kite.process.parent.exec_id': 'A', 'process.executable.name': 'sh' });
  assert.equal(alertsOf(await run(processor(tree), [c, child])).length, 1);
  assert.equal(alertsOf(await run(processor(SEQUENCE), [c, child])).length, 0);
});

test('sequence state is bounded: the oldest chain is forgotten and counted', async () => {
  const host = testHost();
  const p = processor(SEQUENCE, { maxSequences: 2, host });
  const connects = ['A', 'B', 'C'].map((x, i) => rec('network.connect', at(i), { 'kite.process.exec_id': x }));
  const shell = (prev: string) => rec('process.exec', at(5), { 'kite.process.exec_id': `${prev}-sh`, 'kite.process.previous_exec_id': prev, 'process.executable.name': 'sh' });
  const subject = new Subject<KiteRecord>();
  const out: KiteRecord[] = [];
  subject.pipe(p.operator()).subscribe((r) => out.push(r));
  for (const c of connects) subject.next(c);
  subject.next(shell('C'));
  subject.next(shell('A')); // A was forgotten when C came
  subject.complete();
  assert.deepEqual(alertsOf(out).map((a) => a['kite.process.previous_exec_id']), ['C']);
  const s = host.stats.snapshot()['processor/rules']!;
  assert.ok(s.sequences_evicted! >= 1, JSON.stringify(s));
  assert.ok(s.sequences_started! >= 3);
});

test('unsubscribe: the source is unsubscribed and the state dropped; a new subscription starts empty', () => {
  const ts = testScheduler();
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const p = processor(SEQUENCE, { scheduler: ts });
    const c = rec('network.connect', at(0), { 'kite.process.exec_id': 'A' });
    const e = rec('process.exec', at(5), { 'kite.process.exec_id': 'B', 'kite.process.previous_exec_id': 'A', 'process.executable.name': 'sh' });
    const src = cold<KiteRecord>('c 9ms e|', { c, e });
    expectObservable(src.pipe(p.operator()), '^ 3ms !').toBe('c', { c });
    expectSubscriptions(src.subscriptions).toBe('^ 3ms !');
    // a later subscription never saw the connect: no alert for the shell alone
    const only = cold<KiteRecord>('e|', { e });
    expectObservable(only.pipe(p.operator())).toBe('e|', { e });
  });
});

test('alerts are never evaluated by rules; errors and completion pass through', async () => {
  const p = processor([{ rule: 'Any', description: 'd', condition: 'true', output: 'o', priority: 'debug' }]);
  const out = await run(p, [rec('x', 't')]);
  assert.equal(out.length, 2);
  const again = await run(p, [out[1]!]);
  assert.equal(again.length, 1, 'an alert fed back does not alert');
  await assert.rejects(lastValueFrom(new Observable<KiteRecord>((s) => s.error(new Error('boom'))).pipe(p.operator())), /boom/);
});

test('output templates: missing values, lists, %(name) and %%', () => {
  const t = compileTemplate('%a.b is %(c.d)x, list %l, none %missing, 100%% done.');
  assert.equal(t({ 'a.b': 1, 'c.d': 'y', l: ['p', 'q'] }), '1 is yx, list p,q, none <NA>, 100% done.');
});

test('entropy: uniform, repeated, words and random labels', () => {
  assert.equal(entropy(''), 0);
  assert.equal(entropy('aaaa'), 0);
  assert.equal(entropy('0123456789abcdef'), 4);
  assert.ok(entropy('averyordinarysubdomainname') < 3.7);
  assert.ok(entropy('6yvj5mmekqfgd24zt6xcqo55ybersheb') > 3.7);
});

test('rules with action kill or deny are refused without an enforcement module, and accepted when one can honour them', () => {
  const cfg = (action: string) => `
receivers: { exec: {} }
processors:
  rules:
    default_rules: false
    rules:
      - { rule: Stop miners, description: d, condition: 'event.name == "process.exec" && process.executable.name == "xmrig"', output: o, priority: critical, action: ${action} }
exporters: { console: {} }
service: { pipelines: { p: { receivers: [exec], processors: [rules], exporters: [console] } } }
`;
  // the kernel enforcer (src/enforce/) is registered by default: it refuses what the kernel cannot decide
  assert.throws(() => resolveConfig(parseConfigText(cfg('kill')), createRegistry()), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0]!.path, 'processors.rules.rules[0].action');
    assert.match(e.problems[0]!.expected, /^rule "Stop miners": condition uses process.executable.name, which cannot be decided in the kernel at exec; supported: process.executable.path/);
    return true;
  });
  setEnforcer(null);
  assert.throws(() => resolveConfig(parseConfigText(cfg('kill')), createRegistry()), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0]!.path, 'processors.rules.rules[0].action');
    assert.match(e.problems[0]!.expected, /^rule "Stop miners": action kill is not available/);
    return true;
  });
  const seen: string[] = [];
  setEnforcer({ problem: (r) => { seen.push(`${r.name}:${r.action}:${r.condition}`); return r.action === 'deny' ? 'deny needs the BPF LSM, which this kernel does not run' : null; } });
  try {
    resolveConfig(parseConfigText(cfg('kill')), createRegistry());
    assert.deepEqual(seen[0], 'Stop miners:kill:event.name == "process.exec" && process.executable.name == "xmrig"', 'the module gets the parsed rule');
    assert.throws(() => resolveConfig(parseConfigText(cfg('deny')), createRegistry()), /deny needs the BPF LSM/);
  } finally {
    setEnforcer(kernelEnforcer);
  }
});

test('the default ruleset loads with `rules: {}`, alert actions only; a rule can be switched off', () => {
  const { rules, problems } = loadRules({ default_rules: true, files: [], rules: [{ rule: 'Reverse shell', enabled: false }], min_priority: 'debug', max_sequences: 10 });
  assert.deepEqual(problems, []);
  assert.ok(rules.length >= 11, rules.map((r) => r.name).join(', '));
  assert.ok(rules.every((r) => r.action === 'alert' && r.source === 'default'));
  assert.ok(!rules.some((r) => r.name === 'Reverse shell'));
  assert.ok(rules.every((r) => r.tags.some((t) => /^T\d{4}/.test(t))), 'every default rule names a MITRE ATT&CK technique');
});

/** The default ruleset on hand-written records: each rule fires on its case and not on a look-alike. */
test('the default ruleset: each rule\'s positive and negative case', async () => {
  const { rules } = loadRules({ default_rules: true, files: [], rules: [], min_priority: 'debug', max_sequences: 100 });
  const p = new RulesProcessor(id, testHost(), { rules, minPriority: 'debug', maxSequences: 100 });
  const fired = async (...records: KiteRecord[]): Promise<string[]> => alertsOf(await run(p, records)).map((a) => String(a['kite.rule.name']));
  const shell = (attrs: Record<string, AttrValue>) => rec('process.exec', at(10), { 'process.executable.name': 'sh', 'process.executable.path': '/bin/sh', 'process.user.id': 0, 'kite.process.stdin.type': 'pipe', 'kite.process.stdout.type': 'pipe', 'kite.process.exec_id': 'S', ...attrs });
  assert.deepEqual(await fired(shell({ 'container.id': 'c1' })), ['Shell in a container']);
  assert.deepEqual(await fired(shell({ 'container.id': 'c1', 'kite.process.stdin.type': 'tty' })), ['Terminal shell in a container']);
  assert.deepEqual(await fired(shell({})), []);
  const busybox = (argv0: string) => shell({ 'container.id': 'c1', 'process.executable.name': 'busybox', 'process.executable.path': '/bin/busybox', 'process.command_args': [argv0, '-c', 'x'] });
  assert.deepEqual(await fired(busybox('/bin/sh')), ['Shell in a container'], 'busybox as sh');
  assert.deepEqual(await fired(busybox('/bin/true')), [], 'busybox as true is not a shell');
  assert.deepEqual(await fired(shell({ 'kite.process.stdin.type': 'inet_socket' })), ['Reverse shell']);
  assert.deepEqual(await fired(shell({ 'kite.process.stdin.type': 'unix_socket' })), [], 'ssh sessions without a terminal use unix sockets');
  const connect = rec('network.connect', at(1), { 'kite.network.result': 'established', 'network.peer.port': 443, 'kite.process.exec_id': 'P' });
  assert.deepEqual(await fired(connect, shell({ 'kite.process.previous_exec_id': 'P' })), ['Shell after an outbound connection']);
  assert.deepEqual(await fired(connect, shell({ 'kite.process.parent.exec_id': 'P' })), [], 'a child shell is not the same process');
  const open = (path: string, attrs: Record<string, AttrValue>) => rec('file.open', 't', { 'file.path': path, 'file.name': path.split('/').pop()!, 'kite.file.intent': ['read'], 'process.user.id': 0, 'process.executable.path': '/usr/bin/cat', ...attrs });
  assert.deepEqual(await fired(open('/etc/shadow', {})), ['Read of sensitive credential file']);
  assert.deepEqual(await fired(open('/home/u/.ssh/id_ed25519', { 'process.user.id': 1000, 'process.executable.path': '/usr/bin/curl' })), ['Read of sensitive credential file']);
  assert.deepEqual(await fired(open('/home/u/.ssh/id_ed25519', { 'process.user.id': 1000, 'process.executable.path': '/usr/bin/ssh' })), [], 'the user\'s own ssh client');
  assert.deepEqual(await fired(open('/etc/shadow', { 'process.executable.path': '/usr/sbin/unix_chkpwd' })), []);
  assert.deepEqual(await fired(open('/home/u/.ssh/id_ed25519.pub', { 'process.user.id': 1000 })), []);
  assert.deepEqual(await fired(open('/etc/passwd', { 'process.user.id': 1000 })), []);
  const write = (path: string, attrs: Record<string, AttrValue> = {}) => rec('file.open', 't', { 'file.path': path, 'kite.file.intent': ['write', 'create'], 'process.executable.path': '/usr/bin/touch', ...attrs });
  assert.deepEqual(await fired(write('/bin/hack')), ['Write below a binary directory']);
  assert.deepEqual(await fired(rec('file.rename', 't', { 'file.path': '/tmp/x', 'kite.file.new_path': '/usr/local/bin/x', 'process.executable.path': '/usr/bin/mv' })), ['Write below a binary directory']);
  assert.deepEqual(await fired(write('/usr/bin/hack', { 'process.executable.path': '/usr/bin/dpkg' })), []);
  assert.deepEqual(await fired(write('/usr/bin/hack', { 'kite.process.ancestors.executable.path': ['/usr/bin/dpkg', '/usr/bin/apt'] })), []);
  assert.deepEqual(await fired(write('/home/u/bin/tool')), []);
  const priv = (attrs: Record<string, AttrValue>) => rec('process.privilege_change', 't', { 'kite.result': 0, 'kite.process.before.user.id': 1000, 'process.user.id': 0, 'kite.process.before.group.id': 1000, 'process.group.id': 1000, ...attrs });
  assert.deepEqual(await fired(priv({ 'process.executable.path': '/tmp/rootme' })), ['Privilege escalation to root']);
  assert.deepEqual(await fired(priv({ 'process.executable.path': '/usr/bin/sudo' })), []);
  assert.deepEqual(await fired(priv({ 'process.user.id': 1001 })), []);
  assert.deepEqual(await fired(priv({ 'process.user.id': 1000, 'kite.process.capabilities.added': ['CAP_NET_RAW'], 'process.executable.path': '/opt/x', 'kite.process.before.capabilities.permitted': '0x0000000000000000', 'kite.process.capabilities.permitted': '0x0000000000002000' })), ['New capabilities']);
  assert.deepEqual(await fired(priv({ 'process.user.id': 1000, 'kite.process.capabilities.added': ['CAP_NET_RAW'], 'process.executable.path': '/opt/x', 'kite.process.before.capabilities.permitted': '0x0000000000002000', 'kite.process.capabilities.permitted': '0x0000000000002000' })), [], 'capset raising a permitted capability again');
  assert.deepEqual(await fired(rec('process.ptrace', 't', { 'kite.ptrace.request': 'attach', 'process.pid': 5, 'kite.target.process.pid': 6 })), ['Ptrace attach to another process']);
  assert.deepEqual(await fired(rec('process.ptrace', 't', { 'kite.ptrace.request': 'attach', 'process.pid': 5, 'kite.target.process.pid': 5 })), []);
  for (const path of ['/tmp/x', '/dev/shm/x', '/memfd:payload (deleted)', '/var/tmp/x']) {
    assert.deepEqual(await fired(rec('process.exec', 't', { 'process.executable.path': path, 'process.executable.name': 'x' })), ['Execution from a temporary directory or memory'], path);
  }
  assert.deepEqual(await fired(rec('process.exec', 't', { 'process.executable.path': '/usr/bin/tmpreaper', 'process.executable.name': 'tmpreaper' })), []);
  const dns = (name: string) => rec('dns.query', 't', { 'dns.question.name': name });
  assert.deepEqual(await fired(dns(`${'a1b2c3d4e5'.repeat(5)}.t.example.com`)), ['DNS query with a long or high-entropy label']);
  assert.deepEqual(await fired(dns('6yvj5mmekqfgd24zt6xcqo55ybersheb.t.example.com')), ['DNS query with a long or high-entropy label']);
  assert.deepEqual(await fired(dns('averyordinarysubdomainname.example.com')), []);
  assert.deepEqual(await fired(dns('www.example.com')), []);
  const miner = (port: number) => rec('network.connect', 't', { 'network.peer.port': port, 'kite.network.result': 'refused' });
  assert.deepEqual(await fired(miner(3333)), ['Connection to a mining pool port']);
  assert.deepEqual(await fired(miner(443)), []);
});
