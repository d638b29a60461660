/**
 * The wire of bpf/seccomp_advise.h and the .rodata knobs of bpf/seccomp_advise.bpf.c, as user space
 * reads and writes them. test/layout/seccomp-advise-layout.test.ts checks every number here against
 * the object's BTF.
 */

export const AdviseMode = { PIDS: 1, CGROUP: 2 } as const;
export const AdviseState = { GATED: 1, TRACKED: 2 } as const;
export const AdviseAbi = { NATIVE: 0, COMPAT: 1, X32: 2 } as const;
export const ADVISE_LIMITS = { abis: 3, nrMax: 1024, slots: 3 * 1024 + 3, pidsMax: 16384 } as const;

/** struct seccomp_advise_ctl (advise_ctl[0]). */
export const ADVISE_CTL = {
  size: 24,
  fields: {
    gate_armed: { offset: 0, size: 8 },
    pids_full: { offset: 8, size: 8 },
    gated_pid: { offset: 16, size: 4 },
    pad: { offset: 20, size: 4 },
  },
} as const;

export const ADVISE_RODATA = {
  mode: { offset: 0, size: 4 },
  gate_tgid: { offset: 4, size: 4 },
  execve_nr: { offset: 8, size: 4 },
  execveat_nr: { offset: 12, size: 4 },
  after_seccomp: { offset: 16, size: 4 },
  self_tgid: { offset: 20, size: 4 },
} as const;

/** The slot of `nr` called through ABI `abi` in advise_calls; numbers out of range share the ABI's overflow slot. */
export function callSlot(abi: number, nr: number): number {
  return nr >= 0 && nr < ADVISE_LIMITS.nrMax ? abi * ADVISE_LIMITS.nrMax + nr : ADVISE_LIMITS.abis * ADVISE_LIMITS.nrMax + abi;
}
