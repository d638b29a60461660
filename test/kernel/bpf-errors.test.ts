/**
 * Failures explain themselves: a verifier rejection carries the verifier log; EPERM as a user without
 * capabilities names the missing capabilities; EPERM with every capability held (this machine's
 * kernel refuses fentry even to root) says the kernel refuses the program type.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfError } from '../../src/component/errors';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { BPF_DIR, KITE, ROOT } from '../helpers/paths';
import { bpfIdsOf, stillLoaded, ms } from '../helpers/kernel';

setLibbpfLogger(() => {});

function loadError(path: string): BpfError | null {
  const obj = BpfObject.open(path);
  try {
    obj.load();
    return null;
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    return e;
  } finally {
    obj.close();
  }
}

test('a verifier rejection carries the operation, errno and the verifier log', () => {
  const e = loadError(join(BPF_DIR, 'test', 'bad_verifier.bpf.o'));
  assert.ok(e, 'the verifier must reject this program');
  assert.equal(e.code, 'bpf_verifier');
  assert.equal(e.errnoName, 'EACCES');
  assert.match(e.message, /^load bpf object .*bad_verifier\.bpf\.o: EACCES: Permission denied \(-13\)/);
  assert.match(e.verifierLog, /-- BEGIN PROG LOAD LOG --/);
  assert.match(e.verifierLog, /invalid mem access 'map_value_or_null'/);
  assert.ok(e.message.includes("invalid mem access 'map_value_or_null'"), 'the log is in the message');
  assert.deepEqual(stillLoaded(bpfIdsOf(process.pid)), { progs: [], maps: [], links: [] }, 'nothing left after the failure');
});

test('fentry: loads where the kernel allows it; otherwise EPERM says the kernel refuses the program type', () => {
  const e = loadError(join(BPF_DIR, 'test', 'fentry_probe.bpf.o'));
  if (e === null) return; // this kernel runs fentry programs: nothing to explain
  assert.equal(e.errnoName, 'EPERM', e.message);
  assert.match(e.message, /every needed capability is held, so the kernel itself refuses program .handle_fentry_unlinkat. \(tracing\)/);
  assert.doesNotMatch(e.message.split('\n')[0]!, /memlock/i);
});

test('kite run without capabilities: EPERM names the missing capabilities, not memlock', () => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    process.execPath, KITE, 'run', '--config', join(ROOT, 'config', 'default.yaml')], { encoding: 'utf8', timeout: ms(20000) });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '', 'no records');
  assert.match(r.stderr, /kite: start failed: load bpf object .*exec\.bpf\.o: EPERM: Operation not permitted \(-1\): the agent lacks CAP_BPF, CAP_PERFMON/);
  assert.match(r.stderr, /RLIMIT_MEMLOCK is not the cause/);
});
