/**
 * The kafka exporter's replacements of two kafkajs modules give kafkajs's results (the partition
 * grouping, the record batch CRC-32C) and are in place once the exporter is loaded; the request
 * queue's check of pending requests is armed only while a request waits or a throttle is in force.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
// the exporter, as the registry loads it: the patches go in before kafkajs
import '../../src/exporters/kafka/exporter';
import { Partitioners } from 'kafkajs';
import { createCrc32cWasm } from '../../src/exporters/kafka/crc32c-wasm';
import { CRC_TABLE, crc32c, crc32cJs, createCachedPartitioner, groupMessagesPerPartition, kafkajsPatched, patchRequestQueue } from '../../src/exporters/kafka/kafkajs-patches';
import { kafkajsOriginal, kafkajsRequire as req } from '../helpers/kafkajs-original';

test('the replacements are in require cache once the exporter is loaded', () => {
  assert.equal(kafkajsPatched(), true);
  assert.equal(req('./src/producer/groupMessagesPerPartition'), groupMessagesPerPartition);
  assert.equal(req('./src/protocol/recordBatch/crc32C'), crc32c);
});

test('crc32c: the same checksum as kafkajs over every length from 0 to 300 and a 1 MiB buffer', () => {
  const original = kafkajsOriginal<(b: Buffer) => number>('./src/protocol/recordBatch/crc32C/crc32C');
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
  for (let n = 0; n <= 300; n++) {
    const b = Buffer.from(Array.from({ length: n }, rnd));
    assert.equal(crc32c(b), original(b), `length ${n}`);
  }
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = rnd();
  assert.equal(crc32c(big), original(big));
  // the check value of CRC-32C
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('crc32c over WebAssembly and in JavaScript: the same checksums as kafkajs on both sides of the threshold, at odd offsets, after the memory grew', () => {
  const original = kafkajsOriginal<(b: Buffer) => number>('./src/protocol/recordBatch/crc32C/crc32C');
  const wasm = createCrc32cWasm(CRC_TABLE);
  assert.ok(wasm, 'WebAssembly runs on Node 20');
  let seed = 777;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const data = Buffer.from(Array.from({ length: 3 << 20 }, rnd));
  // every length up to 1100 (the tail loop, whole 16-byte steps, the JavaScript/WebAssembly switch
  // at 256), each at an odd offset of a larger buffer, then lengths that grow the module's memory
  for (let n = 0; n <= 1100; n++) {
    const b = data.subarray(n % 7, (n % 7) + n);
    const want = original(b);
    assert.equal(wasm(b), want, `wasm, length ${n}`);
    assert.equal(crc32cJs(b), want, `js, length ${n}`);
    assert.equal(crc32c(b), want, `crc32c, length ${n}`);
  }
  for (const n of [64 << 10, (1 << 20) + 3, 3 << 20, 1000]) {
    const b = data.subarray(0, n);
    assert.equal(wasm(b), original(b), `wasm, length ${n}`);
  }
  assert.equal(wasm(Buffer.from('123456789'.repeat(40)).subarray(0, 9)), 0xe3069283);
});

test('groupMessagesPerPartition: the same groups in the same order as kafkajs', () => {
  const original = kafkajsOriginal<typeof groupMessagesPerPartition>('./src/producer/groupMessagesPerPartition');
  const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${i % 37}`, value: `v${i}` }));
  const partitionMetadata = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }];
  const partitioner = ({ message }: { message: { key?: string } }): number => Number(message.key!.slice(1)) % 3;
  const args = { topic: 't', partitionMetadata, messages, partitioner };
  assert.deepEqual(groupMessagesPerPartition(args), original(args));
  assert.deepEqual(groupMessagesPerPartition({ ...args, partitionMetadata: [] }), {});
  assert.deepEqual(original({ ...args, partitionMetadata: [] }), {});
});

test('the cached partitioner picks the partitions of kafkajs\'s default partitioner', () => {
  const cached = createCachedPartitioner()();
  const plain = Partitioners.DefaultPartitioner();
  for (const n of [1, 3, 7, 12]) {
    const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
    // each key twice: once hashed, once from the cache
    for (const round of [0, 1]) {
      for (let i = 0; i < 300; i++) {
        const message = { key: `exec-${i}-é`, value: 'v' };
        const args = { topic: 't', partitionMetadata, message };
        assert.equal(cached(args), plain(args), `key ${message.key}, ${n} partitions, round ${round}`);
      }
    }
    const explicit = { topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: n - 1 } };
    assert.equal(cached(explicit), n - 1);
  }
});

interface Entry {
  correlationId: number;
  apiName: string;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
}

const entry = (correlationId: number): Entry => ({ correlationId, apiName: 'Produce', resolve: () => {}, reject: () => {} });

interface TestQueue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  maybeThrottle(ms: number): void;
  push(r: { entry: Entry; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer | null; size: number }): void;
  checkPendingRequests(): void;
  destroy(): void;
}

function requestQueue(maxInFlightRequests: number | null = null): TestQueue {
  const RequestQueue = req('./src/network/requestQueue') as new (o: Record<string, unknown>) => TestQueue;
  const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  return new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'kite', broker: 'b:9092', logger });
}

test('the request queue arms no timer while nothing waits and no throttle is in force', () => {
  assert.equal(patchRequestQueue(), true);
  const q = requestQueue();
  // what a response does (fulfillRequest checks the queue): kafkajs alone re-arms a 1 ms timer for ever
  q.checkPendingRequests();
  assert.equal(q.throttleCheckTimeoutId, null);
  // a throttle in force: one check when it ends, as kafkajs does
  q.maybeThrottle(50);
  q.checkPendingRequests();
  assert.notEqual(q.throttleCheckTimeoutId, null);
  q.destroy();
});

test('a request held by a throttle or by the in-flight limit is still sent once it may be', async () => {
  const q = requestQueue();
  q.maybeThrottle(30);
  let sent = 0;
  q.push({ entry: entry(1), expectResponse: false, sendRequest: () => sent++ });
  assert.equal(sent, 0);
  assert.equal(q.pending.length, 1);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(sent, 1);
  assert.equal(q.pending.length, 0);
  assert.equal(q.throttleCheckTimeoutId, null);

  const limited = requestQueue(1);
  const order: number[] = [];
  limited.push({ entry: entry(1), expectResponse: true, sendRequest: () => order.push(1) });
  limited.push({ entry: entry(2), expectResponse: true, sendRequest: () => order.push(2) });
  assert.deepEqual(order, [1]);
  limited.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
  assert.deepEqual(order, [1, 2]);
  limited.fulfillRequest({ correlationId: 2, payload: null, size: 0 });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(limited.throttleCheckTimeoutId, null);
  q.destroy();
  limited.destroy();
});
