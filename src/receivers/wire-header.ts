/**
 * Byte offsets of `struct kite_event_header` (bpf/lib/common.h), the first member `hdr` of every
 * ring record. Each receiver's layout table spreads these in; the layout tests check them against
 * each object's BTF.
 */
export const KITE_EVENT_HEADER_FIELDS = {
  'hdr.op': { offset: 0, size: 2 },
  'hdr.size': { offset: 2, size: 2 },
  'hdr.cpu': { offset: 4, size: 2 },
  'hdr.exec_seq': { offset: 6, size: 2 },
  'hdr.ktime': { offset: 8, size: 8 },
} as const;

/** KITE_EXEC_SEQ_KNOWN (bpf/lib/common.h): set in `hdr.exec_seq` when the record has an acting task. */
export const EXEC_SEQ_KNOWN = 0x8000;

/**
 * Adds `kite.process.exec_seq` (the acting task's exec generation, 15 bits, bumped by every exec) to a
 * record when the kernel stamped one. The enrich processor uses it to hold a record that follows an
 * exec until the exec record, which travels in another ring buffer, has been seen.
 */
export function addExecSeq(rec: Record<string, unknown>, raw: number): void {
  if (raw & EXEC_SEQ_KNOWN) rec['kite.process.exec_seq'] = raw & 0x7fff;
}

/**
 * Byte offsets of the acting task, the two members right after `hdr` in the process events
 * (struct exec_event, file_event, connect_event, security_event): pid (thread id), tgid (process id).
 * Spread into those receivers' layout tables; the layout tests check them against each object's BTF.
 */
export const KITE_TASK_FIELDS = {
  pid: { offset: 16, size: 4 },
  tgid: { offset: 20, size: 4 },
} as const;
