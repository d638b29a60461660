/**
 * Capabilities of this process, read from /proc/self/status (no FFI needed).
 */
import { readFileSync } from 'node:fs';

export const CAPABILITY_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_KILL: 5,
  CAP_SETUID: 7,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
};

/** The effective capability set as a bit mask. */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/**
 * Which of `needed` this process lacks. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as the
 * kernel allows.
 */
export function missingCapabilities(needed: string[], eff = effectiveCapabilities()): string[] {
  const has = (name: string): boolean => {
    const bit = CAPABILITY_BITS[name];
    return bit !== undefined && (eff & (1n << BigInt(bit))) !== 0n;
  };
  return needed.filter((c) => !has(c) && !((c === 'CAP_BPF' || c === 'CAP_PERFMON') && has('CAP_SYS_ADMIN')));
}
