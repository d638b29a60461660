/**
 * The ring reader hands every record back whole and in order, also the records that run past the end
 * of the ring's data area (the reader maps that area once and joins a wrapped record's two pieces).
 * A test program copies each packet it is test-run with into a 16 KiB ring as one record; the test
 * writes thousands of records of varying lengths and contents, so the ring wraps hundreds of times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { RingReader } from '../../src/bpf/ringbuf';
import { BPF_DIR } from '../helpers/paths';
import { bpfIdsOf, stillLoaded } from '../helpers/kernel';

setLibbpfLogger(() => {});

const XDP_PASS = 2;

/** Record i: its length, and its bytes (the index, then a pattern that depends on it). */
function recordOf(i: number): Buffer {
  const len = 14 + ((i * 389) % 1500); // XDP test runs take at least an Ethernet header
  const b = Buffer.alloc(len);
  b.writeUInt32LE(i, 0);
  for (let k = 4; k < len; k++) b[k] = (i * 31 + k) & 0xff;
  return b;
}

test('records that wrap past the end of the ring come back whole and in order', () => {
  const obj = BpfObject.open(join(BPF_DIR, 'test', 'ringwrap.bpf.o'));
  const got: Buffer[] = [];
  let reader: RingReader | null = null;
  try {
    obj.load();
    const ring = obj.map('ringwrap_events');
    reader = new RingReader(ring, (buf, offset, length) => {
      got.push(Buffer.from(buf.subarray(offset, offset + length)));
    });
    const prog = obj.program('ringwrap_emit');
    const N = 4000;
    let sent = 0;
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const rec = recordOf(i);
      assert.equal(prog.testRun(rec).retval, XDP_PASS, `record ${i} (${rec.length} bytes) fits in the ring`);
      sent++;
      bytes += rec.length;
      // drain every few records so the ring never fills (at most ~4.5 KiB pending of 16 KiB)
      if (i % 3 === 2) reader.drain();
    }
    reader.drain();
    assert.equal(got.length, sent);
    for (let i = 0; i < N; i++) assert.ok(got[i].equals(recordOf(i)), `record ${i} came back intact`);
    assert.ok(bytes > 100 * ring.maxEntries, `the ring wrapped many times (${bytes} bytes through a ${ring.maxEntries}-byte ring)`);
    assert.ok(reader.stats.wrapped > 50, `many records ran past the end of the data area (${reader.stats.wrapped})`);
    assert.equal(reader.stats.handlerErrors, 0);
  } finally {
    void reader?.stop();
    obj.close();
  }
  assert.deepEqual(stillLoaded(bpfIdsOf(process.pid)), { progs: [], maps: [], links: [] }, 'nothing left behind');
});
