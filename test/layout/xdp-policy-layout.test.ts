/**
 * bpf/xdp_policy.h is the source of truth for the xdp_policy receiver: the decoder's offsets, sizes,
 * enum values and .rodata knobs must match the compiled object's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { KITE_OP_XDP_POLICY_DENY, XdpAction, XdpMode, XdpStat, XDP_COUNTERS, XDP_DENY_EVENT, XDP_RODATA, XDP_RULE } from '../../src/receivers/xdp_policy/wire';
import { KiteStat } from '../../src/receivers/bpf-receiver';

const btf = new Btf(join(BPF_DIR, 'xdp_policy.bpf.o'));

for (const [name, ts] of [['xdp_policy_deny_event', XDP_DENY_EVENT], ['xdp_policy_rule', XDP_RULE], ['xdp_policy_counters', XDP_COUNTERS]] as const) {
  test(`struct ${name}: every field at the offset and size the decoder uses`, () => {
    const c = btf.struct(name);
    assert.equal(c.size, ts.size, `sizeof(struct ${name})`);
    assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(ts.fields).sort(), 'same field names');
    for (const [f, v] of Object.entries(ts.fields)) assert.deepEqual(c.fields[f], v, `field ${f}`);
  });
}

test('enums match the decoder; the ring-full slot is kite_stat\'s', () => {
  assert.equal(btf.enumValues('kite_op').KITE_OP_XDP_POLICY_DENY, KITE_OP_XDP_POLICY_DENY);
  assert.deepEqual(btf.enumValues('xdp_policy_action'), { XDP_POLICY_ACTION_COUNT: XdpAction.COUNT, XDP_POLICY_ACTION_DENY: XdpAction.DENY });
  assert.deepEqual(btf.enumValues('xdp_policy_mode'), { XDP_POLICY_MODE_MONITOR: XdpMode.MONITOR, XDP_POLICY_MODE_ENFORCE: XdpMode.ENFORCE });
  const s = btf.enumValues('xdp_policy_stat');
  assert.equal(s.XDP_POLICY_STAT_DENY_REPORTED, XdpStat.DENY_REPORTED);
  assert.equal(s.XDP_POLICY_STAT_RING_FULL, XdpStat.RING_FULL);
  assert.equal(s.XDP_POLICY_STAT_PACKETS, XdpStat.PACKETS);
  assert.equal(s.XDP_POLICY_STAT_UNMATCHED, XdpStat.UNMATCHED);
  assert.equal(XdpStat.RING_FULL, KiteStat.RING_FULL, 'the shared receiver base reads ring_full from this slot');
});

test('LPM keys and .rodata knobs are where the receiver writes them', () => {
  assert.deepEqual(btf.struct('xdp_policy_lpm4').size, 8);
  assert.deepEqual(btf.struct('xdp_policy_lpm6').size, 20);
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(XDP_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
});
