/**
 * Where tracefs is and which syscall tracepoints this kernel has. Uses stat(), not access()
 * (existsSync): access() checks with the real uid and ignores the capabilities of an agent running as
 * a non-root user with CAP_DAC_READ_SEARCH, so tracefs would look absent to it.
 */
import { statSync } from 'node:fs';

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Whether `p` exists, by stat() (see above). */
export function pathExists(p: string): boolean {
  try {
    return statSync(p, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** tracefs' events folder, or undefined when tracefs is not mounted or not readable. */
export function tracefsEvents(): string | undefined {
  const d = TRACEFS.find((p) => pathExists(`${p}/events/syscalls`));
  return d ? `${d}/events` : undefined;
}

/** Those of `wanted` system calls that have a tracepoint on this kernel (all of them when tracefs cannot be read). */
export function syscallsWithTracepoints(wanted: string[], events: string | undefined = tracefsEvents()): string[] {
  return events ? wanted.filter((s) => pathExists(`${events}/syscalls/sys_enter_${s}`)) : wanted;
}
