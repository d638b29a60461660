/**
 * security receiver: privilege changes, ptrace and process_vm_writev, kernel module and BPF loads,
 * namespace changes and mounts, and socket listeners (bpf/security.bpf.c: tp_btf on sys_enter and
 * sys_exit; Linux 5.11+).
 *
 * One record per watched syscall, with the acting process, its credentials after the call (and before
 * it, for privilege changes or whenever they changed), its namespaces, and the result: `kite.result` is
 * 0 on success or the errno of the refusal (a refused attempt is an event too). execve and execveat are
 * reported only when they changed the credentials (set-user-ID, set-group-ID, file capabilities).
 */
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject, errnoName } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import { UserNames } from '../exec/users';
import { SecurityConfig } from './config';
import { kindTable, SYSCALL_NAMES } from './syscalls';
import { Creds, decodeSecurity, NS_KINDS, NsKind, SECURITY_LIMITS, SECURITY_RODATA, SecurityFlags, SecurityKind, SecurityKindName, SecurityOp, SecurityWire } from './wire';

const EVENT_NAMES: Record<number, string> = {
  [SecurityOp.PROCESS_PRIVILEGE_CHANGE]: 'process.privilege_change',
  [SecurityOp.PROCESS_PTRACE]: 'process.ptrace',
  [SecurityOp.PROCESS_VM_WRITE]: 'process.vm_write',
  [SecurityOp.KERNEL_MODULE_LOAD]: 'kernel.module_load',
  [SecurityOp.KERNEL_BPF_LOAD]: 'kernel.bpf_load',
  [SecurityOp.NAMESPACE_CHANGE]: 'namespace.change',
  [SecurityOp.NAMESPACE_MOUNT]: 'namespace.mount',
  [SecurityOp.NETWORK_LISTEN]: 'network.listen',
};

const KIND_NAMES = Object.fromEntries(Object.entries(SecurityKind).map(([k, v]) => [v, k])) as Record<number, SecurityKindName>;

/** Capability bits (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** enum bpf_prog_type (include/uapi/linux/bpf.h), lowercased without the prefix. */
export const BPF_PROG_TYPES = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event', 'cgroup_skb',
  'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device', 'sk_msg', 'raw_tracepoint',
  'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport', 'flow_dissector', 'cgroup_sysctl',
  'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing', 'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
];

/** BPF commands the program watches (enum bpf_cmd). */
export const BPF_COMMANDS: Record<number, string> = { 5: 'prog_load', 8: 'prog_attach', 17: 'raw_tracepoint_open', 28: 'link_create' };

/** CLONE_NEW* flags (include/uapi/linux/sched.h), also setns's nstype. */
export const NS_FLAGS: [number, NsKind][] = [
  [0x00020000, 'mnt'], [0x40000000, 'net'], [0x20000000, 'pid'], [0x10000000, 'user'], [0x04000000, 'uts'],
  [0x08000000, 'ipc'], [0x02000000, 'cgroup'], [0x00000080, 'time'],
];

const TRANSPORTS: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 262: 'mptcp' };
const PTRACE_REQUESTS: Record<number, string> = { 16: 'attach', 0x4206: 'seize' };

const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) out.push(CAPABILITIES[i] ?? `CAP_${i}`);
  return out;
}

/** A syscall argument as the C int it is (-1 stays -1). */
const asInt = (v: bigint): number => Number(BigInt.asIntN(32, v));

function formatAddr(family: number, addr: Buffer): string {
  if (family === 2) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(addr.readUInt16BE(i).toString(16));
  // the longest run of zero groups becomes ::
  const s = groups.join(':');
  const runs = s.match(/(^|:)0(:0)+(:|$)/g);
  if (!runs) return s;
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a));
  return s.replace(longest, '::');
}

export class SecurityReceiver extends BpfReceiver {
  private readonly clock = new BootClock();
  private readonly users = new UserNames();

  constructor(id: ComponentId, host: Host, private readonly cfg: SecurityConfig) {
    super(id, host, {
      object: 'security',
      programs: ['handle_sys_enter', 'handle_sys_exit'],
      ringMap: 'security_events',
      statsMap: 'security_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
  }

  protected override configure(obj: BpfObject): void {
    const rodata = obj.rodata();
    const v = rodata.initialValue();
    kindTable(this.cfg.events, process.arch, SECURITY_LIMITS.syscallsMax).copy(v, SECURITY_RODATA.syscall_kind.offset);
    rodata.setInitialValue(v);
  }

  protected override tick(): void {
    this.clock.sync();
  }

  protected decode(buf: Buffer, offset: number, length: number): KiteRecord | string {
    const w = decodeSecurity(buf, offset, length);
    if (typeof w === 'string') return w;
    return this.toRecord(w);
  }

  /** Credentials under `std` (semantic-convention names: process.user.id, ...) and `ext` (Kite's own). */
  private creds(rec: KiteRecord, std: string, ext: string, c: Creds): void {
    rec[`${std}user.id`] = c.euid;
    rec[`${std}real_user.id`] = c.uid;
    rec[`${std}saved_user.id`] = c.suid;
    rec[`${std}group.id`] = c.egid;
    rec[`${std}real_group.id`] = c.gid;
    rec[`${std}saved_group.id`] = c.sgid;
    rec[`${ext}fs_user.id`] = c.fsuid;
    rec[`${ext}fs_group.id`] = c.fsgid;
    rec[`${ext}groups_count`] = c.ngroups;
    rec[`${ext}capabilities.effective`] = hex64(c.capEffective);
    rec[`${ext}capabilities.permitted`] = hex64(c.capPermitted);
    rec[`${ext}capabilities.inheritable`] = hex64(c.capInheritable);
  }

  private nsKindsFromFlags(flags: number): NsKind[] {
    return NS_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, k]) => k);
  }

  /** Builds the pipeline record of one decoded syscall. */
  toRecord(w: SecurityWire): KiteRecord {
    const kind = KIND_NAMES[w.kind]!;
    const rec: KiteRecord = {
      time: this.clock.formatHiLo(w.ktimeHi, w.ktimeLo),
      'event.name': EVENT_NAMES[w.op]!,
      'kite.event_id': this.host.nextEventId(),
      ...this.host.resource,
      'process.pid': w.tgid,
      'thread.id': w.pid,
      'process.parent_pid': w.ppid,
      'kite.process.comm': w.comm,
      'kite.syscall': SYSCALL_NAMES[kind],
      'kite.result': w.result < 0 ? -w.result : 0,
    };
    if (w.result < 0) rec['kite.result.error'] = errnoName(-w.result);
    this.creds(rec, 'process.', 'kite.process.', w.after);
    const user = this.users.user(w.after.euid);
    if (user !== undefined) rec['process.user.name'] = user;
    const changed = (w.flags & SecurityFlags.CREDS_CHANGED) !== 0;
    rec['kite.process.credentials_changed'] = changed;
    if (w.op === SecurityOp.PROCESS_PRIVILEGE_CHANGE || changed) {
      this.creds(rec, 'kite.process.before.', 'kite.process.before.', w.before);
      const added = w.after.capEffective & ~w.before.capEffective;
      const removed = w.before.capEffective & ~w.after.capEffective;
      if (added) rec['kite.process.capabilities.added'] = capNames(added);
      if (removed) rec['kite.process.capabilities.removed'] = capNames(removed);
    }
    rec['kite.cgroup.id'] = w.cgroupId;
    const a = w.args;
    switch (w.op) {
      case SecurityOp.PROCESS_PRIVILEGE_CHANGE:
        if (kind === 'EXECVE' || kind === 'EXECVEAT') {
          const path = w.str[0];
          if (path.startsWith('/')) rec['process.executable.path'] = path;
          else rec['kite.process.exec.filename'] = path;
          rec['process.executable.name'] = basename(path);
        } else if (kind !== 'CAPSET' && kind !== 'SETGROUPS') {
          const n = kind === 'SETRESUID' || kind === 'SETRESGID' ? 3 : kind === 'SETREUID' || kind === 'SETREGID' ? 2 : 1;
          rec['kite.privilege.requested_ids'] = a.slice(0, n).map(asInt);
        } else if (kind === 'SETGROUPS') {
          rec['kite.privilege.requested_groups_count'] = asInt(a[0]!);
        }
        break;
      case SecurityOp.PROCESS_PTRACE:
      case SecurityOp.PROCESS_VM_WRITE:
        if (kind === 'PTRACE') rec['kite.ptrace.request'] = PTRACE_REQUESTS[Number(a[0])] ?? String(a[0]);
        this.target(rec, w, asInt(kind === 'PTRACE' ? a[1]! : a[0]!));
        if (kind === 'VM_WRITEV' && w.result >= 0) rec['kite.vm_write.bytes'] = w.result;
        break;
      case SecurityOp.KERNEL_MODULE_LOAD:
        if (kind === 'FINIT_MODULE') {
          if (w.str[0]) rec['file.name'] = w.str[0];
          rec['kite.module.fd'] = asInt(a[0]!);
        } else {
          rec['kite.module.size'] = Number(a[1]);
        }
        rec['kite.module.params'] = w.str[1];
        break;
      case SecurityOp.KERNEL_BPF_LOAD:
        rec['kite.bpf.command'] = BPF_COMMANDS[w.aux[0]!] ?? String(w.aux[0]);
        rec['kite.bpf.program.type'] = BPF_PROG_TYPES[w.aux[1]!] ?? String(w.aux[1]);
        if (w.str[0]) rec['kite.bpf.program.name'] = w.str[0];
        if (w.aux[2]) rec['kite.bpf.program.id'] = w.aux[2];
        rec['kite.bpf.attach_type'] = w.aux[3]!;
        if (w.str[2]) rec['kite.bpf.tracepoint'] = w.str[2];
        break;
      case SecurityOp.NAMESPACE_CHANGE: {
        const flags = Number(kind === 'SETNS' ? a[1] : kind === 'CLONE3' ? a[5] : a[0]) >>> 0;
        rec['kite.namespace.flags'] = flags;
        const kinds = new Set<NsKind>(this.nsKindsFromFlags(flags));
        NS_KINDS.forEach((k, i) => {
          if (w.nsAfter[i] && w.nsBefore[i] !== w.nsAfter[i]) kinds.add(k);
        });
        rec['kite.namespace.kinds'] = NS_KINDS.filter((k) => kinds.has(k));
        NS_KINDS.forEach((k, i) => {
          if (!kinds.has(k)) return;
          rec[`kite.namespace.${k}.before`] = w.nsBefore[i]!;
          if (w.nsAfter[i]) rec[`kite.namespace.${k}.after`] = w.nsAfter[i]!;
        });
        if (kind === 'CLONE' || kind === 'CLONE3') this.target(rec, w, w.result);
        if (kind === 'SETNS') rec['kite.namespace.fd'] = asInt(a[0]!);
        break;
      }
      case SecurityOp.NAMESPACE_MOUNT:
        rec['kite.mount.operation'] = kind === 'MOUNT' ? 'mount' : kind === 'UMOUNT' ? 'umount' : 'pivot_root';
        if (kind === 'PIVOT_ROOT') {
          rec['kite.mount.new_root'] = w.str[0];
          rec['kite.mount.put_old'] = w.str[1];
        } else {
          rec['kite.mount.target'] = w.str[0];
          rec['kite.mount.flags'] = Number(kind === 'MOUNT' ? a[3] : a[1]);
          if (kind === 'MOUNT') {
            rec['kite.mount.source'] = w.str[1];
            if (w.str[2]) rec['kite.mount.fs_type'] = w.str[2];
          }
        }
        rec['kite.namespace.mnt.id'] = w.nsAfter[0]!;
        break;
      case SecurityOp.NETWORK_LISTEN:
        rec['kite.network.operation'] = kind === 'BIND' ? 'bind' : 'listen';
        if (w.family === 2 || w.family === 10) {
          rec['network.type'] = w.family === 2 ? 'ipv4' : 'ipv6';
          rec['network.local.address'] = formatAddr(w.family, w.addr);
          rec['network.local.port'] = w.port;
        }
        if (w.flags & SecurityFlags.SOCKET) {
          const t = TRANSPORTS[w.aux[0]!];
          if (t) rec['network.transport'] = t;
        }
        if (kind === 'LISTEN') rec['kite.network.listen.backlog'] = asInt(a[1]!);
        rec['kite.network.socket.fd'] = asInt(a[0]!);
        break;
    }
    return rec;
  }

  /** The target process: from the kernel (ptrace tracee, clone child), else read from /proc now. */
  private target(rec: KiteRecord, w: SecurityWire, pid: number): void {
    if (pid > 0) rec['kite.target.process.pid'] = pid;
    if (w.flags & SecurityFlags.TARGET) {
      rec['kite.target.process.pid'] = w.targetPid;
      rec['kite.target.process.comm'] = w.targetComm;
      rec['kite.target.process.real_user.id'] = w.targetUid;
      if (w.kind === SecurityKind.CLONE || w.kind === SecurityKind.CLONE3) return;
      if (w.str[0]) rec['kite.target.process.executable.name'] = w.str[0];
    }
    if (pid <= 0) return;
    try {
      // best effort: the target may have exited or run another program since
      const path = readlinkSync(`/proc/${pid}/exe`);
      rec['kite.target.process.executable.path'] = path;
      if (!rec['kite.target.process.executable.name']) rec['kite.target.process.executable.name'] = basename(path);
    } catch {
      // gone, or a kernel thread
    }
  }
}
