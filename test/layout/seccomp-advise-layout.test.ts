/**
 * bpf/seccomp_advise.h and bpf/seccomp_advise.bpf.c are the source of truth: the control struct,
 * the .rodata knobs, the enums and the slot arithmetic of src/commands/seccomp/wire.ts must match
 * the compiled object's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { ADVISE_CTL, ADVISE_LIMITS, ADVISE_RODATA, AdviseAbi, AdviseMode, AdviseState, callSlot } from '../../src/commands/seccomp/wire';

const btf = new Btf(join(BPF_DIR, 'seccomp_advise.bpf.o'));

test('struct seccomp_advise_ctl: every field where user space reads and writes it', () => {
  assert.deepEqual(btf.struct('seccomp_advise_ctl'), ADVISE_CTL);
});

test('.rodata knobs are where the recorder writes them', () => {
  assert.deepEqual(btf.datasec('.rodata'), ADVISE_RODATA);
});

test('enums: modes, states, ABIs and limits', () => {
  assert.deepEqual(btf.enumValues('seccomp_advise_mode'), { SECCOMP_ADVISE_PIDS: AdviseMode.PIDS, SECCOMP_ADVISE_CGROUP: AdviseMode.CGROUP });
  assert.deepEqual(btf.enumValues('seccomp_advise_state'), { SECCOMP_ADVISE_GATED: AdviseState.GATED, SECCOMP_ADVISE_TRACKED: AdviseState.TRACKED });
  assert.deepEqual(btf.enumValues('seccomp_advise_abi'), {
    SECCOMP_ADVISE_ABI_NATIVE: AdviseAbi.NATIVE,
    SECCOMP_ADVISE_ABI_COMPAT: AdviseAbi.COMPAT,
    SECCOMP_ADVISE_ABI_X32: AdviseAbi.X32,
    SECCOMP_ADVISE_ABIS: ADVISE_LIMITS.abis,
  });
  assert.deepEqual(btf.enumValues('seccomp_advise_limits'), {
    SECCOMP_ADVISE_NR_MAX: ADVISE_LIMITS.nrMax,
    SECCOMP_ADVISE_SLOTS: ADVISE_LIMITS.slots,
    SECCOMP_ADVISE_PIDS_MAX: ADVISE_LIMITS.pidsMax,
  });
});

test('slots: one per number and ABI, then one overflow slot per ABI, all inside the map', () => {
  assert.equal(callSlot(AdviseAbi.NATIVE, 0), 0);
  assert.equal(callSlot(AdviseAbi.COMPAT, 20), ADVISE_LIMITS.nrMax + 20);
  assert.equal(callSlot(AdviseAbi.X32, ADVISE_LIMITS.nrMax - 1), 3 * ADVISE_LIMITS.nrMax - 1);
  assert.equal(callSlot(AdviseAbi.NATIVE, -1), 3 * ADVISE_LIMITS.nrMax);
  assert.equal(callSlot(AdviseAbi.X32, ADVISE_LIMITS.nrMax), ADVISE_LIMITS.slots - 1);
});
