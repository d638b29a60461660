/** The exec decoder on records captured from the real program (test/testdata/exec/README.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { testHost } from '../helpers/host';
import { decodeExec, ExecFlags, ExecWire, EXEC_EVENT, joinPath, KiteOp } from '../../src/receivers/exec/wire';
import { ExecReceiver } from '../../src/receivers/exec/receiver';
import { parseComponentId } from '../../src/component/component';
import { execFactory } from '../../src/receivers/exec/factory';
import { toExecConfig } from '../../src/receivers/exec/config';
import { settings } from '../helpers/settings';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'exec', name), 'utf8').trim(), 'hex');

function decode(buf: Buffer): ExecWire {
  const w = decodeExec(buf, 0, buf.length);
  assert.equal(typeof w, 'object', `decoded, not ${String(w)}`);
  return w as ExecWire;
}

test('exec record: pid, parent, path from leaf-first components, argv cut at max_arg_bytes', () => {
  const w = decode(fixture('exec-truncated-args.hex'));
  assert.equal(w.op, KiteOp.PROCESS_EXEC);
  assert.equal(w.pid, 20104);
  assert.equal(w.tgid, 20104);
  assert.equal(w.ppid, 20103);
  assert.equal(w.uid, 0);
  assert.equal(w.comm, 'echo');
  assert.equal(w.path, '/usr/bin/echo');
  assert.deepEqual(w.args, ['/bin/echo', 'fixture-arg', 'two words', '01234567890123456789012345678901'], '64 bytes: the last argument is cut');
  assert.equal(w.flags & ExecFlags.ARGS_TRUNCATED, ExecFlags.ARGS_TRUNCATED);
  assert.equal(w.cgroupId, 1);
});

test('fork record: the child and its parent, no tail', () => {
  const w = decode(fixture('fork.hex'));
  assert.equal(w.op, KiteOp.PROCESS_FORK);
  assert.equal(w.tgid, 20104);
  assert.equal(w.ppid, 20103);
  assert.equal(w.comm, 'sh', 'comm stops at the NUL even with bytes after it');
  assert.equal(w.path, '');
  assert.deepEqual(w.args, []);
});

test('exit record: the wait status of exit(3)', () => {
  const w = decode(fixture('exit-code-3.hex'));
  assert.equal(w.op, KiteOp.PROCESS_EXIT);
  assert.equal(w.tgid, 20103);
  assert.equal(w.exitCode, 3 << 8);
});

test('malformed records are reported, never thrown', () => {
  const good = fixture('exec-truncated-args.hex');
  assert.equal(decodeExec(good, 0, 10), 'short_record');
  const badOp = Buffer.from(good);
  badOp.writeUInt16LE(77, 0);
  assert.equal(decodeExec(badOp, 0, badOp.length), 'unknown_op');
  const badSize = Buffer.from(good);
  badSize.writeUInt16LE(good.length + 100, 2);
  assert.equal(decodeExec(badSize, 0, badSize.length), 'bad_size');
  const badTail = Buffer.from(good);
  badTail.writeUInt16LE(4000, EXEC_EVENT.fields.args_size.offset);
  assert.equal(decodeExec(badTail, 0, badTail.length), 'bad_tail');
  for (let len = 0; len < good.length; len += 7) {
    assert.doesNotThrow(() => decodeExec(good.subarray(0, len), 0, len));
  }
});

test('joinPath builds an absolute path from leaf-first components', () => {
  assert.equal(joinPath(['echo', 'bin', 'usr']), '/usr/bin/echo');
  assert.equal(joinPath([]), '');
});

test('records: semantic-convention keys; fork and exit inherit what exec reported', () => {
  const host = testHost();
  const rx = new ExecReceiver(parseComponentId('exec')!, host, toExecConfig(settings(execFactory, { max_args: 2, max_arg_bytes: 64 })));
  const forkRec = rx.toRecord(decode(fixture('fork.hex')));
  assert.equal(forkRec['event.name'], 'process.fork');
  assert.equal(forkRec['process.pid'], 20104);
  assert.equal(forkRec['process.parent_pid'], 20103);
  const execRec = rx.toRecord(decode(fixture('exec-truncated-args.hex')));
  assert.equal(execRec['event.name'], 'process.exec');
  assert.match(execRec.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(execRec['kite.event_id'], 'test-2');
  assert.equal(execRec['host.name'], 'test-host');
  assert.equal(execRec['process.executable.path'], '/usr/bin/echo');
  assert.equal(execRec['process.executable.name'], 'echo');
  assert.deepEqual(execRec['process.command_args'], ['/bin/echo', 'fixture-arg'], 'cut at max_args');
  assert.equal(execRec['process.command_line'], '/bin/echo fixture-arg');
  assert.equal(execRec['kite.process.args_truncated'], true);
  assert.equal(execRec['process.user.id'], 0);
  assert.equal(execRec['process.user.name'], 'root');
  assert.equal(typeof execRec['kite.process.exec_id'], 'string');
  assert.notEqual(execRec['kite.process.exec_id'], forkRec['kite.process.exec_id'], 'a new program, a new exec id');
  const exitBuf = fixture('exit-code-3.hex');
  exitBuf.writeUInt32LE(20104, EXEC_EVENT.fields.tgid.offset);
  const exitRec = rx.toRecord(decode(exitBuf));
  assert.equal(exitRec['event.name'], 'process.exit');
  assert.equal(exitRec['process.exit.code'], 3);
  assert.equal(exitRec['process.executable.path'], '/usr/bin/echo', 'known from the exec');
  assert.equal(exitRec['kite.process.exec_id'], execRec['kite.process.exec_id']);
  assert.equal(rx.table.get(20104), undefined, 'forgotten after exit');
  assert.doesNotThrow(() => JSON.stringify(exitRec));
});

test('exit by a signal reports the signal, not an exit code', () => {
  const rx = new ExecReceiver(parseComponentId('exec')!, testHost(), toExecConfig(settings(execFactory, { max_args: 8, max_arg_bytes: 64 })));
  const buf = fixture('exit-code-3.hex');
  buf.writeInt32LE(9, EXEC_EVENT.fields.exit_code.offset);
  const rec = rx.toRecord(decode(buf));
  assert.equal(rec['kite.process.exit.signal'], 9);
  assert.equal(rec['process.exit.code'], undefined);
});
