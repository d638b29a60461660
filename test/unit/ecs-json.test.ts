/** The compiled ECS serializer writes exactly the document toEcs() builds, for every shape of record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { ecsJsonSerializer, toEcs } from '../../src/exporters/schemas/ecs';
import { makeRecords } from '../helpers/events';

const resource = { 'service.name': 'kite', 'service.version': '1.2.3', 'host.name': 'agent-host', 'host.arch': 'amd64', 'os.version': '6.18.0' };

const odd: KiteRecord[] = [
  { time: '2026-01-01T00:00:00Z', 'event.name': 'network.connect', 'kite.event_id': 'a', 'destination.address': 'example.test', 'destination.port': 80 },
  { time: '2026-01-01T00:00:00Z', 'event.name': 'network.connect', 'kite.event_id': 'b', 'destination.address': '2001:db8::1', 'source.address': '10.0.0.1', 'source.port': 5000 },
  { time: '2026-01-01T00:00:00Z', 'event.name': 'dns.query', 'kite.event_id': 'c', 'network.protocol.name': 'udp', 'dns.answers': ['192.0.2.1', '192.0.2.2'] },
  { time: '2026-01-01T00:00:00Z', 'event.name': 'kite.loss', 'kite.event_id': 'd', 'kite.loss.count': 3, 'kite.loss.reasons': ['receiver/exec:ring_full=3'], 'weird "key"\n': 'quote " and \\ and \u2028', 'kite.seq': 9 },
  { time: '2026-01-01T00:00:00Z', 'event.name': 'alert.rule', 'kite.event_id': 'e', 'process.pid': 1, 'kite.skip': undefined, 'process.args_count': 0, 'file.mode': '0644' },
  { time: '2026-01-01T00:00:00Z', 'event.name': 'file.unlink', 'kite.event_id': 'f', 'host.name': 'from-record', 'container.id': 'abc', 'x.enabled': false, 'x.ratio': 0.5 },
];

test('parses to the same document as toEcs for every record shape', () => {
  const ser = ecsJsonSerializer(resource);
  for (const r of [...makeRecords('ecs', 50), ...odd, ...odd]) {
    assert.deepStrictEqual(JSON.parse(ser(r)), JSON.parse(JSON.stringify(toEcs(r, resource))), JSON.stringify(r));
  }
});

test('the address of one record and the IP address of another share a shape, each rendered right', () => {
  const ser = ecsJsonSerializer(resource);
  const named = JSON.parse(ser(odd[0]!));
  const ip = JSON.parse(ser({ ...odd[0]!, 'destination.address': '192.0.2.7' }));
  assert.equal(named.destination.ip, undefined);
  assert.equal(ip.destination.ip, '192.0.2.7');
});
