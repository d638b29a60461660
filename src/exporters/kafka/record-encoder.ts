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
 * installRecordEncoder() puts it in the place of kafkajs's `protocol/recordBatch/record/v0` module,
 * which only the produce request (`requests/produce/v3/request.js`, loaded at the first produce)
 * reads. Records it does not handle (array header values, a timestamp delta beyond ±2^30 ms, keys or
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
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}
