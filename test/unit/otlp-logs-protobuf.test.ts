/**
 * The otlp exporter's direct protobuf encoder writes the same bytes as the OpenTelemetry JS SDK's
 * serializer does for the log records the exporter would otherwise build, and the SDK's gRPC log
 * exporter takes it in place of its own serializer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { KiteRecord } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { OtlpConfig } from '../../src/exporters/otlp/config';
import { OtlpSender, serializeRecordsDirectly } from '../../src/exporters/otlp/exporter';
import { OtlpLogsEncoder } from '../../src/exporters/otlp/logs-protobuf';
import { agentVersion, resourceAttributes } from '../../src/exporters/resource';
import { createHost } from '../../src/pipeline/service';
import { makeRecords } from '../helpers/events';

const host = createHost(createLogger('warn'));
const sender = new OtlpSender('otlp/test', host, 'grpc', { service_name: 'kite-test' } as OtlpConfig, 1000, 1);
const encoder = new OtlpLogsEncoder(resourceAttributes(host, 'kite-test'), { name: 'kite', version: agentVersion() });
const sdkBytes = (records: KiteRecord[]): Buffer => Buffer.from(ProtobufLogsSerializer.serializeRequest(records.map((r) => sender.toLogRecord(r)))!);

const odd: KiteRecord[] = [
  {
    time: '2026-03-04T05:06:07.123456789Z',
    'event.name': 'kite.loss',
    'kite.event_id': 'odd-1',
    'kite.lost': 4_294_967_296 * 3 + 5,
    'kite.negative': -1,
    'kite.very_negative': -(2 ** 40) - 3,
    'kite.ratio': 0.25,
    'kite.flag': true,
    'kite.off': false,
    'kite.numbers': [1, -2, 3.5],
    'kite.words': ['a', 'ü', ''],
    'kite.unicode': 'é ü ✓ 😀',
    'kite.long': 'x'.repeat(300),
    'kite.longer': 'y'.repeat(20_000),
  },
  { time: '1970-01-01T00:00:00Z', 'event.name': 'rule.match', 'kite.event_id': 'odd-2', 'rule.name': 'r' },
  { time: '2026-01-01T00:00:00.5Z', 'event.name': 'process.exec', 'kite.event_id': 'odd-3', 'process.pid': 1, 'process.command_args': [] },
];

test('the same bytes as the SDK for a batch of the benchmark records', () => {
  const records = makeRecords('proto', 1000);
  assert.deepEqual(Buffer.from(encoder.encode(records)), sdkBytes(records));
});

test('the same bytes as the SDK for large, negative, fractional, boolean, array and non-ASCII values', () => {
  for (const r of odd) {
    assert.deepEqual(Buffer.from(encoder.encode([r])), sdkBytes([r]), r['kite.event_id'] as string);
  }
  const both = [odd[0]!, ...makeRecords('proto', 3), odd[1]!];
  assert.deepEqual(Buffer.from(encoder.encode(both)), sdkBytes(both));
});

test('a request over 2 MiB: lengths of every size', () => {
  const records = makeRecords('big', 4000).map((r, i) => ({ ...r, 'kite.pad': 'p'.repeat(i % 700) }));
  const bytes = Buffer.from(encoder.encode(records));
  assert.ok(bytes.length > 2 << 20);
  assert.deepEqual(bytes, sdkBytes(records));
});

test('the SDK gRPC exporter takes the encoder in place of its serializer', async () => {
  const exporter = new OTLPLogExporter({ url: 'http://127.0.0.1:1' });
  try {
    assert.equal(serializeRecordsDirectly(exporter, encoder), true);
    const delegate = (exporter as unknown as { _delegate: { _serializer: { serializeRequest(x: unknown): Uint8Array } } })._delegate;
    const records = makeRecords('direct', 10);
    assert.deepEqual(Buffer.from(delegate._serializer.serializeRequest(records)), sdkBytes(records));
  } finally {
    await exporter.shutdown();
  }
});
