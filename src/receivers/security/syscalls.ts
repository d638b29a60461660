/**
 * Which syscalls the security receiver watches, per event family, and the hooks behind them: one
 * pair of per-syscall tracepoints (tracefs `syscalls/sys_enter_<name>`, `sys_exit_<name>`) each, with
 * programs `handle_enter_<name>` / `handle_exit_<name>` in bpf/security.bpf.c. Only the families the
 * config asks for are attached; a syscall this kernel has no tracepoint for is skipped.
 */
import { pathExists, tracefsEvents } from '../../bpf/tracefs';
import { SecurityKindName } from './wire';

/** Event families, as written in the config's `events` list. */
export const FAMILIES = ['privilege', 'ptrace', 'module', 'bpf', 'namespace', 'mount', 'listen'] as const;
export type Family = (typeof FAMILIES)[number];

export const FAMILY_KINDS: Record<Family, SecurityKindName[]> = {
  privilege: ['SETUID', 'SETGID', 'SETREUID', 'SETREGID', 'SETRESUID', 'SETRESGID', 'SETFSUID', 'SETFSGID', 'SETGROUPS', 'CAPSET', 'EXECVE', 'EXECVEAT'],
  ptrace: ['PTRACE', 'VM_WRITEV'],
  module: ['INIT_MODULE', 'FINIT_MODULE'],
  bpf: ['BPF'],
  namespace: ['SETNS', 'UNSHARE', 'CLONE', 'CLONE3'],
  mount: ['MOUNT', 'UMOUNT', 'PIVOT_ROOT', 'FSOPEN', 'FSCONFIG', 'FSMOUNT', 'MOVE_MOUNT', 'OPEN_TREE', 'MOUNT_SETATTR', 'FSPICK'],
  listen: ['BIND', 'LISTEN'],
};

/** The syscall behind each kind, by its user-space name (`kite.syscall`). */
export const SYSCALL_NAMES: Record<SecurityKindName, string> = {
  SETUID: 'setuid', SETGID: 'setgid', SETREUID: 'setreuid', SETREGID: 'setregid', SETRESUID: 'setresuid',
  SETRESGID: 'setresgid', SETFSUID: 'setfsuid', SETFSGID: 'setfsgid', SETGROUPS: 'setgroups', CAPSET: 'capset',
  EXECVE: 'execve', EXECVEAT: 'execveat', PTRACE: 'ptrace', VM_WRITEV: 'process_vm_writev',
  INIT_MODULE: 'init_module', FINIT_MODULE: 'finit_module', BPF: 'bpf', SETNS: 'setns', UNSHARE: 'unshare',
  CLONE: 'clone', CLONE3: 'clone3', MOUNT: 'mount', UMOUNT: 'umount2', PIVOT_ROOT: 'pivot_root', BIND: 'bind', LISTEN: 'listen',
  FSOPEN: 'fsopen', FSCONFIG: 'fsconfig', FSMOUNT: 'fsmount', MOVE_MOUNT: 'move_mount', OPEN_TREE: 'open_tree',
  MOUNT_SETATTR: 'mount_setattr', FSPICK: 'fspick',
};

/** The tracepoint name of each kind's syscall: its name in the kernel's SYSCALL_DEFINE (umount2 is `umount`). */
export function tracepointOf(kind: SecurityKindName): string {
  return kind === 'UMOUNT' ? 'umount' : SYSCALL_NAMES[kind];
}

/** Every tracepoint name bpf/security.bpf.c has a program pair for, in declaration order. */
export const ALL_TRACEPOINTS: string[] = Object.values(FAMILY_KINDS).flat().map(tracepointOf);

/** The BTF tracepoint that names a module the kernel loaded (module family). */
export const MODULE_LOAD_PROGRAM = 'handle_module_load';

export { tracefsEvents };

export interface SecurityHooks {
  /** Tracepoint names of the chosen families' syscalls this kernel has (programs to attach). */
  syscalls: string[];
  /** Those it has no tracepoint for (the syscall is not built in, or newer than the kernel). */
  missing: string[];
  /** Whether module:module_load exists (Linux built with module support) and the module family is on. */
  moduleLoad: boolean;
}

/** The hooks for `families` on this kernel (every one, unchecked, when tracefs cannot be read). */
export function hooksOf(families: readonly Family[], events: string | undefined = tracefsEvents()): SecurityHooks {
  const wanted = families.flatMap((f) => FAMILY_KINDS[f]).map(tracepointOf);
  if (!events) return { syscalls: wanted, missing: [], moduleLoad: false };
  const has = (tp: string): boolean => pathExists(`${events}/syscalls/sys_enter_${tp}`) && pathExists(`${events}/syscalls/sys_exit_${tp}`);
  return {
    syscalls: wanted.filter(has),
    missing: wanted.filter((tp) => !has(tp)),
    moduleLoad: families.includes('module') && pathExists(`${events}/module/module_load`),
  };
}

/** Program names of a set of hooks, entry before exit. */
export function programsOf(h: SecurityHooks): string[] {
  return [...h.syscalls.flatMap((s) => [`handle_enter_${s}`, `handle_exit_${s}`]), ...(h.moduleLoad ? [MODULE_LOAD_PROGRAM] : [])];
}
