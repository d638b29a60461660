/**
 * Readers of /proc/<pid>: one process's stat, command line, executable and cgroup; synchronously at
 * start-up (seeding) and asynchronously afterwards (never on the hot path). A process that exits
 * while it is read gives null.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { parseStat } from '../receivers/exec/process-table';
import { CgroupInfo, parseProcCgroup } from './cgroup';

export const CLK_TCK = 100n; // USER_HZ on every Linux architecture Kite supports

export interface ProcSnapshot {
  pid: number;
  ppid: number;
  path: string;
  args: string[];
  /** CLOCK_BOOTTIME ns of the process start (clock-tick precision). */
  startNs: bigint;
  /** Real and effective uid/gid from /proc/<pid>/status. */
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  cgroup: CgroupInfo;
}

function splitArgs(cmdline: Buffer): string[] {
  return cmdline.length ? cmdline.toString('utf8').replace(/\0$/, '').split('\0') : [];
}

function ids(status: string): { uid: number; euid: number; gid: number; egid: number } {
  const u = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  const g = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status);
  return { uid: Number(u?.[1] ?? -1), euid: Number(u?.[2] ?? -1), gid: Number(g?.[1] ?? -1), egid: Number(g?.[2] ?? -1) };
}

function build(pid: number, stat: string, status: string, cmdline: Buffer, path: string, cgroup: string): ProcSnapshot | null {
  const st = parseStat(stat);
  if (!st) return null;
  return {
    pid,
    ppid: st.ppid,
    path,
    args: splitArgs(cmdline),
    startNs: (st.startTicks * 1_000_000_000n) / CLK_TCK,
    ...ids(status),
    cgroup: parseProcCgroup(cgroup),
  };
}

export function readProcSync(pid: number, root = '/proc'): ProcSnapshot | null {
  try {
    const dir = `${root}/${pid}`;
    let path = '';
    try {
      path = readlinkSync(`${dir}/exe`);
    } catch {
      // kernel threads have no executable
    }
    let cgroup = '';
    try {
      cgroup = readFileSync(`${dir}/cgroup`, 'utf8');
    } catch {
      // no cgroup file: treated as the root cgroup
    }
    return build(pid, readFileSync(`${dir}/stat`, 'latin1'), readFileSync(`${dir}/status`, 'latin1'), readFileSync(`${dir}/cmdline`), path, cgroup);
  } catch {
    return null;
  }
}

export async function readProc(pid: number, root = '/proc'): Promise<ProcSnapshot | null> {
  const dir = `${root}/${pid}`;
  try {
    const [stat, status, cmdline, path, cgroup] = await Promise.all([
      readFile(`${dir}/stat`, 'latin1'),
      readFile(`${dir}/status`, 'latin1'),
      readFile(`${dir}/cmdline`),
      readlink(`${dir}/exe`).catch(() => ''),
      readFile(`${dir}/cgroup`, 'utf8').catch(() => ''),
    ]);
    return build(pid, stat, status, cmdline, path, cgroup);
  } catch {
    return null;
  }
}

export async function readCgroup(pid: number, root = '/proc'): Promise<CgroupInfo | null> {
  try {
    return parseProcCgroup(await readFile(`${root}/${pid}/cgroup`, 'utf8'));
  } catch {
    return null;
  }
}

export function readMachineId(): string {
  for (const p of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(p, 'utf8').trim();
      if (id) return id;
    } catch {
      // try the next one
    }
  }
  return '';
}
