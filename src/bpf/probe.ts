/**
 * Runtime feature probes: what this kernel, with this process's privileges, really lets Kite do. Each
 * probe loads (and where it matters, attaches then detaches) one tiny program of
 * bpf/probe/probe.bpf.c, so the answer is the kernel's own, not a guess from the version number.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BpfError } from '../component/errors';
import { CAPABILITY_BITS, effectiveCapabilities } from './caps';
import { BpfObject } from './object';
import { bpfObjectPath } from './paths';

export interface FeatureSpec {
  /** The program in bpf/probe/probe.bpf.c; none for checks that need no program. */
  program?: string;
  /** Attach (then detach) too: some kernels load a program type but refuse to attach it. */
  attach?: boolean;
  what: string;
  minKernel: string;
}

export const FEATURES: Record<string, FeatureSpec> = {
  btf: { what: 'kernel BTF at /sys/kernel/btf/vmlinux (CO-RE)', minKernel: '5.4' },
  tp_btf: { program: 'probe_tp_btf', attach: true, what: 'BTF-typed tracepoints (tp_btf)', minKernel: '5.5' },
  raw_tp: { program: 'probe_raw_tp', attach: true, what: 'raw tracepoints', minKernel: '4.17' },
  tracepoint: { program: 'probe_tracepoint', attach: true, what: 'tracepoints through tracefs', minKernel: '4.7' },
  ringbuf_loop: { program: 'probe_ringbuf_loop', what: 'BPF ring buffer and bpf_loop', minKernel: '5.17' },
  fentry: { program: 'probe_fentry', attach: true, what: 'fentry/fexit programs', minKernel: '5.5' },
  kprobe: { program: 'probe_kprobe', attach: true, what: 'kprobes', minKernel: '4.1' },
  lsm: { program: 'probe_lsm', attach: true, what: 'BPF LSM programs (deny decisions)', minKernel: '5.7' },
  xdp: { program: 'probe_xdp', what: 'XDP programs', minKernel: '4.8' },
  socket_filter: { program: 'probe_socket', what: 'socket filters', minKernel: '3.19' },
  send_signal: { program: 'probe_send_signal', what: 'bpf_send_signal (kill at exec)', minKernel: '5.3' },
};

export interface FeatureResult {
  feature: string;
  available: boolean;
  detail: string;
}

function firstLine(e: unknown): string {
  if (e instanceof BpfError) return `${e.errnoName}${e.hint ? `: ${e.hint}` : `: ${e.message.split('\n')[0]}`}`;
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/** Probes one feature; never throws. */
export function probeFeature(name: string): FeatureResult {
  const spec = FEATURES[name];
  if (!spec) return { feature: name, available: false, detail: 'unknown feature' };
  if (name === 'btf') {
    const ok = existsSync('/sys/kernel/btf/vmlinux');
    return { feature: name, available: ok, detail: ok ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux (kernel built without CONFIG_DEBUG_INFO_BTF)' };
  }
  if (name === 'kprobe' && !existsSync('/sys/bus/event_source/devices/kprobe/type')) {
    return { feature: name, available: false, detail: 'no kprobe PMU (/sys/bus/event_source/devices/kprobe): the kernel is built without CONFIG_KPROBES' };
  }
  // the BPF LSM decides only when it is in the kernel's active LSM list (boot parameter lsm=)
  let lsmNote = '';
  if (name === 'lsm') {
    const lsms = activeLsms();
    if (lsms && !lsms.includes('bpf')) {
      return { feature: name, available: false, detail: `bpf is not an active LSM (/sys/kernel/security/lsm: ${lsms.join(',')}): boot with lsm=${lsms.join(',')},bpf` };
    }
    lsmNote = lsms ? `bpf is an active LSM (${lsms.join(',')}), ` : 'the active LSM list is unknown (securityfs not mounted), ';
  }
  let obj: BpfObject | null = null;
  try {
    obj = BpfObject.open(bpfObjectPath('probe/probe'));
    for (const p of obj.programs()) p.setAutoload(p.name === spec.program);
    obj.load();
    if (spec.attach) obj.attach(spec.program!).destroy();
    return { feature: name, available: true, detail: `${lsmNote}${spec.attach ? 'loads and attaches' : 'loads'}` };
  } catch (e) {
    return { feature: name, available: false, detail: `${lsmNote ? `${lsmNote}but ` : ''}${firstLine(e)}` };
  } finally {
    obj?.close();
  }
}

/** The kernel's active LSMs, in order; null when securityfs is not mounted. */
export function activeLsms(): string[] | null {
  try {
    return readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',').filter(Boolean);
  } catch {
    return null;
  }
}

export interface SystemFacts {
  kernel: string;
  capabilities: { held: string[]; missing: string[] };
  mounts: Record<string, boolean>;
  lsms: string[];
}

export function systemFacts(): SystemFacts {
  const eff = effectiveCapabilities();
  const names = ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE', 'CAP_SYS_RESOURCE', 'CAP_KILL'];
  const held = names.filter((n) => (eff & (1n << BigInt(CAPABILITY_BITS[n]!))) !== 0n);
  let mounts = '';
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    // leave empty
  }
  const mounted = (type: string): boolean => mounts.split('\n').some((l) => l.split(' ')[2] === type);
  let lsms: string[] = [];
  try {
    lsms = readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',');
  } catch {
    // securityfs not mounted
  }
  return {
    kernel: release(),
    capabilities: { held, missing: names.filter((n) => !held.includes(n)) },
    mounts: { tracefs: mounted('tracefs'), bpf: mounted('bpf'), securityfs: mounted('securityfs'), cgroup2: mounted('cgroup2') },
    lsms,
  };
}
