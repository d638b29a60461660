/**
 * security receiver: privilege changes, ptrace and process_vm_writev, kernel module and BPF loads,
 * namespace changes and mounts (the new mount API too), and socket listeners (bpf/security.bpf.c: one
 * pair of per-syscall tracepoints per watched syscall, attached only for the families the config asks
 * for; Linux 5.17+).
 *
 * One record per watched syscall, with the acting process, its credentials after the call (and before
 * it, for privilege changes or whenever they changed), its namespaces, and the result: `kite.result` is
 * 0 on success or the errno of the refusal (a refused attempt is an event too). execve and execveat are
 * reported only when they changed the credentials (set-user-ID, set-group-ID, file capabilities).
 * A syscall this kernel has no tracepoint for (not built in, or newer than the kernel) is skipped and
 * logged at start; it is never an error.
 */
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { ComponentId, Host, KiteRecord } from '../../component/component';
import { BootClock } from '../../bpf/clock';
import { BpfObject, errnoName } from '../../bpf/object';
import { BpfReceiver } from '../bpf-receiver';
import { UserNames } from '../exec/users';
import { SecurityConfig } from './config';
import { ALL_TRACEPOINTS, hooksOf, MODULE_LOAD_PROGRAM, programsOf, SecurityHooks, SYSCALL_NAMES, tracefsEvents } from './syscalls';
import { Creds, decodeSecurity, NS_KINDS, NsKind, SecurityFlags, SecurityKind, SecurityKindName, SecurityOp, SecurityWire } from './wire';
import { addExecSeq } from '../wire-header';

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

/** kite.mount.operation of each mount-family syscall. */
const MOUNT_OPERATIONS: Partial<Record<SecurityKindName, string>> = { MOUNT: 'mount', UMOUNT: 'umount', PIVOT_ROOT: 'pivot_root' };

/** MOUNT_ATTR_* (include/uapi/linux/mount.h). */
const MOUNT_ATTR_IDMAP = 0x100000;
/** fsconfig commands the program reports (enum fsconfig_command). */
const FSCONFIG_COMMANDS: Record<number, string> = { 6: 'create', 7: 'reconfigure', 8: 'create_excl' };
const AT_RECURSIVE = 0x8000;
const ATIME: Record<number, string> = { 0x0: 'relatime', 0x10: 'noatime', 0x20: 'strictatime' };

/** Names of MOUNT_ATTR_* bits (the atime mode, bits 4-6, as relatime/noatime/strictatime when set). */
export function mountAttrs(v: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of [[0x1, 'rdonly'], [0x2, 'nosuid'], [0x4, 'nodev'], [0x8, 'noexec'], [0x80, 'nodiratime'], [0x100000, 'idmap'], [0x200000, 'nosymfollow']] as [number, string][]) {
    if (v & bit) out.push(name);
  }
  const atime = v & 0x70;
  if (atime) out.push(ATIME[atime] ?? `atime_${atime.toString(16)}`);
  return out;
}

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

  private readonly hooks: SecurityHooks;

  constructor(id: ComponentId, host: Host, private readonly cfg: SecurityConfig) {
    const hooks = hooksOf(cfg.events);
    super(id, host, {
      object: 'security',
      programs: programsOf(hooks),
      ringMap: 'security_events',
      statsMap: 'security_stats',
      ringBufferSize: cfg.ringBufferSize,
      filter: cfg.filter,
    });
    this.hooks = hooks;
  }

  /** Tracepoint names of the syscalls watched on this kernel. */
  get watchedSyscalls(): readonly string[] {
    return this.hooks.syscalls;
  }

  /** Only the programs of the chosen families that this kernel has hooks for are loaded. */
  protected override configure(obj: BpfObject): void {
    if (!tracefsEvents()) {
      throw new Error('security receiver: tracefs is not mounted at /sys/kernel/tracing (or not readable: the per-syscall tracepoints need CAP_DAC_READ_SEARCH)');
    }
    const keep = new Set(programsOf(this.hooks));
    for (const tp of ALL_TRACEPOINTS) {
      for (const p of [`handle_enter_${tp}`, `handle_exit_${tp}`]) if (!keep.has(p)) obj.program(p).setAutoload(false);
    }
    if (!keep.has(MODULE_LOAD_PROGRAM)) obj.program(MODULE_LOAD_PROGRAM).setAutoload(false);
    const component = `receiver/${this.id.key}`;
    if (this.hooks.missing.length) {
      this.host.logger.info('syscalls without a tracepoint on this kernel: not watched', { component, syscalls: this.hooks.missing });
    }
    if (!this.hooks.syscalls.length) {
      this.host.logger.warn('none of the chosen families has a hook on this kernel: nothing is watched', { component, events: this.cfg.events });
    }
    if (this.cfg.events.includes('module') && !this.hooks.moduleLoad) {
      this.host.logger.info('no module:module_load tracepoint (kernel without module support): loaded modules are not named by the kernel', { component });
    }
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
    addExecSeq(rec, w.execSeq);
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
          if (w.str[0]) {
            rec['file.path'] = w.str[0];
            rec['file.name'] = basename(w.str[0]);
          }
          rec['kite.module.fd'] = asInt(a[0]!);
          rec['kite.module.flags'] = Number(a[2]) >>> 0;
        } else {
          rec['kite.module.size'] = Number(a[1]);
        }
        if (w.str[2]) rec['kite.module.name'] = w.str[2];
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
        // setns: the kind of the namespace file given (nstype may be 0: any)
        if (w.flags & SecurityFlags.FD_NS) for (const k of this.nsKindsFromFlags(w.aux[0]!)) kinds.add(k);
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
        rec['kite.mount.operation'] = MOUNT_OPERATIONS[kind] ?? SYSCALL_NAMES[kind];
        this.mount(rec, w, kind);
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

  /** Attributes of a mount-family call (mount, umount2, pivot_root and the new mount API). */
  private mount(rec: KiteRecord, w: SecurityWire, kind: SecurityKindName): void {
    const a = w.args;
    const set = (key: string, v: string): void => {
      if (v) rec[key] = v;
    };
    switch (kind) {
      case 'PIVOT_ROOT':
        rec['kite.mount.new_root'] = w.str[0];
        rec['kite.mount.put_old'] = w.str[1];
        break;
      case 'MOUNT':
        rec['kite.mount.target'] = w.str[0];
        rec['kite.mount.flags'] = Number(a[3]);
        rec['kite.mount.source'] = w.str[1];
        set('kite.mount.fs_type', w.str[2]);
        break;
      case 'UMOUNT':
        rec['kite.mount.target'] = w.str[0];
        rec['kite.mount.flags'] = Number(a[1]);
        break;
      case 'FSOPEN':
        set('kite.mount.fs_type', w.str[2]);
        rec['kite.mount.flags'] = Number(a[1]) >>> 0;
        break;
      case 'FSCONFIG':
        rec['kite.mount.fsconfig.command'] = FSCONFIG_COMMANDS[Number(a[1])] ?? String(a[1]);
        rec['kite.mount.context_fd'] = asInt(a[0]!);
        set('kite.mount.source', w.str[1]);
        set('kite.mount.fs_type', w.str[2]);
        break;
      case 'FSMOUNT':
        rec['kite.mount.context_fd'] = asInt(a[0]!);
        rec['kite.mount.attributes'] = mountAttrs(Number(a[2]) >>> 0);
        rec['kite.mount.flags'] = Number(a[2]) >>> 0;
        set('kite.mount.source', w.str[1]);
        set('kite.mount.fs_type', w.str[2]);
        if (w.result >= 0) rec['kite.mount.fd'] = w.result;
        break;
      case 'MOVE_MOUNT':
        set('kite.mount.target', w.str[0]);
        set('kite.mount.source', w.str[1]);
        set('kite.mount.fs_type', w.str[2]);
        rec['kite.mount.flags'] = Number(a[4]) >>> 0;
        break;
      case 'OPEN_TREE':
        set('kite.mount.source', w.str[0]);
        rec['kite.mount.flags'] = Number(a[2]) >>> 0;
        rec['kite.mount.recursive'] = (Number(a[2]) & AT_RECURSIVE) !== 0;
        if (w.result >= 0) rec['kite.mount.fd'] = w.result;
        break;
      case 'FSPICK':
        set('kite.mount.target', w.str[0]);
        rec['kite.mount.flags'] = Number(a[2]) >>> 0;
        if (w.result >= 0) rec['kite.mount.context_fd'] = w.result;
        break;
      case 'MOUNT_SETATTR':
        set('kite.mount.target', w.str[0]);
        rec['kite.mount.flags'] = Number(a[2]) >>> 0;
        rec['kite.mount.recursive'] = (Number(a[2]) & AT_RECURSIVE) !== 0;
        rec['kite.mount.attributes.set'] = mountAttrs(w.aux[0]!);
        rec['kite.mount.attributes.cleared'] = mountAttrs(w.aux[1]!);
        if (w.aux[2]) rec['kite.mount.propagation'] = w.aux[2];
        if (w.aux[0]! & MOUNT_ATTR_IDMAP) rec['kite.mount.userns_fd'] = w.aux[3]!;
        break;
    }
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
