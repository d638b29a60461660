/**
 * The kafka exporter against a real single-node Apache Kafka (KRaft): every record read back by a
 * consumer, field by field; the broker stopped and started mid-stream; the agent SIGKILLed with the
 * persistent queue holding records and started again. Nothing may be missing.
 */
// the kafka exporter's kafkajs replacements go in before this file's own Kafka client loads kafkajs,
// as in the agent, where the exporter is the first to load it
import '../../src/exporters/kafka/kafkajs-patches';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { ecsEventId, makeRecord, makeRecords } from '../helpers/events';
import { createExporter, streamAcrossRestart } from '../helpers/exporters';
import { testHost } from '../helpers/host';
import { KafkaBroker, sleep, waitFor } from '../helpers/peers';

const work = mkdtempSync(join(tmpdir(), 'kite-kafka-'));
const broker = new KafkaBroker(join(work, 'broker'));
const fastRetry = { initial_interval: '100ms', max_interval: '1s', max_elapsed_time: 0 };

before(async () => {
  await broker.start();
});

after(async () => {
  await broker.stop();
  rmSync(work, { recursive: true, force: true });
});

const ids = (msgs: { value: string }[], pick: (doc: any) => string): Set<string> => new Set(msgs.map((m) => pick(JSON.parse(m.value))));
const eventId = (m: { value: string }): string => ecsEventId(m.value);

test('kafka: every record arrives once, as ECS, with its key and schema headers', async () => {
  const host = testHost();
  const topic = 'kite-ecs';
  const exp = createExporter<QueuedExporter>('kafka/ecs', { brokers: [broker.bootstrap], topic, key: 'exec_id', schema: 'ecs', compression: 'gzip' }, host);
  await exp.start();
  const n = 3000;
  for (const r of makeRecords('ecs', n)) await exp.offer(r);
  await exp.flush();
  await exp.shutdown();
  assert.equal(host.stats.get('exporter/kafka/ecs', 'sent'), n);
  const msgs = await broker.readTopic(topic, n);
  const got = ids(msgs, (d) => d.event.id);
  assert.equal(got.size, n);
  for (let i = 0; i < n; i++) assert.ok(got.has(`ecs-${i}`), `ecs-${i} missing`);

  const exec = msgs.map((m) => ({ ...m, doc: JSON.parse(m.value) })).find((m) => m.doc.event.id === 'ecs-0')!;
  assert.equal(exec.key, 'exec-1000');
  assert.equal(exec.headers['kite.schema'], 'ecs');
  assert.equal(exec.headers['kite.schema.version'], '8.11.0');
  assert.deepEqual(exec.doc.event.category, ['process']);
  assert.deepEqual(exec.doc.event.type, ['start']);
  assert.equal(exec.doc.event.action, 'process.exec');
  assert.equal(exec.doc.event.sequence, 1);
  assert.equal(exec.doc.process.pid, 1000);
  assert.equal(exec.doc.process.parent.pid, 1);
  assert.equal(exec.doc.process.executable, '/usr/bin/curl');
  assert.equal(exec.doc.process.command_line, 'curl -s https://example.test/0');
  assert.deepEqual(exec.doc.process.args, ['curl', '-s', 'https://example.test/0']);
  assert.equal(exec.doc.process.entity_id, 'exec-1000');
  assert.equal(exec.doc.user.name, 'alice');
  assert.equal(exec.doc['@timestamp'], makeRecord('ecs', 0).time);

  const doc = (id: string) => msgs.map((m) => JSON.parse(m.value)).find((d) => d.event.id === id);
  assert.equal(doc('ecs-1').process.exit_code, 1);
  assert.deepEqual(doc('ecs-1').event.type, ['end']);
  assert.equal(doc('ecs-2').file.path, '/etc/passwd.2');
  assert.deepEqual(doc('ecs-2').event.category, ['file']);
  assert.equal(doc('ecs-3').destination.ip, '192.0.2.10');
  assert.equal(doc('ecs-3').destination.port, 443);
  assert.equal(doc('ecs-3').network.transport, 'tcp');
  assert.equal(doc('ecs-4').dns.question.name, 'host4.example.test');
  assert.equal(doc('ecs-4').network.protocol, 'dns');
});

test('kafka: OCSF classes and OTLP JSON values, topic templated by event kind', async () => {
  const host = testHost();
  const ocsf = createExporter<QueuedExporter>('kafka/ocsf', { brokers: [broker.bootstrap], topic: 'kite-ocsf-{event.kind}', schema: 'ocsf', key: 'host' }, host);
  const otel = createExporter<QueuedExporter>('kafka/otel', { brokers: [broker.bootstrap], topic: 'kite-otel', schema: 'otel', key: 'none', acks: 'leader', idempotent: false }, host);
  await ocsf.start();
  await otel.start();
  for (const r of makeRecords('oc', 50)) {
    ocsf.consume(r);
    otel.consume(r);
  }
  await Promise.all([ocsf.flush(), otel.flush()]);
  await Promise.all([ocsf.shutdown(), otel.shutdown()]);
  assert.equal(host.stats.get('exporter/kafka/ocsf', 'sent'), 50, JSON.stringify(host.stats.snapshot()));
  assert.equal(host.stats.get('exporter/kafka/otel', 'sent'), 50, JSON.stringify(host.stats.snapshot()));

  const all = await broker.readTopics(['kite-ocsf-process', 'kite-ocsf-file', 'kite-ocsf-network', 'kite-ocsf-dns', 'kite-otel'], 100);
  const proc = all.get('kite-ocsf-process')!.map((m) => ({ ...m, doc: JSON.parse(m.value) }));
  assert.equal(proc.length, 20);
  const launch = proc.find((m) => m.doc.metadata.uid === 'oc-0')!;
  assert.equal(launch.key, 'test-host');
  assert.equal(launch.headers['kite.schema'], 'ocsf');
  assert.equal(launch.doc.class_uid, 1007);
  assert.equal(launch.doc.activity_id, 1);
  assert.equal(launch.doc.type_uid, 100701);
  assert.equal(launch.doc.process.pid, 1000);
  assert.equal(launch.doc.process.cmd_line, 'curl -s https://example.test/0');
  assert.equal(launch.doc.process.parent_process.pid, 1);
  const exit = proc.find((m) => m.doc.metadata.uid === 'oc-1')!;
  assert.equal(exit.doc.type_uid, 100702);
  const file = all.get('kite-ocsf-file')!.map((m) => JSON.parse(m.value));
  assert.equal(file[0].class_uid, 1001);
  assert.equal(file[0].activity_id, 14);
  assert.match(file[0].file.path, /^\/etc\/passwd\./);
  assert.equal(file[0].actor.process.pid > 0, true);
  const net = all.get('kite-ocsf-network')!.map((m) => JSON.parse(m.value));
  assert.equal(net[0].class_uid, 4001);
  assert.equal(net[0].dst_endpoint.ip, '192.0.2.10');
  assert.equal(net[0].dst_endpoint.port, 443);
  const dns = all.get('kite-ocsf-dns')!.map((m) => JSON.parse(m.value));
  assert.equal(dns[0].class_uid, 4003);
  assert.match(dns[0].query.hostname, /\.example\.test$/);

  const otlp = all.get('kite-otel')!.map((m) => ({ ...m, doc: JSON.parse(m.value) }));
  assert.equal(otlp.length, 50);
  assert.equal(otlp[0]!.key, null);
  const rl = otlp[0]!.doc.resourceLogs[0];
  const res = Object.fromEntries(rl.resource.attributes.map((a: any) => [a.key, a.value.stringValue]));
  assert.equal(res['service.name'], 'kite');
  assert.equal(res['os.type'], 'linux');
  const lr = rl.scopeLogs[0].logRecords[0];
  assert.ok(['process.exec', 'process.exit', 'file.open', 'network.connect', 'dns.query'].includes(lr.eventName));
  assert.ok(lr.attributes.some((a: any) => a.key === 'kite.event_id'));
});

test('kafka: the broker stopped mid-stream and started again: every record arrives', async () => {
  const topic = 'kite-restart';
  const n = 6000;
  await streamAcrossRestart('kafka/restart', { brokers: [broker.bootstrap], topic, timeout: '2s', retry_on_failure: fastRetry }, broker, 'rs', n);
  // copies (at least once) must not end the read before every id has come
  const got = ids(await broker.readTopic(topic, n, 60_000, eventId), (d) => d.event.id);
  const missing = Array.from({ length: n }, (_, k) => `rs-${k}`).filter((id) => !got.has(id));
  assert.deepEqual(missing, []);
});

test('kafka: the agent SIGKILLed with records in the persistent queue delivers them after a restart', async () => {
  const dir = join(work, 'queue');
  const topic = 'kite-sigkill';
  const child = (args: string[]) => spawn(process.execPath, [join(__dirname, '..', 'helpers', 'queue-agent.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const settings = JSON.stringify({ brokers: [broker.bootstrap], topic, timeout: '1s', sending_queue: { directory: dir }, retry_on_failure: fastRetry });

  await broker.stop();
  const first = child([settings, 'sk', '2000']);
  let out = '';
  first.stdout!.on('data', (d) => (out += d));
  await waitFor('the agent to queue its records', () => out.includes('queued'), 30_000);
  await sleep(300);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  await broker.start();
  const second = child([settings, 'sk', '0']);
  let out2 = '';
  second.stdout!.on('data', (d) => (out2 += d));
  await waitFor('the restarted agent to drain its queue', () => out2.includes('drained'), 90_000);
  second.kill('SIGTERM');
  await new Promise((r) => second.once('exit', r));
  const got = ids(await broker.readTopic(topic, 2000, 60_000, eventId), (d) => d.event.id);
  const missing = Array.from({ length: 2000 }, (_, k) => `sk-${k}`).filter((id) => !got.has(id));
  assert.deepEqual(missing, []);
});
