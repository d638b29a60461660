/**
 * A faster encoder of one Kafka record (the v2 message format's Record, KIP-98) for kafkajs 2.x.
 *
 * kafkajs encodes each record through its general-purpose Encoder: a zero-filled 512-byte buffer for
 * the record and one more for each header, grown and copied when a value is larger, and Long
 * arithmetic for the timestamp delta. With three headers that is most of the agent's CPU per event
 * sent to Kafka. This encoder computes the record's exact size and writes it into one buffer; the
 * bytes are the same (test/unit/kafka-record-encoder.test.ts compares them with kafkajs's own
 * encoder, and the broker checks the batch CRC over them).
 *
 * encodeRecordBatch() does the same for the uncompressed record batch around them: one buffer of
 * its exact size, the records copied once, instead of three growing Encoders.
 *
 * installRecordEncoder() puts them in the place of kafkajs's `protocol/recordBatch/record/v0` module
 * and of `RecordBatch` in `protocol/recordBatch/v0`, which only the produce request
 * (`requests/produce/v3/request.js`, loaded at the first produce) reads. Records it does not handle (array header values, a timestamp delta beyond ±2^30 ms, keys or
 * values that are neither strings nor Buffers) go to kafkajs's own encoder.
 */
import { kafkajsModules } from './kafkajs-modules';

export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}

export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

type RecordFn = (args: RecordArgs) => KafkajsEncoder;

/** Timestamp and offset deltas this encoder writes; beyond them kafkajs's own encoder runs. */
export const LIMIT = 1 << 30;

/** Unsigned zigzag varint of an int32; -1 -> 1. */
export const zigzag = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

export function varintSize(u: number): number {
  let n = 1;
  while (u > 0x7f) {
    u >>>= 7;
    n++;
  }
  return n;
}

export function writeVarint(buf: Buffer, off: number, u: number): number {
  while (u > 0x7f) {
    buf[off++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[off++] = u;
  return off;
}

export const isBytes = (v: unknown): v is string | Buffer | null | undefined => v == null || typeof v === 'string' || Buffer.isBuffer(v);
export const byteLength = (v: string | Buffer | null | undefined): number => (v == null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);

export function writeBytes(buf: Buffer, off: number, v: string | Buffer | null | undefined, len: number): number {
  off = writeVarint(buf, off, zigzag(len));
  if (v == null) return off;
  if (typeof v === 'string') {
    // a short ASCII string (its UTF-8 length is its length only then): a loop costs less than a native write's call
    if (len === v.length && len <= 32) for (let i = 0; i < len; i++) buf[off + i] = v.charCodeAt(i);
    else buf.write(v, off, len, 'utf8');
  } else buf.set(v, off);
  return off + len;
}

/**
 * Builds the encoder for one record, or null when the record needs kafkajs's general encoder.
 * `proto` is kafkajs's Encoder.prototype, so the result is an Encoder to kafkajs.
 */
export function encodeRecord(proto: object, args: RecordArgs): KafkajsEncoder | null {
  const offsetDelta = args.offsetDelta ?? 0;
  const timestampDelta = args.timestampDelta ?? 0;
  const { key, value } = args;
  if (!Number.isInteger(offsetDelta) || offsetDelta < 0 || offsetDelta >= LIMIT) return null;
  if (!Number.isInteger(timestampDelta) || timestampDelta <= -LIMIT || timestampDelta >= LIMIT) return null;
  if (!isBytes(key) || !isBytes(value)) return null;
  const headers = args.headers ?? {};
  const hkeys = Object.keys(headers);
  const hlens: number[] = [];
  const keyLen = byteLength(key);
  const valueLen = byteLength(value);
  const ts = zigzag(timestampDelta);
  const od = zigzag(offsetDelta);
  let body = 1 + varintSize(ts) + varintSize(od) + varintSize(zigzag(keyLen)) + Math.max(keyLen, 0) + varintSize(zigzag(valueLen)) + Math.max(valueLen, 0);
  body += varintSize(zigzag(hkeys.length));
  for (const k of hkeys) {
    const v = headers[k];
    if (!(typeof v === 'string' || Buffer.isBuffer(v))) return null;
    const kl = Buffer.byteLength(k, 'utf8');
    const vl = byteLength(v);
    hlens.push(kl, vl);
    body += varintSize(zigzag(kl)) + kl + varintSize(zigzag(vl)) + vl;
  }
  const size = varintSize(zigzag(body)) + body;
  const buf = Buffer.allocUnsafe(size);
  let off = writeVarint(buf, 0, zigzag(body));
  buf[off++] = 0; // attributes: none are used in a record
  off = writeVarint(buf, off, ts);
  off = writeVarint(buf, off, od);
  off = writeBytes(buf, off, key, keyLen);
  off = writeBytes(buf, off, value, valueLen);
  off = writeVarint(buf, off, zigzag(hkeys.length));
  for (let i = 0; i < hkeys.length; i++) {
    const k = hkeys[i]!;
    off = writeBytes(buf, off, k, hlens[2 * i]!);
    off = writeBytes(buf, off, headers[k] as string | Buffer, hlens[2 * i + 1]!);
  }
  const enc = Object.create(proto) as KafkajsEncoder;
  enc.buf = buf;
  enc.offset = off;
  return enc;
}

export interface LongLike {
  getHighBits(): number;
  getLowBits(): number;
}

export interface RecordBatchArgs {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  maxTimestamp?: unknown;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: KafkajsEncoder[];
}

/** kafkajs's helpers a record batch is written with: its Long, its Encoder and the batch CRC. */
export interface BatchDeps {
  proto: object;
  fromValue: (v: unknown) => LongLike;
  crc32c: (b: Buffer) => number;
}

/**
 * Writes the v2 RecordBatch's header at `at`, for `count` records of `recordBytes` in all that
 * follow it; returns where the records go. The CRC is written by writeBatchCrc() once they are in.
 */
export function writeBatchHeader(deps: BatchDeps, buf: Buffer, at: number, args: RecordBatchArgs, recordBytes: number, count: number, now: number): number {
  // attributes(2) lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) firstSequence(4) count(4)
  const bodyLen = 40 + recordBytes;
  // partitionLeaderEpoch(4) magic(1) crc(4)
  const batchLen = 9 + bodyLen;
  const int64 = (v: unknown, to: number): void => {
    const l = deps.fromValue(v);
    buf.writeInt32BE(l.getHighBits(), to);
    buf.writeInt32BE(l.getLowBits(), to + 4);
  };
  // firstOffset(8) then the batch as bytes: int32 length
  int64(args.firstOffset ?? 0, at);
  buf.writeInt32BE(batchLen, at + 8);
  buf.writeInt32BE(args.partitionLeaderEpoch ?? 0, at + 12);
  buf.writeInt8(2, at + 16); // magic
  const body = at + 21;
  buf.writeInt16BE(args.transactional ? 16 : 0, body); // attributes: no compression, create time, transactional bit
  buf.writeInt32BE(args.lastOffsetDelta ?? 0, body + 2);
  int64(args.firstTimestamp ?? now, body + 6);
  int64(args.maxTimestamp ?? now, body + 14);
  int64(args.producerId ?? -1, body + 22);
  buf.writeInt16BE(args.producerEpoch ?? 0, body + 30);
  buf.writeInt32BE(args.firstSequence ?? 0, body + 32);
  buf.writeInt32BE(count, body + 36);
  return body + 40;
}

/** The CRC-32C of the batch written at `at` (its attributes up to `end`), into its crc field. */
export function writeBatchCrc(deps: BatchDeps, buf: Buffer, at: number, end: number): void {
  buf.writeUInt32BE(deps.crc32c(buf.subarray(at + 21, end)), at + 17);
}

/** Bytes of a v2 RecordBatch holding `recordBytes` of records, with its offset and length before it. */
export const BATCH_OVERHEAD = 61;

/**
 * The v2 RecordBatch (KIP-98) of already encoded records, uncompressed, written into one buffer of
 * its exact size: kafkajs writes it through three Encoders that each grow (zero-filled, copied) and
 * copies the records twice on the way. Same bytes (test/unit/kafka-record-encoder.test.ts). Returns
 * null for a compressed batch, which kafkajs's own RecordBatch handles.
 */
export function encodeRecordBatch(deps: BatchDeps, args: RecordBatchArgs): KafkajsEncoder | null {
  if ((args.compression ?? 0) !== 0) return null;
  const records = args.records ?? [];
  let recordBytes = 0;
  for (const r of records) {
    if (!r || !Buffer.isBuffer(r.buf)) return null;
    recordBytes += r.offset;
  }
  const now = Date.now();
  const size = BATCH_OVERHEAD + recordBytes;
  const buf = Buffer.allocUnsafe(size);
  let off = writeBatchHeader(deps, buf, 0, args, recordBytes, records.length, now);
  for (const r of records) off += r.buf.copy(buf, off, 0, r.offset);
  writeBatchCrc(deps, buf, 0, off);
  const enc = Object.create(deps.proto) as KafkajsEncoder;
  enc.buf = buf;
  enc.offset = off;
  return enc;
}

/** A message of a produce request, as kafkajs's producer hands it over. */
export interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  timestamp?: unknown;
  headers?: Record<string, unknown>;
}

/** The arguments of kafkajs's produce request (v3 to v7 write the same body). */
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; messages: ProduceMessage[]; firstSequence?: number }[] }[];
}

/**
 * Bytes left free in front of an encoded produce request, where the request framing (size, api key
 * and version, correlation id, client id) is written without copying the request
 * (frameRequest() in kafkajs-patches.ts). A client id longer than HEADROOM - 14 bytes is copied.
 */
export const HEADROOM = 128;
/** On an encoded produce request: the buffer it lies in, HEADROOM bytes after its start. */
export const WHOLE = Symbol('kite.kafka.whole');

export interface HeadroomEncoder extends KafkajsEncoder {
  [WHOLE]?: Buffer;
}

const NO_HEADERS = Buffer.from([0]);

/** A record's headers as written (count, then key and value of each), or null when kafkajs must write them. */
function encodeHeaders(headers: Record<string, unknown> | undefined): Buffer | null {
  if (!headers) return NO_HEADERS;
  const keys = Object.keys(headers);
  let size = varintSize(zigzag(keys.length));
  for (const k of keys) {
    const v = headers[k];
    if (!(typeof v === 'string' || Buffer.isBuffer(v))) return null;
    const kl = Buffer.byteLength(k, 'utf8');
    const vl = byteLength(v);
    size += varintSize(zigzag(kl)) + kl + varintSize(zigzag(vl)) + vl;
  }
  const buf = Buffer.allocUnsafe(size);
  let off = writeVarint(buf, 0, zigzag(keys.length));
  for (const k of keys) {
    off = writeBytes(buf, off, k, Buffer.byteLength(k, 'utf8'));
    const v = headers[k] as string | Buffer;
    off = writeBytes(buf, off, v, byteLength(v));
  }
  return buf;
}

/** What is measured of a partition's records before they are written. */
interface PartitionPlan {
  first: unknown;
  max: unknown;
  recordBytes: number;
  /** Per record: zigzag timestamp delta, key length, value length, body length. */
  sizes: Int32Array;
  headers: Buffer[];
}

function planPartition(messages: ProduceMessage[], now: number, headerCache: Map<object, Buffer | null>): PartitionPlan | null {
  // kafkajs: messages.map(m => m.timestamp).filter(t => t != null).sort(), the first and the last:
  // the default sort compares them as strings and keeps equal ones in order
  let first: unknown;
  let max: unknown;
  let any = false;
  // milliseconds since the epoch as 13-digit integers (2001 to 2286; the exporter's): as numbers they
  // sort as their strings do, so the smallest and the largest are read without a string each
  let lo = Infinity;
  let hi = -Infinity;
  let numeric = true;
  for (const m of messages) {
    const t = m.timestamp;
    if (t === null || t === undefined) continue;
    any = true;
    if (typeof t !== 'number' || !(t >= 1e12 && t < 1e13) || Math.floor(t) !== t) {
      numeric = false;
      break;
    }
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if (any && numeric) {
    first = lo;
    max = hi;
  } else if (any) {
    let firstS = '';
    let maxS = '';
    let seen = false;
    for (const m of messages) {
      const t = m.timestamp;
      if (t === null || t === undefined) continue;
      const s = typeof t === 'string' ? t : String(t);
      if (!seen) {
        first = max = t;
        firstS = maxS = s;
        seen = true;
        continue;
      }
      if (s < firstS) {
        first = t;
        firstS = s;
      }
      if (s >= maxS) {
        max = t;
        maxS = s;
      }
    }
  }
  if (!any) first = max = now;
  const n = messages.length;
  if (n >= LIMIT) return null;
  const sizes = new Int32Array(4 * n);
  const headers: Buffer[] = new Array(n);
  let recordBytes = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    const delta = ((m.timestamp || now) as number) - (first as number);
    if (!Number.isInteger(delta) || delta <= -LIMIT || delta >= LIMIT) return null;
    const { key, value } = m;
    if (!isBytes(key) || !isBytes(value)) return null;
    let h: Buffer | null | undefined = m.headers ? headerCache.get(m.headers) : NO_HEADERS;
    if (h === undefined) headerCache.set(m.headers!, (h = encodeHeaders(m.headers)));
    if (h === null) return null;
    const keyLen = byteLength(key);
    const valueLen = byteLength(value);
    const ts = zigzag(delta);
    const body = 1 + varintSize(ts) + varintSize(zigzag(i)) + varintSize(zigzag(keyLen)) + Math.max(keyLen, 0) + varintSize(zigzag(valueLen)) + Math.max(valueLen, 0) + h.length;
    sizes[4 * i] = ts;
    sizes[4 * i + 1] = keyLen;
    sizes[4 * i + 2] = valueLen;
    sizes[4 * i + 3] = body;
    headers[i] = h;
    recordBytes += varintSize(zigzag(body)) + body;
  }
  return { first, max, recordBytes, sizes, headers };
}

/**
 * The body of kafkajs's produce request (versions 3 to 7: transactional id, acks, timeout, then per
 * topic and partition one v2 record batch), uncompressed, written into one buffer of its exact size
 * with HEADROOM bytes free in front: each record straight into its batch, no buffer per record or
 * per batch, and no Encoder grown and copied per partition, per topic and for the request. The same
 * bytes as kafkajs's `requests/produce/v3/request.js` with its Record and RecordBatch
 * (test/unit/kafka-produce-request.test.ts). Returns null for what kafkajs must write itself: a
 * compressed request, and the records encodeRecord() hands back.
 */
export function encodeProduceRequest(deps: BatchDeps, args: ProduceArgs): HeadroomEncoder | null {
  if ((args.compression ?? 0) !== 0) return null;
  // kafkajs's defaults: transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0
  const transactionalId = args.transactionalId === undefined ? null : args.transactionalId;
  const producerId = args.producerId === undefined ? -1 : args.producerId;
  const producerEpoch = args.producerEpoch === undefined ? 0 : args.producerEpoch;
  if (transactionalId !== null && typeof transactionalId !== 'string') return null;
  const txLen = transactionalId === null ? 0 : Buffer.byteLength(transactionalId, 'utf8');
  const headerCache = new Map<object, Buffer | null>();
  const plans: PartitionPlan[] = [];
  // kafkajs takes Date.now() once per partition; one reading serves them all here
  const now = Date.now();
  let size = 2 + txLen + 2 + 4 + 4;
  for (const t of args.topicData) {
    if (typeof t.topic !== 'string') return null;
    size += 2 + Buffer.byteLength(t.topic, 'utf8') + 4;
    for (const p of t.partitions) {
      const plan = planPartition(p.messages, now, headerCache);
      if (!plan) return null;
      plans.push(plan);
      size += 8 + BATCH_OVERHEAD + plan.recordBytes;
    }
  }
  const whole = Buffer.allocUnsafe(HEADROOM + size);
  const buf = whole.subarray(HEADROOM);
  let off = 0;
  if (transactionalId === null) {
    buf.writeInt16BE(-1, off);
    off += 2;
  } else {
    buf.writeInt16BE(txLen, off);
    buf.write(transactionalId, off + 2, txLen, 'utf8');
    off += 2 + txLen;
  }
  buf.writeInt16BE(args.acks, off);
  buf.writeInt32BE(args.timeout, off + 2);
  buf.writeInt32BE(args.topicData.length, off + 6);
  off += 10;
  let pi = 0;
  for (const t of args.topicData) {
    const tl = Buffer.byteLength(t.topic, 'utf8');
    buf.writeInt16BE(tl, off);
    buf.write(t.topic, off + 2, tl, 'utf8');
    buf.writeInt32BE(t.partitions.length, off + 2 + tl);
    off += 6 + tl;
    for (const p of t.partitions) {
      const plan = plans[pi++]!;
      const messages = p.messages;
      buf.writeInt32BE(p.partition, off);
      buf.writeInt32BE(BATCH_OVERHEAD + plan.recordBytes, off + 4);
      off += 8;
      const at = off;
      const batchArgs: RecordBatchArgs = {
        firstTimestamp: plan.first,
        maxTimestamp: plan.max,
        producerId,
        producerEpoch,
        firstSequence: p.firstSequence,
        transactional: !!transactionalId,
        lastOffsetDelta: messages.length - 1,
      };
      off = writeBatchHeader(deps, buf, at, batchArgs, plan.recordBytes, messages.length, now);
      const sizes = plan.sizes;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        off = writeVarint(buf, off, zigzag(sizes[4 * i + 3]!));
        buf[off++] = 0; // attributes: none are used in a record
        off = writeVarint(buf, off, sizes[4 * i]!);
        off = writeVarint(buf, off, zigzag(i));
        off = writeBytes(buf, off, m.key as string | Buffer | null | undefined, sizes[4 * i + 1]!);
        off = writeBytes(buf, off, m.value as string | Buffer | null | undefined, sizes[4 * i + 2]!);
        const h = plan.headers[i]!;
        for (let j = 0; j < h.length; j++) buf[off + j] = h[j]!;
        off += h.length;
      }
      writeBatchCrc(deps, buf, at, off);
    }
  }
  if (off !== size) throw new Error(`produce request: wrote ${off} bytes of ${size}`);
  const enc = Object.create(deps.proto) as HeadroomEncoder;
  enc.buf = buf;
  enc.offset = off;
  enc[WHOLE] = whole;
  return enc;
}

let installed: boolean | null = null;

type ProduceRequestFn = (args: ProduceArgs) => { encode: () => Promise<KafkajsEncoder> };

/**
 * Puts encodeProduceRequest() in the place of kafkajs's produce request body (v3, which v4 to v7
 * reuse), and encodeRecord() and encodeRecordBatch() in the place of its Record and RecordBatch,
 * which kafkajs's own request, still there for what the fast one hands back (compression), reads.
 * Returns false when it cannot: the produce request module was already loaded with the originals,
 * or kafkajs's layout differs from 2.x. Idempotent.
 */
export function installRecordEncoder(): boolean {
  if (installed !== null) return installed;
  installed = false;
  try {
    const kafkajs = kafkajsModules();
    const { req } = kafkajs;
    const producePath = './src/protocol/requests/produce/v3/request';
    if (kafkajs.loaded(producePath)) return false;
    const recordPath = './src/protocol/recordBatch/record/v0';
    const original = req(recordPath) as RecordFn;
    const Encoder = req('./src/protocol/encoder') as { prototype: object };
    kafkajs.replace(recordPath, ((args) => encodeRecord(Encoder.prototype, args) ?? original(args)) as RecordFn);
    const batchModule = req('./src/protocol/recordBatch/v0') as { RecordBatch: (a: RecordBatchArgs) => Promise<KafkajsEncoder> };
    const KafkaLong = req('./src/utils/long') as { fromValue(v: unknown): LongLike };
    const deps: BatchDeps = {
      proto: Encoder.prototype,
      fromValue: (v) => KafkaLong.fromValue(v),
      crc32c: req('./src/protocol/recordBatch/crc32C') as (b: Buffer) => number,
    };
    const originalBatch = batchModule.RecordBatch;
    batchModule.RecordBatch = async (args) => encodeRecordBatch(deps, args) ?? originalBatch(args);
    // loaded after the two above, so that kafkajs's own request (the fallback) writes with them
    const originalProduce = req(producePath) as ProduceRequestFn;
    const produce: ProduceRequestFn = (args) => {
      const request = originalProduce(args);
      const encode = request.encode;
      request.encode = async () => encodeProduceRequest(deps, args) ?? encode();
      return request;
    };
    kafkajs.replace(producePath, produce);
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}
