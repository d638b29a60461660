/**
 * Run count and run time of BPF programs, as the kernel keeps them in `struct bpf_prog_info`
 * (`run_cnt`, `run_time_ns`, read with BPF_OBJ_GET_INFO_BY_FD). The kernel only counts while run-time
 * statistics are on: either the `kernel.bpf_stats_enabled` sysctl is 1, or some process holds the fd
 * that the BPF_ENABLE_STATS command returns (Linux 5.8+, CAP_SYS_ADMIN). enableRunTimeStats() asks for
 * that fd once and keeps it for the agent's life; the kernel turns the statistics off again when the
 * agent exits, however it exits. While they are on, every BPF program on the host pays two clock
 * reads per run (about 20-40 ns).
 */
import { readFileSync } from 'node:fs';
import { lastErrno, native } from './libbpf';
import { BpfObject, errnoName } from './object';

/** Offsets in struct bpf_prog_info (include/uapi/linux/bpf.h; checked against BTF by test/layout/prog-info-layout.test.ts). */
export const PROG_INFO = { size: 232, id: 4, name: 64, nameLen: 16, run_time_ns: 192, run_cnt: 200 } as const;

const BPF_STATS_RUN_TIME = 0;

export interface ProgramRunStats {
  name: string;
  id: number;
  runCount: number;
  runTimeNs: number;
}

export type RunTimeStatsState =
  | { on: true; how: 'bpf_enable_stats' | 'sysctl' }
  | { on: false; reason: string };

let statsFd = -1;
let state: RunTimeStatsState | null = null;

function sysctlOn(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Turns on the kernel's BPF run-time statistics for as long as this process lives (idempotent).
 * Says how they are on, or why not (the counters then stay at zero and are not exported).
 */
export function enableRunTimeStats(): RunTimeStatsState {
  if (state?.on) return state;
  const fd = native.enableStats(BPF_STATS_RUN_TIME);
  if (fd >= 0) {
    statsFd = fd;
    state = { on: true, how: 'bpf_enable_stats' };
  } else {
    const errno = -fd > 0 ? -fd : lastErrno();
    state = sysctlOn()
      ? { on: true, how: 'sysctl' }
      : { on: false, reason: `BPF_ENABLE_STATS refused (${errnoName(errno)}: it needs CAP_SYS_ADMIN) and kernel.bpf_stats_enabled is 0` };
  }
  return state;
}

/** Whether run-time statistics are being counted now (the held fd, or the sysctl). */
export function runTimeStatsOn(): boolean {
  return statsFd >= 0 || sysctlOn();
}

/** Gives the statistics fd back (the kernel stops counting unless the sysctl or another holder keeps it on). */
export function disableRunTimeStats(): void {
  if (statsFd >= 0) native.close(statsFd);
  statsFd = -1;
  state = null;
}

const info = Buffer.alloc(PROG_INFO.size);

/** The run statistics of one program fd, or null when the kernel refuses the query. */
export function programRunStats(fd: number, name: string): ProgramRunStats | null {
  info.fill(0);
  const len = [info.length];
  if (native.objGetInfoByFd(fd, info, len) !== 0) return null;
  return {
    name,
    id: info.readUInt32LE(PROG_INFO.id),
    runTimeNs: Number(info.readBigUInt64LE(PROG_INFO.run_time_ns)),
    runCount: Number(info.readBigUInt64LE(PROG_INFO.run_cnt)),
  };
}

/** Every loaded program of an object with its run statistics. */
export function objectRunStats(obj: BpfObject): ProgramRunStats[] {
  const out: ProgramRunStats[] = [];
  if (!obj.isLoaded) return out;
  for (const p of obj.programs()) {
    const fd = p.fd;
    if (fd < 0) continue; // not loaded (autoload off)
    const s = programRunStats(fd, p.name);
    if (s) out.push(s);
  }
  return out;
}

/** Stats counter names for a program's run count and run time (classified by src/pipeline/telemetry.ts). */
export const runCountName = (program: string): string => `bpf_program.${program}.run_count`;
export const runTimeName = (program: string): string => `bpf_program.${program}.run_time_ns`;

/** Publishes an object's program statistics under a component's counters. */
export function publishRunStats(stats: { set(component: string, name: string, value: number): void }, component: string, obj: BpfObject | null): void {
  if (!obj || !obj.isLoaded || !runTimeStatsOn()) return;
  for (const s of objectRunStats(obj)) {
    stats.set(component, runCountName(s.name), s.runCount);
    stats.set(component, runTimeName(s.name), s.runTimeNs);
  }
}
