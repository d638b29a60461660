/**
 * The OCI seccomp profile of a recording (the `linux.seccomp` object of the OCI runtime spec, as
 * `podman run --security-opt seccomp=FILE` and `docker run` read it): calls not listed fail with
 * `defaultErrnoRet`; the calls recorded are allowed by name. Pure: no I/O.
 */
import { Abi, ABIS, SyscallTable } from './syscall-table';

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: { names: string[]; action: 'SCMP_ACT_ALLOW' }[];
}

export interface ProfileReport {
  /** Names allowed, per ABI that made calls. */
  names: Partial<Record<Abi, string[]>>;
  /** Numbers with no name in the table (a kernel newer than the headers): not in the profile. */
  unnamed: { abi: Abi; nr: number }[];
  /** Calls whose number was out of range (invalid numbers; never allowed). */
  outOfRange: Partial<Record<Abi, bigint>>;
  /** Total calls counted. */
  calls: bigint;
}

export interface CallCounts {
  calls: Record<Abi, Map<number, bigint>>;
  outOfRange: Record<Abi, bigint>;
}

/**
 * Builds the profile. `architectures` lists this machine's native architecture, plus the 32-bit
 * (compat) or x32 one only when calls through that ABI were recorded: their numbers are named with
 * that ABI's own table, never mixed with the native one.
 */
export function buildProfile(rec: CallCounts, table: SyscallTable, errnoRet: number): { profile: SeccompProfile; report: ProfileReport } {
  const report: ProfileReport = { names: {}, unnamed: [], outOfRange: {}, calls: 0n };
  const archs: string[] = [];
  const allowed = new Set<string>();
  for (const abi of ABIS) {
    const t = table.abis[abi];
    const counts = rec.calls[abi];
    if (rec.outOfRange[abi]) report.outOfRange[abi] = rec.outOfRange[abi];
    for (const n of counts.values()) report.calls += n;
    if (abi !== 'native' && !counts.size) continue;
    if (t) archs.push(t.scmpArch);
    const names: string[] = [];
    for (const nr of [...counts.keys()].sort((a, b) => a - b)) {
      const name = t?.names[nr];
      if (name) names.push(name);
      else report.unnamed.push({ abi, nr });
    }
    if (counts.size) report.names[abi] = names.sort();
    for (const n of names) allowed.add(n);
  }
  return {
    profile: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: errnoRet,
      architectures: archs,
      syscalls: allowed.size ? [{ names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' }] : [],
    },
    report,
  };
}
