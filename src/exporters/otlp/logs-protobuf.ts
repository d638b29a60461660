/**
 * An OTLP ExportLogsServiceRequest in protobuf, written straight from Kite records: one resource,
 * one scope, one log record per record, with the fields and the order of the OpenTelemetry JS
 * SDK's serializer (@opentelemetry/otlp-transformer's ProtobufLogsSerializer) for the log record
 * that OtlpSender.toLogRecord() would build, so the bytes are the same
 * (test/unit/otlp-logs-protobuf.test.ts compares them).
 *
 * What it saves per record: the intermediate LogRecord and attributes objects, the SDK's grouping
 * by resource and scope, and its size-estimating first pass. The resource and scope are encoded
 * once; attribute keys, which repeat in every record, are encoded once each (bounded cache).
 *
 * Protobuf reference (opentelemetry-proto, logs/v1 and common/v1):
 *   ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
 *   ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
 *   Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
 *   ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
 *   InstrumentationScope { string name = 1; string version = 2; }
 *   LogRecord { fixed64 time_unix_nano = 1; SeverityNumber severity_number = 2; string severity_text = 3;
 *     AnyValue body = 5; repeated KeyValue attributes = 6; uint32 dropped_attributes_count = 7;
 *     fixed64 observed_time_unix_nano = 11; string event_name = 12; }
 *   KeyValue { string key = 1; AnyValue value = 2; }
 *   AnyValue { oneof { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
 *     double double_value = 4; ArrayValue array_value = 5; } }   ArrayValue { repeated AnyValue values = 1; }
 */
import { AttrValue, KiteRecord } from '../../component/component';
import { recordTimeHr } from '../schemas/event-kind';
import { bodyOf, severityOf } from '../schemas/otel';

const KEY_CACHE_MAX = 4096;

/** A growable output buffer with protobuf writers. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint below 2^32. */
  varint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  /** An int64 varint of an integral number (negative: ten bytes, two's complement). */
  int64(value: number): void {
    if (value >= 0 && value <= 0xffffffff) return this.varint32(value);
    let low: number;
    let high: number;
    const abs = Math.abs(value);
    low = abs >>> 0;
    high = Math.floor(abs / 0x100000000) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const buf = this.buf;
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A length-delimited UTF-8 string (without its tag). */
  string(s: string): void {
    const n = s.length;
    // at most 3 bytes per UTF-16 unit
    this.ensure(5 + 3 * n);
    const buf = this.buf;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii && n < 0x80) {
      buf[this.pos++] = n;
      for (let i = 0; i < n; i++) buf[this.pos++] = s.charCodeAt(i);
      return;
    }
    const len = ascii ? n : Buffer.byteLength(s, 'utf8');
    this.varint32(len);
    this.pos += buf.write(s, this.pos, len, ascii ? 'latin1' : 'utf8');
  }

  bytes(b: Buffer): void {
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    // short (attribute keys): a loop costs less than a native copy's call
    if (n <= 64) for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** Reserves one byte for a length; finish() writes it, moving the body if it needs more. */
  start(): number {
    this.ensure(1);
    return this.pos++;
  }

  finish(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    let size = 1;
    for (let v = len; v > 0x7f; v >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

/** [seconds, nanos] as the low and high halves of nanoseconds since the epoch (the SDK's arithmetic). */
function fixed64Nanos(w: Writer, [seconds, nanos]: [number, number]): void {
  const lo16 = seconds & 0xffff;
  const hiBits = (seconds / 0x10000) >>> 0;
  const fromLo = lo16 * 1e9;
  const fromHi = hiBits * 1e9;
  const lowWithCarry = (fromLo >>> 0) + (((fromHi & 0xffff) * 0x10000) >>> 0) + nanos;
  const high = (Math.floor(fromLo / 0x100000000) + ((fromHi / 0x10000) >>> 0) + Math.floor(lowWithCarry / 0x100000000)) >>> 0;
  w.fixed64(lowWithCarry >>> 0, high);
}

function anyValue(w: Writer, v: AttrValue | string | number): void {
  if (typeof v === 'string') {
    w.byte(0x0a); // string_value = 1
    w.string(v);
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
      w.byte(0x18); // int_value = 3
      w.int64(v);
    } else {
      w.byte(0x21); // double_value = 4
      w.double(v);
    }
  } else if (typeof v === 'boolean') {
    w.byte(0x10); // bool_value = 2
    w.byte(v ? 1 : 0);
  } else if (Array.isArray(v)) {
    w.byte(0x2a); // array_value = 5
    const a = w.start();
    for (const item of v as (string | number)[]) {
      w.byte(0x0a); // values = 1
      const i = w.start();
      anyValue(w, item);
      w.finish(i);
    }
    w.finish(a);
  }
}

export class OtlpLogsEncoder {
  /** ResourceLogs.resource and ScopeLogs.scope, with their tags, encoded once. */
  private readonly resourceBytes: Buffer;
  private readonly scopeBytes: Buffer;
  /** Per log record attribute key: `0a <len> key 12`, the KeyValue's key and the tag of its value. */
  private readonly keys = new Map<string, Buffer>();
  private sizeHint = 64 << 10;

  constructor(resource: Record<string, AttrValue>, scope: { name: string; version: string }) {
    const w = new Writer(1024);
    w.byte(0x0a); // ResourceLogs.resource = 1
    const r = w.start();
    for (const k in resource) {
      const v = resource[k];
      if (v === undefined) continue;
      this.attribute(w, 0x0a, k, v); // Resource.attributes = 1
    }
    w.byte(0x10); // dropped_attributes_count = 2
    w.byte(0);
    w.finish(r);
    this.resourceBytes = Buffer.from(w.buf.subarray(0, w.pos));
    const s = new Writer(256);
    s.byte(0x0a); // ScopeLogs.scope = 1
    const sc = s.start();
    s.byte(0x0a);
    s.string(scope.name);
    if (scope.version) {
      s.byte(0x12);
      s.string(scope.version);
    }
    s.finish(sc);
    this.scopeBytes = Buffer.from(s.buf.subarray(0, s.pos));
  }

  /** One attribute: its tag, the KeyValue's length, the key (cached) and the value. */
  private attribute(w: Writer, tag: number, key: string, value: AttrValue): void {
    w.byte(tag);
    const kv = w.start();
    let k = tag === 0x32 ? this.keys.get(key) : undefined;
    if (!k) {
      const kw = new Writer(key.length * 3 + 8);
      kw.byte(0x0a); // KeyValue.key = 1
      kw.string(key);
      kw.byte(0x12); // KeyValue.value = 2
      k = Buffer.from(kw.buf.subarray(0, kw.pos));
      if (tag === 0x32 && this.keys.size < KEY_CACHE_MAX) this.keys.set(key, k);
    }
    w.bytes(k);
    const v = w.start();
    anyValue(w, value);
    w.finish(v);
    w.finish(kv);
  }

  private logRecord(w: Writer, r: KiteRecord): void {
    w.byte(0x12); // ScopeLogs.log_records = 2
    const at = w.start();
    const t = recordTimeHr(r);
    const sev = severityOf(r);
    w.byte(0x09); // time_unix_nano = 1, fixed64
    fixed64Nanos(w, t);
    if (sev.number) {
      w.byte(0x10); // severity_number = 2
      w.varint32(sev.number);
    }
    if (sev.text) {
      w.byte(0x1a); // severity_text = 3
      w.string(sev.text);
    }
    w.byte(0x2a); // body = 5
    const b = w.start();
    w.byte(0x0a);
    w.string(bodyOf(r));
    w.finish(b);
    for (const k in r) {
      if (k === 'time' || k === 'event.name') continue;
      const v = r[k];
      if (v === undefined) continue;
      this.attribute(w, 0x32, k, v); // attributes = 6
    }
    w.byte(0x38); // dropped_attributes_count = 7
    w.byte(0);
    w.byte(0x59); // observed_time_unix_nano = 11, fixed64
    fixed64Nanos(w, t);
    const name = r['event.name'];
    if (name) {
      w.byte(0x62); // event_name = 12
      w.string(name);
    }
    w.finish(at);
  }

  /** The request's bytes; an empty batch is an empty request. */
  encode(records: readonly KiteRecord[]): Uint8Array {
    if (!records.length) return new Uint8Array(0);
    const w = new Writer(this.sizeHint);
    w.byte(0x0a); // ExportLogsServiceRequest.resource_logs = 1
    const rl = w.start();
    w.bytes(this.resourceBytes);
    w.byte(0x12); // ResourceLogs.scope_logs = 2
    const sl = w.start();
    w.bytes(this.scopeBytes);
    for (const r of records) this.logRecord(w, r);
    w.finish(sl);
    w.finish(rl);
    // the next request of this size fits without growing
    this.sizeHint = Math.max(this.sizeHint, w.pos + (w.pos >> 3));
    return w.buf.subarray(0, w.pos);
  }
}
