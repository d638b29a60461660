/**
 * Four of kafkajs 2.x's per-message and per-request costs, replaced by equivalents that give the
 * same result, and one idle cost:
 *
 * - `producer/groupMessagesPerPartition`: groups a request's messages by partition with
 *   `[...current, message]`, copying a partition's list for every message, which is quadratic in
 *   the messages per partition of one request (a batch of 5000 records to one partition copies
 *   12.5 million array slots). groupMessagesPerPartition() below appends, in the same order, to
 *   the same `{ [partition]: messages[] }` shape.
 * - `protocol/recordBatch/crc32C`: the record batch's CRC-32C, one table lookup per byte.
 *   crc32c() below reads sixteen bytes per step ("slicing-by-16", Intel's slicing method), the
 *   same checksum.
 *
 * - `protocol/request`: the framing of every request, which copies the request body into an
 *   Encoder that grows (zero-filled, copied) and that one into another: createRequestFramer().
 *
 * - the default partitioner's murmur2 of the key, computed with 64-bit Long objects for every
 *   message: createCachedPartitioner() remembers it per key (a producer option, no patch).
 *
 * - `network/requestQueue`'s scheduleCheckPendingRequests: once a connection's first response
 *   arrives, it re-arms a timer of `throttledUntil - now` ms, negative while no throttle is in force,
 *   so every connection checks its (empty) queue of pending requests every millisecond for as long as
 *   it lives (kafkajs issues #1556, #1604, #1704): about a thousand wake-ups a second of an idle agent.
 *   patchRequestQueue() skips the timer when nothing is pending and no throttle is in force; a request
 *   that has to wait is queued by push(), which schedules the check again, and one that completes
 *   checks the queue itself (fulfillRequest), as before.
 *
 * installKafkajsPatches() puts the first three in require's cache before kafkajs loads the modules that use
 * them: it must run before the first `require('kafkajs')` of the process (exporter.ts imports this
 * file first, and test/unit/kafkajs-patches.test.ts checks that it did). If kafkajs was loaded
 * already, or its files moved, nothing is replaced and kafkajs's own code runs. The request queue is
 * patched on its class (whether loaded already or not).
 */
import { createCrc32cWasm } from './crc32c-wasm';
import { kafkajsModules } from './kafkajs-modules';
import { HeadroomEncoder, HEADROOM, KafkajsEncoder, WHOLE } from './record-encoder';


/** kafkajs's groupMessagesPerPartition, linear: same keys, same order within a partition. */
export function groupMessagesPerPartition<M>(args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (a: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}): Record<number, M[]> {
  const { topic, partitionMetadata, messages, partitioner } = args;
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = result[partition];
    if (list) list.push(message);
    else result[partition] = [message];
  }
  return result;
}

/** Castagnoli polynomial, reversed. */
const POLY = 0x82f63b78;
/** Sixteen 256-entry tables in one array: table k at k * 256 (one array: fewer loads to keep live). */
export const CRC_TABLE: Int32Array = (() => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf`, as an unsigned 32-bit number: sixteen bytes a step ("slicing-by-16"). */
export function crc32cJs(buf: Uint8Array): number {
  const t = CRC_TABLE;
  let crc = -1;
  let i = 0;
  const n = buf.length;
  const end16 = n - (n & 15);
  for (; i < end16; i += 16) {
    const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ crc;
    crc =
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + buf[i + 4]!]! ^
      t[2560 + buf[i + 5]!]! ^
      t[2304 + buf[i + 6]!]! ^
      t[2048 + buf[i + 7]!]! ^
      t[1792 + buf[i + 8]!]! ^
      t[1536 + buf[i + 9]!]! ^
      t[1280 + buf[i + 10]!]! ^
      t[1024 + buf[i + 11]!]! ^
      t[768 + buf[i + 12]!]! ^
      t[512 + buf[i + 13]!]! ^
      t[256 + buf[i + 14]!]! ^
      t[buf[i + 15]!]!;
  }
  for (; i < n; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** The same checksum over WebAssembly (crc32c-wasm.ts), null where WebAssembly does not run. */
const crc32cWasm = createCrc32cWasm(CRC_TABLE);
/**
 * Lengths that go to WebAssembly: below, the copy and the call cost more than they save; above, the
 * module's memory would grow past what a record batch needs (a broker takes 1 MiB by default).
 */
const WASM_MIN = 256;
const WASM_MAX = 8 << 20;

/** CRC-32C of `buf`, unsigned: over WebAssembly for record batches, else crc32cJs(). */
export function crc32c(buf: Uint8Array): number {
  const n = buf.length;
  return crc32cWasm !== null && n >= WASM_MIN && n <= WASM_MAX ? crc32cWasm(buf) : crc32cJs(buf);
}

const HASH_CACHE_MAX = 10_000;

type PartitionerArgs = { topic: string; partitionMetadata: unknown[]; message: { key?: unknown; partition?: number | null } };

/**
 * kafkajs's default partitioner (Java's: murmur2 of the key modulo the partition count, else round
 * robin over available partitions) with the murmur2 of string keys remembered: kafkajs computes it
 * with 64-bit Long objects per byte, per message, and Kite's keys (host, container, process exec
 * id) repeat. At most HASH_CACHE_MAX keys, forgotten all at once when full. Same partitions.
 */
export function createCachedPartitioner(): () => (args: PartitionerArgs) => number {
  const { req } = kafkajsModules();
  const murmur2 = req('./src/producer/partitioners/default/murmur2') as (key: unknown) => number;
  const { Partitioners } = req('kafkajs') as { Partitioners: { DefaultPartitioner: () => (args: PartitionerArgs) => number } };
  return () => {
    const inner = Partitioners.DefaultPartitioner();
    const hashes = new Map<string, number>();
    return (args) => {
      const { message, partitionMetadata } = args;
      if ((message.partition !== null && message.partition !== undefined) || typeof message.key !== 'string') return inner(args);
      // any hash modulo one partition: no hash to compute or look up
      if (partitionMetadata.length === 1) return 0;
      let h = hashes.get(message.key);
      if (h === undefined) {
        if (hashes.size >= HASH_CACHE_MAX) hashes.clear();
        h = murmur2(message.key) & 0x7fffffff;
        hashes.set(message.key, h);
      }
      return h % partitionMetadata.length;
    };
  };
}

interface RequestArgs {
  correlationId: number;
  clientId: string | null | undefined;
  request: { apiKey: number; apiVersion: number; encode: () => unknown };
}

/**
 * kafkajs's `protocol/request` (the framing of every request: size, api key and version,
 * correlation id, client id, then the request's body) with the body copied once into a buffer of
 * the exact size instead of into two Encoders that grow, and not copied at all when the body is a
 * produce request from encodeProduceRequest() (record-encoder.ts), which leaves room in front of it.
 * The same bytes (test/unit/kafka-produce-request.test.ts).
 */
export function createRequestFramer(proto: object): (args: RequestArgs) => Promise<KafkajsEncoder> {
  return async ({ correlationId, clientId, request: { apiKey, apiVersion, encode } }) => {
    const payload = (await encode()) as HeadroomEncoder | null | undefined;
    if (payload == null || !Buffer.isBuffer(payload.buf)) throw new Error('value should be an instance of Encoder');
    const idLen = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
    const head = 14 + idLen;
    const bodyLen = payload.offset;
    const whole = payload[WHOLE];
    let buf: Buffer;
    if (whole && head <= HEADROOM && whole.buffer === payload.buf.buffer && payload.buf.byteOffset === whole.byteOffset + HEADROOM) {
      buf = whole.subarray(HEADROOM - head, HEADROOM + bodyLen);
    } else {
      buf = Buffer.allocUnsafe(head + bodyLen);
      payload.buf.copy(buf, head, 0, bodyLen);
    }
    buf.writeInt32BE(head - 4 + bodyLen, 0);
    buf.writeInt16BE(apiKey, 4);
    buf.writeInt16BE(apiVersion, 6);
    buf.writeInt32BE(correlationId, 8);
    if (clientId == null) buf.writeInt16BE(-1, 12);
    else {
      buf.writeInt16BE(idLen, 12);
      buf.write(clientId, 14, idLen, 'utf8');
    }
    const enc = Object.create(proto) as KafkajsEncoder;
    enc.buf = buf;
    enc.offset = head + bodyLen;
    return enc;
  };
}

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

let queuePatched = false;

/**
 * Makes kafkajs's RequestQueue arm its check of pending requests only when a request is pending or a
 * throttle is in force (see the file's comment). Returns whether it did. Idempotent.
 */
export function patchRequestQueue(): boolean {
  if (queuePatched) return true;
  try {
    const RequestQueue = kafkajsModules().req('./src/network/requestQueue') as { prototype: RequestQueueLike };
    const proto = RequestQueue.prototype;
    const original = proto.scheduleCheckPendingRequests;
    if (typeof original !== 'function') return false;
    proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueLike): void {
      if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
      original.call(this);
    };
    queuePatched = true;
  } catch {
    return false;
  }
  return true;
}

let installed: boolean | null = null;

/** Whether installKafkajsPatches() replaced kafkajs's modules (null: not tried yet). */
export function kafkajsPatched(): boolean | null {
  return installed;
}

/**
 * Seeds require's cache with the three replacements, unless kafkajs's modules that read them are
 * loaded already. Returns whether it did. Idempotent.
 */
export function installKafkajsPatches(): boolean {
  if (installed !== null) return installed;
  installed = false;
  try {
    const kafkajs = kafkajsModules();
    const group = './src/producer/groupMessagesPerPartition';
    const crc = './src/protocol/recordBatch/crc32C';
    const request = './src/protocol/request';
    const users = ['./src/producer/sendMessages', './src/protocol/recordBatch/v0/index', './src/network/connection'];
    if (kafkajs.loaded(group, crc, request, ...users)) return false;
    kafkajs.replace(group, groupMessagesPerPartition);
    // kafkajs's index.js of crc32C returns the checksum as an unsigned number, as crc32c does
    kafkajs.replace(crc, crc32c);
    const Encoder = kafkajs.req('./src/protocol/encoder') as { prototype: object };
    kafkajs.replace(request, createRequestFramer(Encoder.prototype));
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}

installKafkajsPatches();
patchRequestQueue();
