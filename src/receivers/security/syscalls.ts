/**
 * Which syscalls the security receiver watches, per event family, and their numbers per architecture.
 * The receiver writes the table of the families its config asks for into the program's .rodata
 * (syscall_kind[nr], bpf/security.bpf.c) before load; every other syscall costs one array read.
 */
import { SecurityKind, SecurityKindName } from './wire';

/** Event families, as written in the config's `events` list. */
export const FAMILIES = ['privilege', 'ptrace', 'module', 'bpf', 'namespace', 'mount', 'listen'] as const;
export type Family = (typeof FAMILIES)[number];

export const FAMILY_KINDS: Record<Family, SecurityKindName[]> = {
  privilege: ['SETUID', 'SETGID', 'SETREUID', 'SETREGID', 'SETRESUID', 'SETRESGID', 'SETFSUID', 'SETFSGID', 'SETGROUPS', 'CAPSET', 'EXECVE', 'EXECVEAT'],
  ptrace: ['PTRACE', 'VM_WRITEV'],
  module: ['INIT_MODULE', 'FINIT_MODULE'],
  bpf: ['BPF'],
  namespace: ['SETNS', 'UNSHARE', 'CLONE', 'CLONE3'],
  mount: ['MOUNT', 'UMOUNT', 'PIVOT_ROOT'],
  listen: ['BIND', 'LISTEN'],
};

/** The syscall behind each kind, by name (umount is umount2). */
export const SYSCALL_NAMES: Record<SecurityKindName, string> = {
  SETUID: 'setuid', SETGID: 'setgid', SETREUID: 'setreuid', SETREGID: 'setregid', SETRESUID: 'setresuid',
  SETRESGID: 'setresgid', SETFSUID: 'setfsuid', SETFSGID: 'setfsgid', SETGROUPS: 'setgroups', CAPSET: 'capset',
  EXECVE: 'execve', EXECVEAT: 'execveat', PTRACE: 'ptrace', VM_WRITEV: 'process_vm_writev',
  INIT_MODULE: 'init_module', FINIT_MODULE: 'finit_module', BPF: 'bpf', SETNS: 'setns', UNSHARE: 'unshare',
  CLONE: 'clone', CLONE3: 'clone3', MOUNT: 'mount', UMOUNT: 'umount2', PIVOT_ROOT: 'pivot_root', BIND: 'bind', LISTEN: 'listen',
};

/** Syscall numbers (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; arm64: the generic table). */
const NUMBERS: Record<string, Record<SecurityKindName, number>> = {
  x64: {
    SETUID: 105, SETGID: 106, SETREUID: 113, SETREGID: 114, SETRESUID: 117, SETRESGID: 119, SETFSUID: 122,
    SETFSGID: 123, SETGROUPS: 116, CAPSET: 126, EXECVE: 59, EXECVEAT: 322, PTRACE: 101, VM_WRITEV: 311,
    INIT_MODULE: 175, FINIT_MODULE: 313, BPF: 321, SETNS: 308, UNSHARE: 272, CLONE: 56, CLONE3: 435,
    MOUNT: 165, UMOUNT: 166, PIVOT_ROOT: 155, BIND: 49, LISTEN: 50,
  },
  arm64: {
    SETUID: 146, SETGID: 144, SETREUID: 145, SETREGID: 143, SETRESUID: 147, SETRESGID: 149, SETFSUID: 151,
    SETFSGID: 152, SETGROUPS: 159, CAPSET: 91, EXECVE: 221, EXECVEAT: 281, PTRACE: 117, VM_WRITEV: 271,
    INIT_MODULE: 105, FINIT_MODULE: 273, BPF: 280, SETNS: 268, UNSHARE: 97, CLONE: 220, CLONE3: 435,
    MOUNT: 40, UMOUNT: 39, PIVOT_ROOT: 41, BIND: 200, LISTEN: 201,
  },
};

export const SUPPORTED_ARCHS = Object.keys(NUMBERS);

/** syscall_kind[nr] for the chosen families: a byte per syscall number below `size`. */
export function kindTable(families: readonly Family[], arch: string = process.arch, size = 512): Buffer {
  const numbers = NUMBERS[arch];
  if (!numbers) throw new Error(`security receiver: no syscall table for architecture ${arch} (have ${SUPPORTED_ARCHS.join(', ')})`);
  const t = Buffer.alloc(size);
  for (const f of families) for (const k of FAMILY_KINDS[f]) t[numbers[k]] = SecurityKind[k];
  return t;
}
