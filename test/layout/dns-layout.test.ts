/**
 * bpf/dns.h is the source of truth for the dns receiver's attribution maps: the decoder's offsets,
 * sizes, enum values and .rodata knobs must match the compiled object's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { DnsAttrStat, DnsOwnerFlags, DNS_FLOW_KEY, DNS_LIMITS, DNS_OWNER, DNS_RODATA } from '../../src/receivers/dns/wire';
import { KiteStat } from '../../src/receivers/bpf-receiver';

const btf = new Btf(join(BPF_DIR, 'dns.bpf.o'));

for (const [name, ts] of [['dns_flow_key', DNS_FLOW_KEY], ['dns_owner', DNS_OWNER]] as const) {
  test(`struct ${name}: every field at the offset and size the decoder uses`, () => {
    const c = btf.struct(name);
    assert.equal(c.size, ts.size, `sizeof(struct ${name})`);
    assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(ts.fields).sort(), 'same field names');
    for (const [f, v] of Object.entries(ts.fields)) assert.deepEqual(c.fields[f], v, `field ${f}`);
  });
}

test('enum dns_owner_flags and dns_attr_stat match the decoder; FILTERED is kite_stat\'s slot', () => {
  assert.deepEqual(btf.enumValues('dns_owner_flags'), { DNS_OWNER_FILTERED: DnsOwnerFlags.FILTERED });
  const s = btf.enumValues('dns_attr_stat');
  assert.equal(s.DNS_ATTR_SOCKETS, DnsAttrStat.SOCKETS);
  assert.equal(s.DNS_ATTR_FLOWS, DnsAttrStat.FLOWS);
  assert.equal(s.DNS_ATTR_FILTERED, DnsAttrStat.FILTERED);
  assert.equal(s.DNS_ATTR_NO_OWNER, DnsAttrStat.NO_OWNER);
  assert.equal(s.DNS_ATTR_FILTERED, btf.enumValues('kite_stat').KITE_STAT_FILTERED, 'kite_filter_pass_current() counts into this slot');
  assert.equal(btf.enumValues('kite_stat').KITE_STAT_EMITTED, KiteStat.EMITTED);
});

test('limits and .rodata knobs are where the receiver writes them', () => {
  assert.equal(btf.struct('dns_owner').fields.comm!.size, DNS_LIMITS.commLen);
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(DNS_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
  assert.equal(DNS_RODATA.dns_ports.size, 2 * DNS_LIMITS.maxPorts);
});
