/** The CRI messages enrich reads, through its small protobuf codec: encoded as containerd would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, mapEntries, Msg, parseContainers, parsePodSandboxes } from '../../src/processors/enrich/cri';

test('ListPodSandbox and ListContainers responses: pods by sandbox id, containers with their names', () => {
  const sandbox: Msg = [[1, 'sb1'], [2, [[1, 'web-0'], [2, 'uid-1'], [3, 'shop'], [4, 0]]], [3, 0], [4, 1700000000000000000], ...mapEntries(5, { app: 'web', 'k8s-app': 'x' }), ...mapEntries(6, { note: 'n' })];
  const pods = parsePodSandboxes(encode([[1, sandbox], [1, [[1, 'sb-no-meta']]]]));
  assert.deepEqual([...pods], [['sb1', { name: 'web-0', uid: 'uid-1', namespace: 'shop', labels: { app: 'web', 'k8s-app': 'x' } }]]);
  const container: Msg = [[1, 'c'.repeat(64)], [2, 'sb1'], [3, [[1, 'app'], [2, 1]]], [4, [[1, 'img']]], [5, 'sha256:x'], [6, 1], [7, 1700000000000000000]];
  assert.deepEqual([...parseContainers(encode([[1, container]]))], [['c'.repeat(64), { podSandboxId: 'sb1', name: 'app' }]]);
  assert.equal(parseContainers(Buffer.alloc(0)).size, 0);
});

test('the codec: varints up to 64 bits, nested messages, repeated fields; truncated input is an error', () => {
  const f = decode(encode([[1, 300], [2, 'é'], [3, [[1, 7]]], [2, 'b'], [4, true]]));
  assert.equal(f.get(1)![0], 300n);
  assert.deepEqual(f.get(2)!.map(String), ['é', 'b']);
  assert.equal(decode(f.get(3)![0] as Buffer).get(1)![0], 7n);
  assert.equal(f.get(4)![0], 1n);
  assert.equal(decode(encode([[1, 1700000000000000000]])).get(1)![0], 1700000000000000000n);
  assert.throws(() => decode(Buffer.from([0x12, 0x05, 0x61])), /truncated/);
});
