/**
 * Three of kafkajs 2.x's per-message costs, replaced by equivalents that give the same result:
 *
 * - `producer/groupMessagesPerPartition`: groups a request's messages by partition with
 *   `[...current, message]`, copying a partition's list for every message, which is quadratic in
 *   the messages per partition of one request (a batch of 5000 records to one partition copies
 *   12.5 million array slots). groupMessagesPerPartition() below appends, in the same order, to
 *   the same `{ [partition]: messages[] }` shape.
 * - `protocol/recordBatch/crc32C`: the record batch's CRC-32C, one table lookup per byte.
 *   crc32c() below reads eight bytes per step ("slicing-by-8", Intel's method), the same checksum.
 *
 * - the default partitioner's murmur2 of the key, computed with 64-bit Long objects for every
 *   message: createCachedPartitioner() remembers it per key (a producer option, no patch).
 *
 * installKafkajsPatches() puts the first two in require's cache before kafkajs loads the modules that use
 * them: it must run before the first `require('kafkajs')` of the process (exporter.ts imports this
 * file first, and test/unit/kafkajs-patches.test.ts checks that it did). If kafkajs was loaded
 * already, or its files moved, nothing is replaced and kafkajs's own code runs.
 */
import Module from 'node:module';


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
const TABLES: Int32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0]![n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c;
    }
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf`, as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let crc = -1;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ crc;
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[buf[i + 4]!]! ^
      t2[buf[i + 5]!]! ^
      t1[buf[i + 6]!]! ^
      t0[buf[i + 7]!]!;
  }
  for (; i < n; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
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
  const req = Module.createRequire(require.resolve('kafkajs'));
  const murmur2 = req('./src/producer/partitioners/default/murmur2') as (key: unknown) => number;
  const { Partitioners } = req('kafkajs') as { Partitioners: { DefaultPartitioner: () => (args: PartitionerArgs) => number } };
  return () => {
    const inner = Partitioners.DefaultPartitioner();
    const hashes = new Map<string, number>();
    return (args) => {
      const { message, partitionMetadata } = args;
      if ((message.partition !== null && message.partition !== undefined) || typeof message.key !== 'string') return inner(args);
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

let installed: boolean | null = null;

/** Whether installKafkajsPatches() replaced kafkajs's modules (null: not tried yet). */
export function kafkajsPatched(): boolean | null {
  return installed;
}

/**
 * Seeds require's cache with the two replacements, unless kafkajs's modules that read them are
 * loaded already. Returns whether it did. Idempotent.
 */
export function installKafkajsPatches(): boolean {
  if (installed !== null) return installed;
  installed = false;
  try {
    const req = Module.createRequire(require.resolve('kafkajs'));
    const groupPath = req.resolve('./src/producer/groupMessagesPerPartition');
    const crcPath = req.resolve('./src/protocol/recordBatch/crc32C');
    const users = ['./src/producer/sendMessages', './src/protocol/recordBatch/v0/index'].map((p) => req.resolve(p));
    if ([groupPath, crcPath, ...users].some((p) => require.cache[p])) return false;
    const seed = (path: string, exports: unknown): void => {
      const m = new Module(path, module);
      m.filename = path;
      m.loaded = true;
      m.exports = exports;
      require.cache[path] = m;
    };
    seed(groupPath, groupMessagesPerPartition);
    // kafkajs's index.js of crc32C returns the checksum as an unsigned number, as crc32c does
    seed(crcPath, crc32c);
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}

installKafkajsPatches();
