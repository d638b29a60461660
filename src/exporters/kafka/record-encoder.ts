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
import Module from 'node:module';

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}

interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

type RecordFn = (args: RecordArgs) => KafkajsEncoder;

const LIMIT = 1 << 30;

/** Unsigned zigzag varint of an int32; -1 -> 1. */
const zigzag = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

function varintSize(u: number): number {
  let n = 1;
  while (u > 0x7f) {
    u >>>= 7;
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, off: number, u: number): number {
  while (u > 0x7f) {
    buf[off++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[off++] = u;
  return off;
}

const isBytes = (v: unknown): v is string | Buffer | null | undefined => v == null || typeof v === 'string' || Buffer.isBuffer(v);
const byteLength = (v: string | Buffer | null | undefined): number => (v == null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);

function writeBytes(buf: Buffer, off: number, v: string | Buffer | null | undefined, len: number): number {
  off = writeVarint(buf, off, zigzag(len));
  if (v == null) return off;
  if (typeof v === 'string') buf.write(v, off, len, 'utf8');
  else v.copy(buf, off);
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

interface LongLike {
  getHighBits(): number;
  getLowBits(): number;
}

interface RecordBatchArgs {
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
  // attributes(2) lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) firstSequence(4) count(4)
  const bodyLen = 40 + recordBytes;
  // partitionLeaderEpoch(4) magic(1) crc(4)
  const batchLen = 9 + bodyLen;
  // firstOffset(8) then the batch as bytes: int32 length
  const size = 12 + batchLen;
  const buf = Buffer.allocUnsafe(size);
  const int64 = (v: unknown, at: number): void => {
    const l = deps.fromValue(v);
    buf.writeInt32BE(l.getHighBits(), at);
    buf.writeInt32BE(l.getLowBits(), at + 4);
  };
  int64(args.firstOffset ?? 0, 0);
  buf.writeInt32BE(batchLen, 8);
  buf.writeInt32BE(args.partitionLeaderEpoch ?? 0, 12);
  buf.writeInt8(2, 16); // magic
  const body = 21;
  buf.writeInt16BE(args.transactional ? 16 : 0, body); // attributes: no compression, create time, transactional bit
  buf.writeInt32BE(args.lastOffsetDelta ?? 0, body + 2);
  int64(args.firstTimestamp ?? now, body + 6);
  int64(args.maxTimestamp ?? now, body + 14);
  int64(args.producerId ?? -1, body + 22);
  buf.writeInt16BE(args.producerEpoch ?? 0, body + 30);
  buf.writeInt32BE(args.firstSequence ?? 0, body + 32);
  buf.writeInt32BE(records.length, body + 36);
  let off = body + 40;
  for (const r of records) off += r.buf.copy(buf, off, 0, r.offset);
  buf.writeUInt32BE(deps.crc32c(buf.subarray(body, off)), 17);
  const enc = Object.create(deps.proto) as KafkajsEncoder;
  enc.buf = buf;
  enc.offset = off;
  return enc;
}

let installed: boolean | null = null;

/**
 * Replaces kafkajs's record encoder with encodeRecord (falling back to the original). Returns false
 * when it cannot: the produce request module was already loaded with the original, or kafkajs's
 * layout differs from 2.x. Idempotent.
 */
export function installRecordEncoder(): boolean {
  if (installed !== null) return installed;
  installed = false;
  try {
    const req = Module.createRequire(require.resolve('kafkajs'));
    const recordPath = req.resolve('./src/protocol/recordBatch/record/v0');
    const producePath = req.resolve('./src/protocol/requests/produce/v3/request');
    if (require.cache[producePath]) return false;
    const original = req(recordPath) as RecordFn;
    const Encoder = req('./src/protocol/encoder') as { prototype: object };
    const fast: RecordFn = (args) => encodeRecord(Encoder.prototype, args) ?? original(args);
    require.cache[recordPath]!.exports = fast;
    const batchPath = req.resolve('./src/protocol/recordBatch/v0');
    const batchModule = req(batchPath) as { RecordBatch: (a: RecordBatchArgs) => Promise<KafkajsEncoder> };
    const KafkaLong = req('./src/utils/long') as { fromValue(v: unknown): LongLike };
    const deps: BatchDeps = {
      proto: Encoder.prototype,
      fromValue: (v) => KafkaLong.fromValue(v),
      crc32c: req('./src/protocol/recordBatch/crc32C') as (b: Buffer) => number,
    };
    const originalBatch = batchModule.RecordBatch;
    batchModule.RecordBatch = async (args) => encodeRecordBatch(deps, args) ?? originalBatch(args);
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}
