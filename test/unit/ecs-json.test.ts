/**
 * The compiled ECS serializer writes exactly the document toEcs() builds, for every shape of record,
 * and its bytes form writes the same bytes as its string.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { ecsJsonBytesSerializer, ecsJsonSerializer, toEcs } from '../../src/exporters/schemas/ecs';
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

test('the bytes serializer writes the UTF-8 of the string serializer, across arenas', () => {
  const text = ecsJsonSerializer(resource);
  const bytes = ecsJsonBytesSerializer(resource);
  const tricky: KiteRecord[] = [
    { ...odd[3]!, 'kite.note': 'tab\t nul\u0000 del\u007f é ✓ 😀 lone \ud800 end', 'kite.list': ['a"b', 'é', 1.5, -0, 7] as unknown as string[], 'kite.big': 2 ** 60, 'kite.nan': NaN, 'kite.neg': -12, 'kite.zero': 0, 'kite.p10': 1000, 'kite.p9': 999, 'kite.top': 999_999_999_999_999, 'kite.e15': 1e15 },
    { ...odd[4]!, 'kite.mixed': ['x', true, null] as unknown as string[], 'kite.empty': [], 'kite.inf': -Infinity },
    { ...odd[0]!, 'process.command_line': 'z'.repeat(100_000) },
  ];
  const all = [...makeRecords('ecs', 400), ...odd, ...tricky, ...makeRecords('ecs2', 200), ...tricky];
  const out = all.map((r) => bytes(r));
  // every slice still holds its record once later records filled newer arenas
  all.forEach((r, i) => assert.deepEqual(out[i], Buffer.from(text(r), 'utf8'), JSON.stringify(r).slice(0, 200)));
});
