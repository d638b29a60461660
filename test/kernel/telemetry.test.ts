// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * Self-telemetry of a running agent: /readyz turns ready once receivers are attached and exporters
 * have reached their destination, /metrics counts what each component received, emitted, sent,
 * filtered and dropped, and the counts add up while a storm runs; /healthz fails when a receiver's
 * ring reader dies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { AddressInfo, createServer as createTcpServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITE, ROOT } from '../helpers/paths';
import { waitFor } from '../helpers/kernel';
import { createLogger } from '../../src/component/logger';
import { native } from '../../src/bpf/libbpf';
import { resolveConfig } from '../../src/pipeline/config';
import { createHost, Service } from '../../src/pipeline/service';
import { Telemetry } from '../../src/pipeline/telemetry';
import { createRegistry } from '../../src/registry';
import { tempDir } from '../helpers/tmp';

function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(line.indexOf('{') + 1, line.indexOf('}'));
    if (want.every((w) => inside.split(',').includes(w))) return Number(line.slice(line.indexOf('}') + 1));
  }
  return 0;
}

test('/healthz, /readyz and /metrics of a running agent; counters add up', async () => {
  const dir = tempDir('tel');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, `receivers: {exec: {}}\nexporters: {file: {path: ${join(dir, 'out.jsonl')}}}\nservice:\n  telemetry: {address: "127.0.0.1:0"}\n  pipelines: {main: {receivers: [exec], exporters: [file]}}\n`);
  const agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    const address = await waitFor(() => err.split('\n').filter((l) => l.includes('"telemetry listening"')).map((l) => JSON.parse(l).address as string)[0], 15000, 'the telemetry address');
    const base = `http://${address}`;
    await waitFor(() => (err.includes('"msg":"ready"') ? true : undefined), 15000, 'ready');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    for (let i = 0; i < 20; i++) await once(spawn('/bin/true'), 'exit');
    await new Promise((r) => setTimeout(r, 300));
    const text = await (await fetch(`${base}/metrics`)).text();
    const rx = { component: 'receiver/exec' };
    const received = metric(text, 'kite_events_total', { ...rx, outcome: 'received' });
    const emitted = metric(text, 'kite_events_total', { ...rx, outcome: 'emitted' });
    assert.ok(received >= 60, `exec, fork and exit of 20 processes were received: ${received}`);
    const decodeDrops = text.split('\n').filter((l) => l.startsWith('kite_events_total{') && l.includes('component="receiver/exec"') && l.includes('reason="decode_')).map((l) => Number(l.split(' ').pop())).reduce((a, b) => a + b, 0);
    assert.equal(received, emitted + decodeDrops, 'receiver: received = emitted + dropped');
    const ex = { component: 'exporter/file' };
    const exReceived = metric(text, 'kite_events_total', { ...ex, outcome: 'received' });
    assert.ok(exReceived > 0 && exReceived <= emitted);
    assert.equal(metric(text, 'kite_events_total', { ...rx, outcome: 'dropped', reason: 'ring_full' }), 0);
    // what config/grafana/kite-dashboard.json queries
    for (const name of ['kite_process_resident_memory_bytes', 'kite_process_cpu_seconds_total', 'kite_nodejs_eventloop_lag_p99_seconds']) {
      assert.match(text, new RegExp(`^${name} [0-9.e+-]+$`, 'm'), name);
    }
    const dashboard = readFileSync(join(ROOT, 'config', 'grafana', 'kite-dashboard.json'), 'utf8');
    for (const [, name] of dashboard.matchAll(/\b(kite_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b/g)) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name}, which the dashboard queries, is served`);
    }
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
});

/** Every kite_events_total sample as { component: { "outcome/reason": value } }. */
function flows(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const m = /^kite_events_total\{component="([^"]+)",outcome="([^"]+)",reason="([^"]*)"\} (\S+)$/.exec(line);
    if (!m) continue;
    const c = out.get(m[1]!) ?? new Map<string, number>();
    c.set(`${m[2]}/${m[3]}`, Number(m[4]));
    out.set(m[1]!, c);
  }
  return out;
}

const sumOf = (c: Map<string, number>, outcome: string): number => [...c].filter(([k]) => k.startsWith(`${outcome}/`)).reduce((a, [, v]) => a + v, 0);

async function waitAsync<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startAgent(yaml: string): { agent: ReturnType<typeof spawn>; log: () => string; dir: string } {
  const dir = tempDir('tel');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, yaml.replaceAll('DIR', dir));
  const agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  return { agent, log: () => err, dir };
}

const addressOf = (log: () => string): Promise<string> =>
  waitFor(() => log().split('\n').filter((l) => l.includes('"telemetry listening"')).map((l) => JSON.parse(l).address as string)[0], 15000, 'the telemetry address');

test('during an exec storm every scrape adds up: received + added = emitted + filtered + dropped (+ held), per component', async () => {
  const { agent, log, dir } = startAgent(`receivers: {exec: {}}
processors:
  enrich: {}
  filter: {exclude: 'kite.process.comm == "sleep"'}
  dedupe: {keys: [event.name, kite.process.comm], window: 200ms}
  batch: {send_batch_size: 64, timeout: 50ms}
exporters: {file: {path: DIR/out.jsonl}}
service:
  telemetry: {address: "127.0.0.1:0", bpf_stats: true}
  pipelines: {main: {receivers: [exec], processors: [enrich, filter, dedupe, batch], exporters: [file]}}
`);
  let stoppedStats: Record<string, Record<string, number>> | undefined;
  try {
    const base = `http://${await addressOf(log)}`;
    await waitFor(() => (log().includes('"msg":"ready"') ? true : undefined), 15000, 'ready');
    // about 3000 execs, forks and exits each, plus sleeps the filter removes
    const storm = spawn('/bin/sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do /bin/true; [ $((i % 100)) -eq 0 ] && sleep 0; i=$((i+1)); done'], { stdio: 'ignore' });
    const stormDone = once(storm, 'exit');
    let scrapes = 0;
    let stormOver = false;
    void stormDone.then(() => { stormOver = true; });
    const checkScrape = (text: string): void => {
      for (const [component, c] of flows(text)) {
        const received = sumOf(c, 'received');
        const emitted = sumOf(c, 'emitted') + sumOf(c, 'sent');
        const filtered = sumOf(c, 'filtered');
        const dropped = sumOf(c, 'dropped');
        const added = sumOf(c, 'added');
        if (component.startsWith('receiver/')) {
          // kernel-side outcomes (filtered, ring_full) happen before a record is received
          const decodeDrops = [...c].filter(([k]) => k.startsWith('dropped/decode_')).reduce((a, [, v]) => a + v, 0);
          assert.equal(received, emitted + decodeDrops, `${component}: received = emitted + decode drops in ${JSON.stringify([...c])}`);
        } else if (component.startsWith('processor/')) {
          const held = metric(text, 'kite_component_value', { component, name: 'held' });
          assert.equal(received + added, emitted + filtered + dropped + held, `${component}: received + added = emitted + filtered + dropped + held in ${JSON.stringify([...c])}, held ${held}`);
        }
      }
    };
    while (!stormOver) {
      checkScrape(await (await fetch(`${base}/metrics`)).text());
      scrapes++;
      await new Promise((r) => setTimeout(r, 150));
    }
    await stormDone;
    await new Promise((r) => setTimeout(r, 1500)); // processors publish every second
    const text = await (await fetch(`${base}/metrics`)).text();
    checkScrape(text);
    assert.ok(scrapes >= 3, `scraped ${scrapes} times during the storm`);
    const f = flows(text);
    assert.ok(sumOf(f.get('receiver/exec')!, 'received') >= 9000, 'exec, fork and exit of 3000 processes were received');
    assert.ok(sumOf(f.get('processor/dedupe')!, 'added') > 0, 'dedupe added summaries');
    assert.ok(sumOf(f.get('processor/dedupe')!, 'dropped') > 0, 'dedupe folded repeats');
    // the kernel's run statistics of the exec receiver's programs
    const runs = text.split('\n').filter((l) => l.startsWith('kite_bpf_program_runs_total{component="receiver/exec"'));
    assert.ok(runs.length >= 3, runs.join('\n'));
    const runsOf = (prog: string): number => metric(text, 'kite_bpf_program_runs_total', { component: 'receiver/exec', program: prog });
    assert.ok(runsOf('handle_exec') >= 3000, `handle_exec ran for every exec: ${runsOf('handle_exec')}`);
    assert.ok(metric(text, 'kite_bpf_program_run_seconds_total', { component: 'receiver/exec', program: 'handle_exec' }) > 0);
    // the process table's levels
    assert.ok(metric(text, 'kite_component_value', { component: 'processor/enrich', name: 'process_table_size' }) > 10);
    assert.match(text, /^kite_component_value\{component="processor\/enrich",name="process_table_exited"\} \d+$/m);
    assert.match(text, /^kite_component_counter_total\{component="processor\/batch",name="batches"\} \d+$/m);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
    const stopped = log().split('\n').filter((l) => l.includes('"msg":"stopped"')).map((l) => JSON.parse(l))[0];
    stoppedStats = stopped?.stats;
  }
  // after the end every record is accounted for from the kernel to the file
  assert.ok(stoppedStats, 'the agent logged its final counters');
  const s = stoppedStats!;
  const chain = ['receiver/exec', 'processor/enrich', 'processor/filter', 'processor/dedupe', 'processor/batch'];
  for (let i = 1; i < chain.length; i++) {
    assert.equal(s[chain[i]!]!.received, s[chain[i - 1]!]!.emitted, `${chain[i - 1]} emitted what ${chain[i]} received`);
  }
  const written = readFileSync(join(dir, 'out.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const health = written.filter((r) => r['event.name'] === 'kite.heartbeat' || r['event.name'] === 'kite.loss').length;
  assert.equal(s['exporter/file']!.received, s['processor/batch']!.emitted + health, 'the exporter got the pipeline\'s records and the stream-health records');
  assert.equal(written.length, s['exporter/file']!.received, 'and wrote every one');
});

test('/readyz waits for an exporter until its destination starts listening', async () => {
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { agent, log } = startAgent(`receivers: {exec: {}}
exporters:
  file: {path: DIR/out.jsonl}
  otlp_http: {endpoint: "http://127.0.0.1:${port}", retry_on_failure: {initial_interval: 100ms, max_interval: 500ms}}
service:
  telemetry: {address: "127.0.0.1:0"}
  pipelines: {main: {receivers: [exec], exporters: [file, otlp_http]}}
`);
  const collector = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  try {
    const base = `http://${await addressOf(log)}`;
    await waitFor(() => (log().includes('"msg":"ready"') ? true : undefined), 15000, 'ready');
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${base}/readyz`);
      const body = await r.text();
      assert.equal(r.status, 503, 'not ready while nothing listens on the collector port');
      assert.match(body, /exporter\/otlp_http: not connected/);
      assert.doesNotMatch(body, /exporter\/file|receiver\/exec/, 'the file exporter and the attached receiver are not awaited');
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'alive all along');
    await new Promise<void>((r) => collector.listen(port, '127.0.0.1', () => r()));
    await waitAsync(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 5000, '/readyz 200 once the collector listens');
    assert.match(log(), /"component":"exporter\/otlp_http","how":"(probe|delivered)","msg":"exporter reached its destination"/);
    // records now reach the collector: the export latency histogram has successful requests
    for (let i = 0; i < 5; i++) await once(spawn('/bin/true'), 'exit');
    const count = await waitAsync(async () => {
      const n = metric(await (await fetch(`${base}/metrics`)).text(), 'kite_export_duration_seconds_count', { component: 'exporter/otlp_http', result: 'success' });
      return n > 0 ? n : undefined;
    }, 10000, 'a successful export request');
    assert.ok(count >= 1);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
    collector.close();
  }
});

test('/healthz fails when a receiver\'s ring reader dies', async () => {
  const logger = createLogger('error', () => {});
  const cfg = resolveConfig({ receivers: { exec: {} }, exporters: { file: { path: join(tempDir('tel'), 'out.jsonl') } }, service: { pipelines: { main: { receivers: ['exec'], exporters: ['file'] } } } }, createRegistry());
  const host = createHost(logger);
  const service = new Service(cfg, host);
  const telemetry = new Telemetry(host.stats, logger);
  telemetry.setReadiness(() => service.readiness());
  telemetry.setHealth(() => service.healthProblems());
  await telemetry.start('127.0.0.1:0');
  const base = `http://${(telemetry as unknown as { server: { address(): AddressInfo } }).server.address().address}:${(telemetry as unknown as { server: { address(): AddressInfo } }).server.address().port}`;
  try {
    await service.start();
    telemetry.setReady(true);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    // the reader's epoll descriptor goes away under it: epoll_wait fails from then on
    const receiver = (service as unknown as { graph: { receivers: Map<string, { inst: { reader: { epfd: number } } }> } }).graph.receivers.get('exec')!.inst;
    native.close(receiver.reader.epfd);
    const body = await waitAsync(async () => {
      const r = await fetch(`${base}/healthz`);
      return r.status === 503 ? r.text() : undefined;
    }, 5000, '/healthz 503');
    assert.match(body, /receiver\/exec: ring reader of exec_events stopped: epoll_wait failed/);
  } finally {
    await service.shutdown();
    await telemetry.stop();
  }
});
