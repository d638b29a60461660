/** bpf/connect.h and bpf/lib/common.h are the source of truth: the decoder's offsets, sizes, enum
 * values and .rodata knobs must match the compiled object's BTF. No root needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { CONNECT_EVENT, CONNECT_RESULTS, ConnectStat, NetOp, PeerAction } from '../../src/receivers/connect/wire';
import { CONNECT_RODATA } from '../../src/receivers/connect/receiver';

const btf = new Btf(join(BPF_DIR, 'connect.bpf.o'));

test('struct connect_event: every field at the offset and size the decoder reads', () => {
  const c = btf.struct('connect_event');
  assert.equal(c.size, CONNECT_EVENT.size);
  assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(CONNECT_EVENT.fields).sort());
  for (const [name, f] of Object.entries(CONNECT_EVENT.fields)) assert.deepEqual(c.fields[name], f, `field ${name}`);
  assert.deepEqual(btf.struct('connect_prefix_key'), { size: 20, fields: { prefixlen: { offset: 0, size: 4 }, addr: { offset: 4, size: 16 } } });
});

test('enums: kite_op (connect part), connect_result, connect_stat, connect_filter_action; .rodata', () => {
  const ops = btf.enumValues('kite_op');
  assert.deepEqual([ops.KITE_OP_NET_CONNECT, ops.KITE_OP_NET_ACCEPT, ops.KITE_OP_NET_UDP], [NetOp.CONNECT, NetOp.ACCEPT, NetOp.UDP]);
  const results = btf.enumValues('connect_result');
  assert.deepEqual(Object.fromEntries(Object.entries(results).map(([k, v]) => [v, k.slice('CONNECT_RESULT_'.length).toLowerCase()])), {
    ...CONNECT_RESULTS, 7: 'udp_connect', 8: 'udp_send',
  });
  assert.equal(btf.enumValues('connect_stat').CONNECT_STAT_PEER_FILTERED, ConnectStat.PEER_FILTERED);
  assert.deepEqual(btf.enumValues('connect_filter_action'), { CONNECT_FILTER_INCLUDE: PeerAction.INCLUDE, CONNECT_FILTER_EXCLUDE: PeerAction.EXCLUDE });
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(CONNECT_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
});
