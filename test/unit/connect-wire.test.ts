/** The connect decoder on records captured from the real program (test/testdata/connect/README.md),
 * the records built from them, address formatting and peer prefix keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { parseComponentId } from '../../src/component/component';
import { CONNECT_EVENT, ConnectWire, decodeConnect, formatIpv6, NetOp } from '../../src/receivers/connect/wire';
import { ConnectReceiver } from '../../src/receivers/connect/receiver';
import { connectFactory } from '../../src/receivers/connect/factory';
import { toConnectConfig } from '../../src/receivers/connect/config';
import { addressBytes, prefixKey } from '../../src/receivers/connect/peers';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'connect', name), 'utf8').trim(), 'hex');
const decode = (buf: Buffer): ConnectWire => {
  const w = decodeConnect(buf, 0, buf.length);
  assert.equal(typeof w, 'object', `decoded, not ${String(w)}`);
  return w as ConnectWire;
};
const receiver = () => new ConnectReceiver(parseComponentId('connect')!, testHost(), toConnectConfig(settings(connectFactory, {})));

test('outbound IPv4 connect by nobody: peer, local, result, semantic-convention keys', () => {
  const w = decode(fixture('connect-ipv4-established.hex'));
  assert.equal(w.op, NetOp.CONNECT);
  const rec = receiver().toRecord(w);
  assert.equal(rec['event.name'], 'network.connect');
  assert.equal(rec['network.transport'], 'tcp');
  assert.equal(rec['network.type'], 'ipv4');
  assert.equal(rec['network.peer.address'], '10.77.8.2');
  assert.equal(rec['network.peer.port'], 4242);
  assert.equal(rec['server.address'], '10.77.8.2');
  assert.equal(rec['server.port'], 4242);
  assert.equal(rec['network.local.address'], '10.77.8.1');
  assert.equal(rec['network.local.port'], 33146);
  assert.equal(rec['kite.network.result'], 'established');
  assert.equal(rec['kite.network.duration_ns'], 996049);
  assert.equal(rec['process.pid'], 20145);
  assert.equal(rec['process.user.id'], 65534);
  assert.equal(rec['process.user.name'], 'nobody');
  assert.equal(rec['kite.process.comm'], 'netops');
  assert.equal(rec['error.type'], undefined);
  assert.equal(rec['host.name'], 'test-host');
});

test('inbound accept: the client is the peer; the same client port as the connect', () => {
  const rec = receiver().toRecord(decode(fixture('accept-ipv4.hex')));
  assert.equal(rec['event.name'], 'network.accept');
  assert.equal(rec['client.address'], '10.77.8.1');
  assert.equal(rec['client.port'], 33146);
  assert.equal(rec['server.address'], '10.77.8.2');
  assert.equal(rec['server.port'], 4242);
  assert.equal(rec['network.peer.address'], '10.77.8.1');
});

test('IPv6 refused connect; UDP first send without a local address', () => {
  const rx = receiver();
  const r = rx.toRecord(decode(fixture('connect-ipv6-refused.hex')));
  assert.equal(r['network.type'], 'ipv6');
  assert.equal(r['network.peer.address'], 'fd77:8::1');
  assert.equal(r['kite.network.result'], 'refused');
  assert.equal(r['error.type'], 'ECONNREFUSED');
  assert.equal(r['network.local.port'], undefined, 'released by the failure');
  const u = rx.toRecord(decode(fixture('udp-ipv6-first-send.hex')));
  assert.equal(u['event.name'], 'network.udp');
  assert.equal(u['network.transport'], 'udp');
  assert.equal(u['network.peer.port'], 53);
  assert.equal(u['kite.network.result'], 'sent');
  assert.equal(u['network.local.address'], undefined);
});

test('malformed records are reported, never thrown', () => {
  const good = fixture('accept-ipv4.hex');
  assert.equal(decodeConnect(good, 0, 50), 'short_record');
  const badOp = Buffer.from(good);
  badOp.writeUInt16LE(10, 0);
  assert.equal(decodeConnect(badOp, 0, badOp.length), 'unknown_op');
  const badSize = Buffer.from(good);
  badSize.writeUInt16LE(200, 2);
  assert.equal(decodeConnect(badSize, 0, badSize.length), 'bad_size');
  const badFamily = Buffer.from(good);
  badFamily.writeUInt16LE(1, CONNECT_EVENT.fields.family.offset);
  assert.equal(decodeConnect(badFamily, 0, badFamily.length), 'bad_family');
});

test('IPv6 text form and peer prefix keys (IPv4 mapped into the IPv6 trie)', () => {
  assert.equal(formatIpv6(addressBytes('fd77:8:0:0:0:0:0:1')!), 'fd77:8::1');
  assert.equal(formatIpv6(addressBytes('::')!), '::');
  assert.equal(formatIpv6(addressBytes('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  assert.equal(formatIpv6(addressBytes('10.1.2.3')!), '::ffff:10.1.2.3');
  const k4 = prefixKey('10.0.0.0/8')!;
  assert.equal(k4.readUInt32LE(0), 104);
  assert.deepEqual([...k4.subarray(4)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0]);
  assert.equal(prefixKey('fd00::/8')!.readUInt32LE(0), 8);
  assert.equal(prefixKey('192.168.1.1')!.readUInt32LE(0), 128);
  assert.equal(prefixKey('10.0.0.0/33'), null);
  assert.equal(prefixKey('example.com'), null);
});
