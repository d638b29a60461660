/**
 * bpf/enforce.h is the source of truth for enforcement: the decoder's and the table encoders' offsets,
 * sizes, enum values and limits must match the compiled objects' BTF (both objects share the header).
 * No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { KiteStat } from '../../src/receivers/bpf-receiver';
import {
  ENFORCE_CFG, ENFORCE_CGROUP_RULES, ENFORCE_EVENT, ENFORCE_FIELD_MAX, ENFORCE_LIMITS, ENFORCE_PATH_KEY,
  EnforceAction, EnforceField, EnforceFlags, EnforceHook, EnforceOp, EnforceStat,
} from '../../src/enforce/wire';

const btf = new Btf(join(BPF_DIR, 'enforce.bpf.o'));

for (const [name, ts] of [['enforce_event', ENFORCE_EVENT], ['enforce_cfg', ENFORCE_CFG], ['enforce_path_key', ENFORCE_PATH_KEY], ['enforce_cgroup_rules', ENFORCE_CGROUP_RULES]] as const) {
  test(`struct ${name}: every field at the offset and size the TypeScript side uses`, () => {
    for (const obj of ['enforce', 'lsm_enforce']) {
      const b = obj === 'enforce' ? btf : new Btf(join(BPF_DIR, `${obj}.bpf.o`));
      if (obj === 'lsm_enforce' && name !== 'enforce_event' && name !== 'enforce_cfg') continue;
      const c = b.struct(name);
      assert.equal(c.size, ts.size, `sizeof(struct ${name}) in ${obj}`);
      assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(ts.fields).sort(), 'same field names');
      for (const [f, v] of Object.entries(ts.fields)) assert.deepEqual(c.fields[f], v, `field ${f}`);
    }
  });
}

test('enums match: op codes in the 60-79 range, fields, actions, hooks, flags, stats', () => {
  const ops = btf.enumValues('kite_op');
  assert.equal(ops.KITE_OP_ENFORCE_KILL_EXEC, EnforceOp.KILL_EXEC);
  assert.equal(ops.KITE_OP_ENFORCE_DENY_EXEC, EnforceOp.DENY_EXEC);
  assert.equal(ops.KITE_OP_ENFORCE_DENY_OPEN, EnforceOp.DENY_OPEN);
  for (const v of Object.values(EnforceOp)) assert.ok(v >= 60 && v <= 79, `op ${v} in the enforcement range`);
  assert.deepEqual(btf.enumValues('enforce_field'), {
    ENFORCE_FIELD_PATH: EnforceField.PATH, ENFORCE_FIELD_ARG: EnforceField.ARG, ENFORCE_FIELD_UID: EnforceField.UID,
    ENFORCE_FIELD_EUID: EnforceField.EUID, ENFORCE_FIELD_COMM: EnforceField.COMM, ENFORCE_FIELD_CGROUP: EnforceField.CGROUP,
    ENFORCE_FIELD_CONTAINER: EnforceField.CONTAINER, ENFORCE_FIELD_MAX: ENFORCE_FIELD_MAX,
  });
  assert.deepEqual(btf.enumValues('enforce_action'), { ENFORCE_ACTION_KILL: EnforceAction.KILL, ENFORCE_ACTION_DENY: EnforceAction.DENY });
  assert.deepEqual(btf.enumValues('enforce_hook'), { ENFORCE_HOOK_EXEC: EnforceHook.EXEC, ENFORCE_HOOK_BPRM_CHECK: EnforceHook.BPRM_CHECK, ENFORCE_HOOK_FILE_OPEN: EnforceHook.FILE_OPEN });
  assert.deepEqual(btf.enumValues('enforce_flags'), { ENFORCE_FLAG_PATH_TRUNCATED: EnforceFlags.PATH_TRUNCATED, ENFORCE_FLAG_ARGS_TRUNCATED: EnforceFlags.ARGS_TRUNCATED });
  const s = btf.enumValues('enforce_stat');
  assert.equal(s.ENFORCE_STAT_REPORTED, EnforceStat.REPORTED);
  assert.equal(s.ENFORCE_STAT_RING_FULL, EnforceStat.RING_FULL);
  assert.equal(s.ENFORCE_STAT_CHECKED, EnforceStat.CHECKED);
  assert.equal(s.ENFORCE_STAT_ENFORCED, EnforceStat.ENFORCED);
  assert.equal(EnforceStat.RING_FULL, KiteStat.RING_FULL, 'kite_output counts a full ring in this slot');
});

test('limits: path key, argument and comm keys, scratch buffers', () => {
  const scratch = btf.struct('enforce_scratch');
  assert.equal(scratch.fields.path!.size, 2 * ENFORCE_LIMITS.pathBuf);
  assert.equal(scratch.fields.args!.size, ENFORCE_LIMITS.argsBytes + ENFORCE_LIMITS.argMax);
  assert.equal(scratch.fields.arg!.size, ENFORCE_LIMITS.argMax);
  assert.equal(scratch.fields.comm!.size, ENFORCE_LIMITS.commLen);
  assert.equal(scratch.fields.out!.size, ENFORCE_EVENT.size + ENFORCE_LIMITS.pathBuf + ENFORCE_LIMITS.argsBytes);
  assert.equal(btf.struct('enforce_path_key').fields.path!.size, ENFORCE_LIMITS.pathMax);
  assert.equal(btf.struct('enforce_cfg').fields.constrained!.size, 8 * ENFORCE_FIELD_MAX);
  assert.equal(ENFORCE_LIMITS.maxRules, 64, 'rules are the bits of a u64');
});
