/**
 * Byte offsets of `struct kite_event_header` (bpf/lib/common.h), the first member `hdr` of every
 * ring record. Each receiver's layout table spreads these in; the layout tests check them against
 * each object's BTF.
 */
export const KITE_EVENT_HEADER_FIELDS = {
  'hdr.op': { offset: 0, size: 2 },
  'hdr.size': { offset: 2, size: 2 },
  'hdr.cpu': { offset: 4, size: 4 },
  'hdr.ktime': { offset: 8, size: 8 },
} as const;
