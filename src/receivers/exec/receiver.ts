/**
 * exec receiver: process exec, fork and exit (bpf/exec.bpf.c, tp_btf scheduler tracepoints; Linux 5.8+
 * for bpf_ktime_get_boot_ns, 5.17+ for bpf_loop).
 *
 * Records: `process.exec` (the new program's path and argv), `process.fork` (a new process; it still
 * runs its parent's program), `process.exit` (the last thread of a process exited). Fork and exit
 * carry the executable and command line the process table knows, including for processes that were
 * running before the agent started (seeded from /proc).
 */
import { basename } from 'node:path';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import { ExecConfig } from './config';
import { ProcessInfo, ProcessTable, readBootId } from './process-table';
import { UserNames } from './users';
import { decodeExec, ExecFlags, ExecWire, EXEC_RODATA, FD_KIND_NAMES, KiteOp } from './wire';
import { addExecSeq } from '../wire-header';

const STDIO_ATTRS = ['kite.process.stdin.type', 'kite.process.stdout.type', 'kite.process.stderr.type'] as const;

const EVENT_NAMES: Record<number, string> = {
  [KiteOp.PROCESS_EXEC]: 'process.exec',
  [KiteOp.PROCESS_FORK]: 'process.fork',
  [KiteOp.PROCESS_EXIT]: 'process.exit',
};

export class ExecReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  readonly table: ProcessTable;
  private readonly users = new UserNames();

  constructor(id: ComponentId, host: Host, private readonly cfg: ExecConfig) {
    super(id, host, {
      object: 'exec',
      programs: ['handle_exec', 'handle_fork', 'handle_exit'],
      ringMap: 'exec_events',
      statsMap: 'exec_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
    this.table = new ProcessTable(readBootId());
  }

  protected override configure(obj: BpfObject): void {
    const rodata = obj.rodata();
    const v = rodata.initialValue();
    v.writeUInt32LE(this.cfg.maxArgBytes, EXEC_RODATA.max_arg_bytes.offset);
    rodata.setInitialValue(v);
  }

  protected override tick(): void {
    this.clock.sync(); // follow NTP steps of the wall clock
    this.host.stats.set(`receiver/${this.id.key}`, 'process_table_size', this.table.size);
  }

  protected override afterAttach(): void {
    const n = this.table.seedFromProc();
    this.host.logger.info('process table seeded from /proc', { component: `receiver/${this.id.key}`, processes: n });
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string {
    const w = decodeExec(buf, offset, length);
    if (typeof w === 'string') return w;
    return this.toRecord(w);
  }

  /** Builds the record and updates the process table. */
  toRecord(w: ExecWire): KiteRecord {
    const time = this.clock.formatHiLo(w.ktimeHi, w.ktimeLo);
    const rec: KiteRecord = {
      time,
      'event.name': EVENT_NAMES[w.op]!,
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'process.pid': w.tgid,
      'process.parent_pid': w.ppid,
    };
    let info: ProcessInfo | undefined;
    let truncated = false;
    if (w.op === KiteOp.PROCESS_EXEC) {
      let args = w.args;
      truncated = (w.flags & ExecFlags.ARGS_TRUNCATED) !== 0;
      if (args.length > this.cfg.maxArgs) {
        args = args.slice(0, this.cfg.maxArgs);
        truncated = true;
      }
      const ktimeNs = BigInt(w.ktimeHi) * 4294967296n + BigInt(w.ktimeLo);
      // the same process ran another program until now: rules follow a process across exec by this
      const previous = this.table.get(w.tgid);
      if (previous) rec['kite.process.previous_exec_id'] = previous.execId;
      for (let i = 0; i < 3; i++) rec[STDIO_ATTRS[i]!] = FD_KIND_NAMES[w.stdio[i]!] ?? 'other';
      info = { ppid: w.ppid, path: w.path, args, startNs: w.startBoottimeNs, execId: this.table.execId(w.tgid, ktimeNs) };
      this.table.set(w.tgid, info);
      if (w.flags & ExecFlags.PATH_TRUNCATED) rec['kite.process.executable.truncated'] = true;
    } else if (w.op === KiteOp.PROCESS_FORK) {
      const parent = this.table.get(w.ppid);
      info = {
        ppid: w.ppid,
        path: parent?.path ?? '',
        args: parent?.args ?? [],
        startNs: w.startBoottimeNs,
        execId: this.table.execId(w.tgid, w.startBoottimeNs),
      };
      this.table.set(w.tgid, info);
    } else {
      info = this.table.get(w.tgid);
      this.table.delete(w.tgid);
      const status = w.exitCode;
      const signal = status & 0x7f;
      if (signal) rec['kite.process.exit.signal'] = signal;
      else rec['process.exit.code'] = (status >> 8) & 0xff;
    }
    if (info) {
      if (info.path) {
        rec['process.executable.path'] = info.path;
        rec['process.executable.name'] = basename(info.path);
      }
      if (info.args.length) {
        rec['process.command_args'] = info.args;
        rec['process.command_line'] = info.args.join(' ');
        rec['process.args_count'] = info.args.length;
      }
      rec['kite.process.exec_id'] = info.execId;
      const parent = this.table.get(w.ppid);
      if (parent) rec['kite.process.parent.exec_id'] = parent.execId;
    }
    if (truncated) rec['kite.process.args_truncated'] = true;
    rec['kite.process.comm'] = w.comm;
    rec['process.creation.time'] = this.clock.formatNs(w.startBoottimeNs);
    rec['process.user.id'] = w.euid;
    rec['process.real_user.id'] = w.uid;
    rec['process.group.id'] = w.egid;
    rec['process.real_group.id'] = w.gid;
    const user = this.users.user(w.euid);
    if (user !== undefined) rec['process.user.name'] = user;
    if (w.uid !== w.euid) {
      const real = this.users.user(w.uid);
      if (real !== undefined) rec['process.real_user.name'] = real;
    } else if (user !== undefined) {
      rec['process.real_user.name'] = user;
    }
    const group = this.users.group(w.egid);
    if (group !== undefined) rec['process.group.name'] = group;
    rec['kite.cgroup.id'] = w.cgroupId;
    addExecSeq(rec, w.execSeq);
    if (w.cgroupName) rec['kite.cgroup.name'] = w.cgroupName;
    return rec;
  }
}
