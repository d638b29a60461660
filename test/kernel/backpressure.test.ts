// kite:host-only (starts the collector peer)
/**
 * `on_full: block` pushes back to the kernel: exec -> [otlp, file], with the collector down. The otlp
 * queue fills, the service pauses the exec receiver's ring-buffer reader, the kernel ring fills and the
 * kernel counts what it cannot queue (`ring_full`), which the stream reports in `kite.loss` records;
 * the queue never refuses a record and memory stays bounded by it. Once the collector is up the queue
 * drains, the reader resumes and new events flow again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { STALL_MS } from '../../src/bpf/ringbuf';
import { createLogger } from '../../src/component/logger';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { createHost, Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { Collector, PORTS, waitFor } from '../helpers/peers';

const TAG = `kite-bp-${randomUUID().slice(0, 8)}`;
const QUEUE = 200;
const dir = mkdtempSync(join(tmpdir(), 'kite-backpressure-'));
const out = join(dir, 'records.jsonl');
const collector = new Collector(join(dir, 'otelcol'));
const host = createHost(createLogger('warn'));
let service: Service | null = null;

const config = `
receivers:
  exec: { ring_buffer_size: 64KiB }
exporters:
  otlp:
    endpoint: 127.0.0.1:${PORTS.otlpGrpc}
    compression: none
    timeout: 2s
    sending_queue: { queue_size: ${QUEUE}, batch_size: 50, on_full: block }
    retry_on_failure: { initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0 }
  file: { path: ${out} }
service:
  pipelines:
    main: { receivers: [exec], exporters: [otlp, file] }
`;

const lines = (): KiteRecord[] => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KiteRecord) : []);
const stat = (component: string, name: string): number => host.stats.snapshot()[component]?.[name] ?? 0;
/** The echo execs of a storm (not the shell that runs them, whose command line also has the tag). */
const echoOf = (commandLine: unknown, tag: string): boolean => String(commandLine ?? '').startsWith(`/bin/echo ${tag}-`);
const tagged = (r: KiteRecord, tag: string): boolean => echoOf(r['process.command_line'], tag);

/** `count` execs of /bin/echo, one after the other, each with the tag in its command line. */
async function storm(tag: string, count: number): Promise<void> {
  const p = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${count} ]; do /bin/echo ${tag}-$i >/dev/null; i=$((i+1)); done`], { stdio: 'ignore' });
  const [code] = (await once(p, 'exit')) as [number | null];
  assert.equal(code, 0);
}

after(async () => {
  await service?.shutdown();
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a full queue under block pauses the ring-buffer reader: loss is counted in the kernel and reported, never buffered in the agent', async () => {
  setLibbpfLogger(() => {});
  Collector.build(); // before the clock starts: a cold build takes minutes
  service = new Service(resolveConfig(parseConfigText(config), createRegistry()), host);
  await service.start();

  // the collector is down: the otlp queue fills and stays full
  await storm(`${TAG}-a`, 3000);
  await waitFor('a kite.loss record naming the kernel ring buffer', () => lines().some((r) => r['event.name'] === 'kite.loss' && String(r['kite.loss.reasons']).includes('receiver/exec:ring_full')), 10_000, 200);

  assert.ok(stat('exporter/otlp', 'backpressure') >= 1, 'the queue reported backpressure');
  assert.ok(stat('receiver/exec', 'paused') >= 1, 'the receiver was paused');
  assert.ok(stat('receiver/exec', 'ring_full') > 0, 'the kernel counted what it could not queue');
  assert.equal(stat('exporter/otlp', 'dropped.queue_full'), 0, 'the queue never had to refuse a record');
  const agentRecords = lines().filter((r) => r['event.name'].startsWith('kite.')).length;
  assert.ok(stat('exporter/otlp', 'received') <= QUEUE + agentRecords, `memory bounded by the queue: ${stat('exporter/otlp', 'received')} records taken`);
  const seenA = lines().filter((r) => tagged(r, `${TAG}-a`)).length;
  assert.ok(seenA < 3000, `the events past the pause waited in (and were lost by) the kernel ring, not the agent: ${seenA} of 3000 read`);

  // a paused reader is not a stalled one: /healthz stays green past the stall threshold
  assert.ok(stat('receiver/exec', 'paused') >= 1);
  await new Promise((r) => setTimeout(r, STALL_MS + 1000));
  assert.deepEqual(service.healthProblems(), [], 'no health problem while paused by backpressure');

  // the collector comes up: the queue drains, the reader resumes, new events flow to both exporters
  await collector.start();
  await waitFor('the queue to drain', () => stat('exporter/otlp', 'sent') >= stat('exporter/otlp', 'received') - 5 || undefined, 30_000, 200);
  await storm(`${TAG}-b`, 20);
  const arrived = await waitFor('the events after the resume at the collector', () => {
    const got = new Set(collector.records().filter((r) => echoOf(r.attributes['process.command_line'], `${TAG}-b`)).map((r) => r.attributes['process.command_line']));
    return got.size >= 20 ? got : undefined;
  }, 20_000, 250);
  assert.equal(arrived.size, 20, 'every event after the resume arrived');
  assert.ok(collector.records().some((r) => r.eventName === 'kite.loss'), 'the loss record went through the blocked queue too');
  // what was still in the ring at the pause has been read since; the rest is accounted as lost
  const readA = lines().filter((r) => tagged(r, `${TAG}-a`)).length;
  const lost = lines().filter((r) => r['event.name'] === 'kite.loss').reduce((s, r) => s + Number(r['kite.loss.count']), 0);
  assert.ok(lost >= 3000 - readA, `the loss records account for every event not read (${lost} reported, ${3000 - readA} of ours missing)`);
  assert.equal(stat('exporter/otlp', 'dropped.queue_full'), 0);
});
