/**
 * Reads shared by the ring-record decoders (<type>/wire.ts): the common header (struct
 * kite_event_header, bpf/lib/common.h) with the acting task after it (KITE_TASK_FIELDS in
 * ./wire-header), and bounded C strings. Never throws: a record that cannot be read gives the reason
 * as a string, which the receiver counts.
 */
import { KITE_EVENT_HEADER_FIELDS as H, KITE_TASK_FIELDS as T } from './wire-header';

/** The common header as the decoders return it. */
export interface WireHeader {
  op: number;
  /** hdr.size: the record's length, its variable tail included. */
  size: number;
  cpu: number;
  /** hdr.exec_seq, raw (see addExecSeq in ./wire-header). */
  execSeq: number;
  /** CLOCK_BOOTTIME ns as two u32 halves (exact without BigInt). */
  ktimeHi: number;
  ktimeLo: number;
}

/** The acting task of a process event. */
export interface WireTask {
  /** Thread id. */
  pid: number;
  /** Process id. */
  tgid: number;
}

/** What a decoder accepts of a record's start. */
export interface RecordShape {
  /** sizeof the struct: a shorter record is `short_record`. */
  size: number;
  /** The op codes of the receiver's part of enum kite_op: another is `unknown_op`. */
  ops: ReadonlySet<number>;
  /** True when a variable tail follows the struct (size <= hdr.size <= length), false when hdr.size is the struct's size. */
  tail: boolean;
}

/**
 * The header and acting task of the record at `off` (`len` bytes), or why it is refused:
 * `short_record`, `unknown_op` or `bad_size` (hdr.size against the shape and the length).
 */
export function readEventStart(buf: Buffer, off: number, len: number, shape: RecordShape): (WireHeader & WireTask) | string {
  if (len < shape.size) return 'short_record';
  const op = buf.readUInt16LE(off + H['hdr.op'].offset);
  if (!shape.ops.has(op)) return 'unknown_op';
  const size = buf.readUInt16LE(off + H['hdr.size'].offset);
  if (shape.tail ? size > len || size < shape.size : size !== shape.size) return 'bad_size';
  return {
    op,
    size,
    cpu: buf.readUInt16LE(off + H['hdr.cpu'].offset),
    execSeq: buf.readUInt16LE(off + H['hdr.exec_seq'].offset),
    ktimeLo: buf.readUInt32LE(off + H['hdr.ktime'].offset),
    ktimeHi: buf.readUInt32LE(off + H['hdr.ktime'].offset + 4),
    pid: buf.readUInt32LE(off + T.pid.offset),
    tgid: buf.readUInt32LE(off + T.tgid.offset),
  };
}

/** The NUL-terminated string at `start`, at most `max` bytes (cut there when it has no NUL). */
export function readCString(buf: Buffer, start: number, max: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + max ? start + max : end);
}
