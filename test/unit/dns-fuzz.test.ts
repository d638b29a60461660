/**
 * Fuzzing the DNS parser and the packet decoder with hostile input: mutated real messages, random
 * bytes, pointer chains and absurd record counts. Neither may throw, loop or take long: every input
 * must return (a message or a reason) within a bounded time, and what it returns stays within the
 * documented limits. The generator is seeded, so a failure names a reproducible case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TESTDATA } from '../helpers/paths';
import { MAX_NAME_LENGTH, parseDnsMessage } from '../../src/receivers/dns/parser';
import { parseL4 } from '../../src/receivers/dns/wire';
import { frame } from '../helpers/packets';

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixtures = readdirSync(join(TESTDATA, 'dns')).filter((f) => f.endsWith('.hex'))
  .map((f) => Buffer.from(readFileSync(join(TESTDATA, 'dns', f), 'utf8').trim(), 'hex'));

function mutate(r: () => number, base: Buffer): Buffer {
  const int = (n: number): number => Math.floor(r() * n);
  let b = Buffer.from(base);
  const ops = 1 + int(6);
  for (let i = 0; i < ops; i++) {
    switch (int(7)) {
      case 0: b[int(b.length)] = int(256); break; // random byte
      case 1: b[int(b.length)] ^= 1 << int(8); break; // bit flip
      case 2: b = b.subarray(0, int(b.length + 1)); break; // truncation
      case 3: { // a compression pointer anywhere, to anywhere
        const p = int(Math.max(1, b.length - 1));
        b[p] = 0xc0 | int(64);
        if (p + 1 < b.length) b[p + 1] = int(256);
        break;
      }
      case 4: b.writeUInt16BE(int(65536), 4 + 2 * int(4)); break; // absurd record counts
      case 5: b = Buffer.concat([b, b.subarray(int(b.length))]); break; // duplicated tail
      default: { // a long label
        const p = int(b.length);
        b[p] = 0x3f;
        break;
      }
    }
    if (b.length < 12) b = Buffer.concat([b, Buffer.alloc(12 - b.length)]);
  }
  return b;
}

function check(buf: Buffer, maxAnswers: number, what: string): number {
  const t0 = performance.now();
  let out: ReturnType<typeof parseDnsMessage>;
  try {
    out = parseDnsMessage(buf, 0, buf.length, maxAnswers);
  } catch (e) {
    assert.fail(`${what}: threw ${String(e)} on ${buf.toString('hex')}`);
  }
  const ms = performance.now() - t0;
  if (typeof out !== 'string') {
    assert.ok(out.answers.length <= maxAnswers, `${what}: at most ${maxAnswers} answers`);
    for (const n of [...out.questions.map((q) => q.name), ...out.answers.map((a) => a.name)]) {
      assert.ok(n.length <= 4 * MAX_NAME_LENGTH, `${what}: a bounded name (${n.length} chars)`);
    }
  }
  return ms;
}

/** The input's parse time without scheduling noise: the fastest of several runs. */
function settledMs(buf: Buffer, maxAnswers: number): number {
  let best = Infinity;
  for (let k = 0; k < 5; k++) best = Math.min(best, check(buf, maxAnswers, 'rerun'));
  return best;
}

test('fuzz: 30000 mutated real messages never throw and stay within the limits', () => {
  const r = rng(0x6b697465);
  let worst = 0;
  let worstInput: Buffer = Buffer.alloc(0);
  const t0 = performance.now();
  for (let i = 0; i < 30000; i++) {
    const base = fixtures[i % fixtures.length]!;
    const input = mutate(r, base);
    const ms = check(input, 32, `case ${i}`);
    if (ms > worst) {
      worst = ms;
      worstInput = input;
    }
  }
  const total = performance.now() - t0;
  // a single slow sample may be a GC pause or the machine: re-time the slowest input
  const settled = settledMs(worstInput, 32);
  assert.ok(settled < 5, `slowest input takes ${settled.toFixed(2)} ms: ${worstInput.toString('hex')}`);
  assert.ok(total < 10000, `30000 inputs took ${total.toFixed(0)} ms`);
});

test('fuzz: random bytes of every size up to 1500', () => {
  const r = rng(42);
  for (let i = 0; i < 10000; i++) {
    const b = Buffer.alloc(Math.floor(r() * 1500));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
    check(b, 32, `random ${i}`);
  }
});

test('worst case: 64 KiB of maximal pointer chains and 65535 claimed answers parse quickly', () => {
  // each name is a pointer to the previous pointer: chains as long as the rules allow
  const b = Buffer.alloc(65535);
  b.writeUInt16BE(0x8180, 2);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(65535, 6);
  b[12] = 0; // a root name at 12
  for (let p = 13; p + 1 < b.length; p += 2) b.writeUInt16BE(0xc000 | (p - 2 < 12 ? 12 : p - 2), p);
  let worst = 0;
  for (const maxAnswers of [32, 1024]) worst = Math.max(worst, settledMs(b, maxAnswers));
  // answers that are all valid and tiny: 65535 counted, bytes for ~5900
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
  const q = Buffer.from([0, 0, 1, 0, 1]);
  const many = Buffer.concat([Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0xff, 0xff, 0, 0, 0, 0]), q, ...Array(4000).fill(rr)]);
  check(many, 1024, 'many answers');
  worst = Math.max(worst, settledMs(many, 1024));
  assert.ok(worst < 50, `worst hostile message took ${worst.toFixed(2)} ms`);
});

test('fuzz: the packet decoder on mutated frames never throws', () => {
  const r = rng(7);
  const bases = [
    frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'udp', sport: 40000, dport: 53, payload: fixtures[0]! }),
    frame({ src: 'fd00::1', dst: 'fd00::53', proto: 'tcp', sport: 40000, dport: 53, payload: fixtures[1]!, vlan: 3 }),
  ];
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(bases[i % 2]!);
    for (let k = 0; k < 4; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    const len = Math.floor(r() * (b.length + 1));
    const p = parseL4(b, 0, len);
    if (typeof p !== 'string') {
      assert.ok(p.payload + p.payloadLen <= len, `case ${i}: the payload stays inside the capture`);
      assert.ok(p.payloadLen >= 0);
    }
  }
});
