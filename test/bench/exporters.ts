/**
 * Exporter benchmark: a recorded event stream replayed into each exporter and its real peer (Kafka
 * KRaft, OpenTelemetry Collector over OTLP/gRPC and OTLP/HTTP), side by side with the file exporter
 * as the baseline. Each case runs in a fresh child process: events/s from the first record to the
 * last one acknowledged by the peer, agent CPU (user+system, in cores) and peak RSS. Zero loss is
 * checked twice: no drop counter moved, and the peer holds every record.
 *
 *   node dist/test/bench/exporters.js            all cases; a markdown table on stdout
 *   KITE_BENCH_EVENTS=200000 (default)           records per case
 *   KITE_BENCH_SETTINGS='{"sending_queue":{"num_consumers":4}}'   merged over the network exporters' settings
 *
 * Exporter settings: the defaults (batches of 1000, 2 requests in flight, kafka idempotent with acks
 * all and ECS values, otlp gzip) with `sending_queue.queue_size: 5000`.
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { KiteRecord } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { createHost } from '../../src/pipeline/service';
import { makeRecords } from '../helpers/events';
import { createExporter } from '../helpers/exporters';
import { Collector, KafkaBroker, waitFor } from '../helpers/peers';
import { benchInt, log, QUICK } from './common';

interface Result {
  name: string;
  events: number;
  seconds: number;
  cpuCores: number;
  rssMb: number;
  delivered: number;
  dropped: number;
}

const CASES = ['file', 'kafka', 'otlp', 'otlp_http'] as const;
type Case = (typeof CASES)[number];

/** Child: replays the stream into one exporter, prints a JSON result line. */
async function runCase(kind: Case, streamFile: string, endpoint: string, outDir: string): Promise<void> {
  const host = createHost(createLogger('warn'));
  const key = `${kind}/bench`;
  // defaults but a smaller queue: the replay outruns every peer, so a full default queue (20k
  // records) would only add resident memory, not throughput
  const queue = { queue_size: 5000 };
  const base: Record<string, unknown> =
    kind === 'file'
      ? { path: join(outDir, 'file.jsonl') }
      : kind === 'kafka'
        ? { brokers: [endpoint], topic: 'kite-bench', key: 'exec_id', schema: 'ecs', sending_queue: queue }
        : { endpoint, sending_queue: queue };
  // KITE_BENCH_SETTINGS: JSON merged over every network exporter's settings (one level deep), to try knobs
  const extra = kind === 'file' ? {} : (JSON.parse(process.env.KITE_BENCH_SETTINGS ?? '{}') as Record<string, unknown>);
  const settings: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    settings[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(settings[k] as object), ...v } : v;
  }
  const exp = createExporter(key, settings, host);
  await exp.start();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  // the stream is read as the agent would receive it: line by line, never all in memory
  let events = 0;
  const lines = createInterface({ input: createReadStream(streamFile, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const r = JSON.parse(line) as KiteRecord;
    events++;
    if (exp instanceof QueuedExporter) {
      if (exp.backpressure) await exp.offer(r);
      else exp.consume(r);
    } else {
      exp.consume(r);
      // the file exporter's writer is bounded by bytes: give it one event-loop turn per chunk
      if (events % 5000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await exp.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await exp.shutdown();
  const stats = host.stats.snapshot()[`exporter/${key}`] ?? {};
  const dropped = Object.entries(stats).filter(([k]) => k.startsWith('dropped.')).reduce((s, [, v]) => s + v, 0);
  const result: Result = {
    name: kind,
    events,
    seconds,
    cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    rssMb: peakRss / 2 ** 20,
    delivered: stats.sent ?? 0,
    dropped,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function child(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`case ${args[1]} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const n = benchInt('KITE_BENCH_EVENTS', 200_000, 50_000);
  const work = mkdtempSync(join(tmpdir(), 'kite-bench-exporters-'));
  const stream = join(work, 'stream.jsonl');
  writeFileSync(stream, `${makeRecords('bench', n).map((r) => JSON.stringify(r)).join('\n')}\n`);
  log(`recorded stream: ${n} records, ${(statSync(stream).size / 2 ** 20).toFixed(1)} MiB`);
  const collector = new Collector(join(work, 'otelcol'));
  const broker = new KafkaBroker(join(work, 'kafka'));
  const results: Result[] = [];
  const verified: Record<string, string> = {};
  try {
    log('starting peers');
    await Promise.all([collector.start(), broker.start()]);
    for (const c of CASES) {
      log(`case ${c}`);
      const endpoint = c === 'kafka' ? broker.bootstrap : c === 'otlp' ? collector.grpcEndpoint : c === 'otlp_http' ? collector.httpEndpoint : '';
      const r = await child(['--case', c, stream, endpoint, work]);
      results.push(r);
      // the peer holds every record: zero loss, end to end
      if (c === 'kafka') {
        const got = await broker.readTopic('kite-bench', n, 120_000);
        verified[c] = `${new Set(got.map((m) => JSON.parse(m.value).event.id)).size}`;
      } else if (c === 'otlp' || c === 'otlp_http') {
        const want = (c === 'otlp' ? 1 : 2) * n;
        const count = await waitFor('the collector to write every record', () => {
          const k = collector.records().length;
          return k >= want ? k : undefined;
        }, 60_000, 500).catch(() => collector.records().length);
        verified[c] = `${count - (c === 'otlp' ? 0 : n)}`;
      } else {
        verified[c] = `${readFileSync(join(work, 'file.jsonl'), 'utf8').split('\n').length - 1}`;
      }
    }
  } finally {
    await Promise.allSettled([collector.stop(), broker.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
  const base = results.find((r) => r.name === 'file');
  const lines = [
    `| exporter -> peer | events | events/s | vs file | agent CPU (cores) | peak RSS (MB) | sent / at peer | dropped |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  const peer: Record<string, string> = { file: 'file (baseline)', kafka: 'kafka -> Kafka 4.1 KRaft (ecs)', otlp: 'otlp -> collector (gRPC)', otlp_http: 'otlp_http -> collector (HTTP)' };
  for (const r of results) {
    const rate = r.events / r.seconds;
    lines.push(
      `| ${peer[r.name]} | ${r.events} | ${Math.round(rate).toLocaleString('en-US')} | ${base ? (rate / (base.events / base.seconds)).toFixed(2) : '-'} | ${r.cpuCores.toFixed(2)} | ${r.rssMb.toFixed(0)} | ${r.delivered} / ${verified[r.name]} | ${r.dropped} |`,
    );
  }
  process.stdout.write(`### Exporters: a recorded stream of ${n} records into each exporter and its real peer${QUICK ? ' (quick run)' : ''}\n\n${lines.join('\n')}\n`);
}

if (process.argv[2] === '--case') {
  const [, , , kind, stream, endpoint, outDir] = process.argv;
  runCase(kind as Case, stream!, endpoint!, outDir!).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
