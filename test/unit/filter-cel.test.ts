/**
 * Filter expressions: errors with their position, the compiled evaluator agreeing with cel-js's
 * interpreter on every case, glob, and the pushdown analysis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { compileExpression, ExpressionError, globToRegExp } from '../../src/processors/filter/cel';
import { planPushdown, simplePredicate } from '../../src/processors/filter/pushdown';
import { rec } from '../helpers/processors';

function errorOf(src: string): ExpressionError {
  try {
    compileExpression(src);
  } catch (e) {
    assert.ok(e instanceof ExpressionError, String(e));
    return e;
  }
  assert.fail(`${src} compiled`);
}

test('a bad expression is an error with its column', () => {
  assert.equal(errorOf('process.pid ==').message, 'unexpected token: EOF at column 15');
  assert.equal(errorOf('process.pid == 1 &&& 2').message, 'unexpected character: & at column 20');
  assert.match(errorOf('nosuchfn(process.pid)').message, /no matching overload for 'nosuchfn\(dyn\)' at column 1/);
  assert.match(errorOf('process.executable.path.matches("(")').message, /invalid regular expression: .*at column 33$/);
  assert.equal(errorOf('process.pid + 1').message, 'a condition must be a bool, this is int at column 1');
  assert.equal(errorOf('"text"').position, 0);
});

const records: KiteRecord[] = [
  rec('process.exec', 't', { 'process.pid': 1234, 'process.executable.path': '/usr/bin/bash', 'process.executable.name': 'bash', 'process.command_args': ['bash', '-c', 'id'], 'process.user.id': 0, 'kite.process.comm': 'bash', 'container.id': 'abc' }),
  rec('process.exec', 't', { 'process.pid': 7, 'process.executable.path': '/opt/app/bin/server', 'process.executable.name': 'server', 'process.command_args': ['server'], 'process.user.id': 1000, 'kite.process.comm': 'server' }),
  rec('process.exit', 't', { 'process.pid': 8, 'process.exit.code': 2, 'kite.process.args_truncated': true }),
  rec('net.connect', 't', { 'process.pid': '9', 'destination.port': 443 }),
];

const expressions = [
  'process.pid == 1234',
  '1234 == process.pid',
  'process.pid != 7',
  'process.pid > 100 && process.user.id == 0',
  'process.pid >= 7 || process.exit.code == 2',
  'process.executable.name in ["bash", "sh"]',
  '!(process.executable.name in ["bash"])',
  '"-c" in process.command_args',
  'process.executable.path.startsWith("/usr/")',
  'process.executable.path.endsWith("/server")',
  'process.executable.path.contains("app")',
  'process.executable.path.matches("^/opt/.*/server$")',
  'process.executable.path.glob("/usr/*/bash")',
  'process.executable.path.glob("/opt/**")',
  'has(container.id)',
  '!has(container.id) && process.user.id == 1000',
  'kite.process.args_truncated',
  'kite.process.args_truncated == true',
  'attributes["process.pid"] == 8',
  'event.name == "process.exit" || process.exit.code == 2',
  'process.exit.code == 2 || event.name == "process.exit"',
  'process.pid < "x"',
  'process.pid == "9"',
  'destination.port in [80, 443]',
  'process.executable.name == "bash" && process.pid > 5',
  'nosuch.attribute == 1 || process.pid == 7',
  'nosuch.attribute == 1 && process.pid == 8',
  'process.pid == 1.0',
  // evaluated by the interpreter
  'process.command_args.exists(a, a == "id")',
  'size(process.command_args) > 1',
  'process.pid + 1 == 1235',
  '(process.pid > 1000 ? "big" : "small") == "big"',
];

test('the compiled evaluator agrees with cel-js on every expression and record', () => {
  const modes: Record<string, number> = { compiled: 0, interpreted: 0 };
  for (const src of expressions) {
    const c = compileExpression(src);
    modes[c.mode]!++;
    for (const r of records) assert.equal(c.test(r), c.interpret(r), `${src} on ${JSON.stringify(r)}`);
  }
  assert.equal(modes.interpreted, 4, 'only the last four need the interpreter');
  const c = compileExpression('process.executable.name in ["bash", "sh"]');
  assert.deepEqual(records.map((r) => c.test(r)), [true, false, undefined, undefined], 'a missing attribute is an error (undefined)');
});

test('glob: * stays within a path component, ** crosses them, ? is one character', () => {
  assert.ok(globToRegExp('/usr/*/bash').test('/usr/bin/bash'));
  assert.ok(!globToRegExp('/usr/*/bash').test('/usr/local/bin/bash'));
  assert.ok(globToRegExp('/usr/**/bash').test('/usr/local/bin/bash'));
  assert.ok(globToRegExp('/tmp/?.sh').test('/tmp/a.sh'));
  assert.ok(!globToRegExp('/tmp/?.sh').test('/tmp/ab.sh'));
  assert.ok(globToRegExp('a.b+(c)').test('a.b+(c)'), 'other characters are literal');
});

test('pushdown: simple conjuncts of include and disjuncts of exclude become kernel predicates', () => {
  const inc = compileExpression('process.pid in [1, 2] && kite.process.comm == "nginx" && process.executable.path.startsWith("/usr/sbin/") && size(process.command_args) > 2');
  const exc = compileExpression('process.real_user.id == 0 || kite.cgroup.id != 77 || destination.port == 22 || event.name == "x"');
  const plan = planPushdown(inc.ast, exc.ast);
  assert.deepEqual(plan.require, [
    { field: 'pid', attribute: 'process.pid', values: [1, 2], negated: false },
    { field: 'comm', attribute: 'kite.process.comm', values: ['nginx'], negated: false },
    { field: 'path_prefix', attribute: 'process.executable.path', values: ['/usr/sbin/'], negated: false },
  ]);
  assert.deepEqual(plan.drop, [
    { field: 'uid', attribute: 'process.real_user.id', values: [0], negated: false },
    { field: 'cgroup', attribute: 'kite.cgroup.id', values: [77], negated: true },
    { field: 'port', attribute: 'destination.port', values: [22], negated: false },
  ]);
  assert.equal(plan.complete, false, 'size() and event.name stay in user space');
  const full = planPushdown(compileExpression('process.pid == 5 || process.pid == 6').ast, undefined);
  assert.deepEqual(full, { require: [{ field: 'pid', attribute: 'process.pid', values: [5, 6], negated: false }], drop: [], complete: true });
});

test('pushdown: what is not a simple predicate is left alone', () => {
  for (const src of [
    'process.pid > 5', // a range: no kernel map for it yet
    'process.pid == 5 || process.real_user.id == 0', // two fields in one disjunction
    'process.executable.path == "/bin/sh"', // equality on a path: only prefixes are pushed
    'kite.process.comm.matches("ngin.")',
    'process.pid == process.parent_pid',
  ]) {
    assert.equal(simplePredicate(compileExpression(src).ast), null, src);
  }
  const neg = simplePredicate(compileExpression('!(process.pid == 1 || process.pid == 2)').ast);
  assert.deepEqual(neg, { field: 'pid', attribute: 'process.pid', values: [1, 2], negated: true });
});

test('partial compilation and entropy(): closures around interpreted operands agree with cel-js', () => {
  const exprs = [
    'event.name == "dns.query" && dns.question.name.split(".").exists(l, size(l) >= 8 && entropy(l) >= 2.5)',
    '!(a.k in ["a", "b"]) || [1, 2].exists(x, x == a.n)',
    'entropy(a.s) > 2.0 && a.s.startsWith("x")',
    'has(a.s) && (size(a.s) > 3 || a.n + 1 == 3)',
  ];
  const records = [
    rec('dns.query', 't', { 'dns.question.name': 'a1b2c3d4e5.example.com', 'a.k': 'c', 'a.n': 2, 'a.s': 'xyzw' }),
    rec('dns.query', 't', { 'dns.question.name': 'www.example.com', 'a.k': 'a', 'a.n': 1, 'a.s': 'xxxx' }),
    rec('other', 't', { 'a.k': 'b', 'a.s': 'x' }),
    rec('other', 't', {}),
  ];
  for (const e of exprs) {
    const c = compileExpression(e, { partial: true });
    assert.notEqual(c.mode, 'interpreted', e);
    for (const r of records) assert.equal(c.test(r), c.interpret(r), `${e} on ${JSON.stringify(r)}`);
  }
  assert.equal(compileExpression('entropy(a.s) > 1.5').mode, 'compiled', 'entropy of an attribute is compiled');
  assert.equal(compileExpression(exprs[0]!).mode, 'interpreted', 'without partial, the whole expression goes to the interpreter');
});
