/**
 * Loads bpf/seccomp_advise.bpf.o for one recording and reads what it counted. Order: open -> .rodata
 * knobs (mode, gate, exec numbers) -> load -> the cgroup, or arm the gate and attach fork/exec/exit
 * -> track the pids -> attach sys_enter last. close() detaches and frees everything; nothing is pinned, so the
 * kernel frees it all when the process exits, however it exits.
 * Needs CAP_BPF and CAP_PERFMON (or root); Linux 5.17+ with BTF.
 */
import { closeSync, openSync } from 'node:fs';
import { BpfObject } from '../../bpf/object';
import { bpfObjectPath } from '../../bpf/paths';
import { Abi, ABIS, SyscallTable } from './syscall-table';
import { ADVISE_CTL, ADVISE_LIMITS, ADVISE_RODATA, AdviseMode, AdviseState, callSlot } from './wire';

export type RecorderTarget = (
  | { kind: 'pids'; gateCommand: boolean }
  | { kind: 'cgroup'; dir: string }
) & {
  /** Count a process's calls only once it runs under a seccomp filter. */
  afterSeccomp?: boolean;
};

export interface Recording {
  /** Calls per number, per ABI. */
  calls: Record<Abi, Map<number, bigint>>;
  /** Calls whose number was out of the table's range, per ABI. */
  outOfRange: Record<Abi, bigint>;
  /** Processes that could not be tracked: the pid map was full. */
  pidsFull: bigint;
}

export class SeccompRecorder {
  private readonly obj: BpfObject;
  private closed = false;

  constructor(target: RecorderTarget, table: SyscallTable) {
    this.obj = BpfObject.open(bpfObjectPath('seccomp_advise'));
    try {
      const ro = this.obj.rodata();
      const v = ro.initialValue();
      const native = table.abis.native?.names ?? {};
      const nrOf = (name: string): number => Number(Object.entries(native).find(([, n]) => n === name)?.[0] ?? -1);
      v.writeUInt32LE(target.kind === 'cgroup' ? AdviseMode.CGROUP : AdviseMode.PIDS, ADVISE_RODATA.mode.offset);
      if (target.kind === 'pids' && target.gateCommand) {
        v.writeUInt32LE(process.pid, ADVISE_RODATA.gate_tgid.offset);
      }
      v.writeInt32LE(nrOf('execve'), ADVISE_RODATA.execve_nr.offset);
      v.writeInt32LE(nrOf('execveat'), ADVISE_RODATA.execveat_nr.offset);
      v.writeUInt32LE(target.afterSeccomp ? 1 : 0, ADVISE_RODATA.after_seccomp.offset);
      v.writeUInt32LE(process.pid, ADVISE_RODATA.self_tgid.offset);
      ro.setInitialValue(v);
      this.obj.load();
      if (target.kind === 'cgroup') {
        // The map keeps its own reference to the cgroup: the folder's fd can be closed at once.
        const fd = openSync(target.dir, 'r');
        try {
          const value = Buffer.alloc(4);
          value.writeUInt32LE(fd);
          this.obj.map('advise_cgroup').update(Buffer.alloc(4), value);
        } finally {
          closeSync(fd);
        }
      } else {
        if (target.gateCommand) {
          // Armed before the hooks are attached: the program only ever clears it.
          const ctl = Buffer.alloc(ADVISE_CTL.size);
          ctl.writeBigUInt64LE(1n, ADVISE_CTL.fields.gate_armed.offset);
          this.obj.map('advise_ctl').update(Buffer.alloc(4), ctl);
        }
        this.obj.attach('handle_fork');
        this.obj.attach('handle_exec');
        this.obj.attach('handle_exit');
      }
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }

  /** Tracks a process (and, from now on, every process it forks). Returns false when the map is full. */
  track(pid: number): boolean {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(pid);
    try {
      this.obj.map('advise_pids').update(key, Buffer.from([AdviseState.TRACKED]));
      return true;
    } catch {
      return false;
    }
  }

  /** Starts counting: attaches sys_enter. */
  start(): void {
    this.obj.attach('handle_sys_enter');
  }

  /** Stops counting (detaches every program); the counts stay readable until close(). */
  stop(): void {
    this.obj.detach();
  }

  /** The processes tracked now (pids mode). */
  trackedPids(): number[] {
    return this.obj.map('advise_pids').keys(4, ADVISE_LIMITS.pidsMax + 1).map((k) => k.readUInt32LE(0));
  }

  /** The command's process once forked (pids mode with a command), or 0. */
  gatedPid(): number {
    const v = Buffer.alloc(ADVISE_CTL.size);
    return this.obj.map('advise_ctl').lookup(Buffer.alloc(4), v) ? v.readUInt32LE(ADVISE_CTL.fields.gated_pid.offset) : 0;
  }

  read(): Recording {
    const calls = Object.fromEntries(ABIS.map((a) => [a, new Map<number, bigint>()])) as Record<Abi, Map<number, bigint>>;
    const outOfRange = Object.fromEntries(ABIS.map((a) => [a, 0n])) as Record<Abi, bigint>;
    const map = this.obj.map('advise_calls');
    ABIS.forEach((abi, i) => {
      for (let nr = 0; nr < ADVISE_LIMITS.nrMax; nr++) {
        const n = map.sumPerCpuU64(callSlot(i, nr));
        if (n) calls[abi].set(nr, n);
      }
      outOfRange[abi] = map.sumPerCpuU64(callSlot(i, -1));
    });
    const ctl = Buffer.alloc(ADVISE_CTL.size);
    const pidsFull = this.obj.map('advise_ctl').lookup(Buffer.alloc(4), ctl) ? ctl.readBigUInt64LE(ADVISE_CTL.fields.pids_full.offset) : 0n;
    return { calls, outOfRange, pidsFull };
  }

  /** Detaches and frees the object. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.obj.close();
  }
}
