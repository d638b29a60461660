/** Settings of the security receiver. */
import { byteSize, parseByteSize } from '../../component/formats';
import { FormatError } from '../../component/formats';
import { FilterSettings, filterSchema } from '../filters';
import { Family, FAMILIES } from './syscalls';

export const DEFAULT_EVENTS: Family[] = [...FAMILIES];
export const DEFAULT_RING_BUFFER_SIZE = '4MiB';

/** As written in the YAML (after defaults). */
export interface SecurityRawConfig {
  events: Family[];
  ring_buffer_size: string | number;
  filter: FilterSettings;
}

/** As the receiver uses it. */
export interface SecurityConfig {
  events: Family[];
  ringBufferSize: number;
  filter: FilterSettings;
}

function familyList(v: unknown): void {
  if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== 'string' || !(FAMILIES as readonly string[]).includes(x))) {
    throw new FormatError(`expected a non-empty list of: ${FAMILIES.join(', ')}`);
  }
}

export const securitySchema = {
  events: {
    doc: `Event families to report: privilege (set*id, setgroups, capset, exec that changed credentials), ptrace (attach, seize, process_vm_writev), module (init_module, finit_module), bpf (program loads, attachments, links), namespace (setns, unshare, clone with new namespaces), mount (mount, umount2, pivot_root, and the new mount API: fsopen, fsconfig create and reconfigure, fsmount, move_mount, open_tree clone, mount_setattr, fspick), listen (bind and listen of IPv4/IPv6 sockets). Each syscall has its own pair of tracepoints, attached only for the families listed; syscalls this kernel lacks are skipped with a log line.`,
    format: familyList,
    default: DEFAULT_EVENTS,
  },
  ring_buffer_size: {
    doc: 'Size of the kernel ring buffer that holds records until the agent reads them: a power of two, from 64KiB to 1GiB. When it is full, records are lost and counted (ring_full).',
    format: byteSize({ min: 65536, max: 1 << 30, powerOfTwo: true }),
    default: DEFAULT_RING_BUFFER_SIZE,
  },
  filter: filterSchema,
};

export function toSecurityConfig(raw: SecurityRawConfig): SecurityConfig {
  return { events: [...new Set(raw.events)], ringBufferSize: parseByteSize(raw.ring_buffer_size)!, filter: raw.filter };
}
