/**
 * Scale: how the stateful single-node pieces grow, and where Kafka takes over.
 *
 * 1. The enrich process table and the dedupe state with 10k, 100k and 1M distinct processes / keys
 *    (quick: 10k and 100k): fill cost (µs per record that creates an entry), memory per entry (heap
 *    after a full GC, so run with --expose-gc; run.sh does), and the per-record cost once the state is
 *    that large (records of random known processes through enrich; repeats of random keys through
 *    dedupe).
 * 2. Fleet: N agents' worth of a recorded stream (test/helpers/events, each agent its own host.name)
 *    into one Kafka topic, each agent a process with Kite's kafka exporter (defaults: batches of 1000,
 *    acks all, idempotent, ECS); aggregate records/s into the broker, the broker's CPU, and every
 *    record counted back from the topic's offsets.
 *
 * Prints markdown tables; writes build/bench/scale.summary.json. Environment: BENCH_SCALE_SIZES
 * (10000,100000,1000000; quick 10000,100000), BENCH_FLEET_AGENTS (1,2,4,8; quick 1,2,4),
 * BENCH_FLEET_RECORDS (50000 per agent; quick 10000), KITE_BENCH_KAFKA, KITE_BENCH_KAFKA_PID.
 */
// the kafka exporter's kafkajs replacements go in before this file's own Kafka client loads kafkajs,
// as in the agent, where the exporter is the first to load it
import '../../src/exporters/kafka/kafkajs-patches';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Subject } from 'rxjs';
import { KiteRecord, parseComponentId, Processor } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { createHost } from '../../src/pipeline/service';
import { dedupeFactory } from '../../src/processors/dedupe/factory';
import { enrichFactory } from '../../src/processors/enrich/factory';
import { EnrichProcessor } from '../../src/processors/enrich/processor';
import { makeRecord } from '../helpers/events';
import { createExporter } from '../helpers/exporters';
import { settings } from '../helpers/settings';
import { BENCH_BUILD, benchInt, fmt, int, kafkaBootstrap, log, mdTable, processCpuSeconds, QUICK, ROOT } from './common';

const SIZES = (process.env.BENCH_SCALE_SIZES || (QUICK ? '10000,100000' : '10000,100000,1000000')).split(',').map(Number);
const AGENTS = (process.env.BENCH_FLEET_AGENTS || (QUICK ? '1,2,4' : '1,2,4,8')).split(',').map(Number);
const PER_AGENT = benchInt('BENCH_FLEET_RECORDS', 50_000, 10_000);
const PROBE = 200_000;

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};
const heapMiB = (): number => process.memoryUsage().heapUsed / 2 ** 20;

interface StateRow { piece: string; entries: number; fillUs: number; bytesPerEntry: number; heapMiB: number; probeUs: number; evicted: number }

/** Pushes `n` records made by `make(i)` through `input`; µs per record. */
function push(input: Subject<KiteRecord>, n: number, make: (i: number) => KiteRecord): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) input.next(make(i));
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

async function processTable(n: number, template: KiteRecord): Promise<StateRow> {
  const host = createHost(createLogger('warn'));
  const enrich = enrichFactory.create(parseComponentId('enrich')!, settings(enrichFactory, {
    max_processes: n, max_table_size: '4GiB', exited_ttl: '1h', container_users: false,
  }), host) as EnrichProcessor;
  await enrich.start();
  const input = new Subject<KiteRecord>();
  let out = 0;
  input.pipe(enrich.operator()).subscribe(() => out++);
  const self = process.pid;
  // distinct pids far above pid_max: only the records teach the table about them
  const exec = (i: number): KiteRecord => ({
    ...template, time: new Date().toISOString(), 'kite.event_id': `s-${i}`, 'process.pid': 10_000_000 + i, 'process.parent_pid': self,
    'process.executable.path': `/usr/bin/tool-${i % 500}`, 'process.command_line': `tool-${i % 500} --job ${i}`, 'process.command_args': [`tool-${i % 500}`, '--job', String(i)],
    'kite.process.exec_id': `x${i}`, 'process.creation.time': new Date().toISOString(),
  });
  gc();
  const before = heapMiB();
  const fillUs = push(input, n, exec);
  await enrich.settled();
  gc();
  const after = heapMiB();
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const probeUs = push(input, PROBE, (i) => ({
    time: template.time, 'event.name': 'file.open', 'kite.event_id': `p-${i}`, 'host.name': 'bench', 'process.pid': 10_000_000 + rnd(), 'file.path': '/etc/hostname',
  } as KiteRecord));
  const evicted = host.stats.snapshot()['processor/enrich']?.table_evicted ?? 0;
  await enrich.shutdown();
  input.complete();
  return { piece: 'enrich process table', entries: n, fillUs, bytesPerEntry: ((after - before) * 2 ** 20) / n, heapMiB: after, probeUs, evicted };
}

async function dedupeState(n: number): Promise<StateRow> {
  const host = createHost(createLogger('warn'));
  const dedupe = dedupeFactory.create(parseComponentId('dedupe')!, settings(dedupeFactory, {
    keys: ['event.name', 'process.pid', 'file.path'], window: '1h', max_keys: n,
  }), host) as Processor;
  await dedupe.start();
  const input = new Subject<KiteRecord>();
  let out = 0;
  input.pipe(dedupe.operator()).subscribe(() => out++);
  const rec = (i: number, k: number): KiteRecord => ({
    time: '2026-11-23T08:00:00.000000000Z', 'event.name': 'file.open', 'kite.event_id': `d-${i}`, 'host.name': 'bench', 'process.pid': 1000 + (k % 30000),
    'file.path': `/etc/app/${k}.conf`,
  } as KiteRecord);
  gc();
  const before = heapMiB();
  const fillUs = push(input, n, (i) => rec(i, i));
  gc();
  const after = heapMiB();
  let seed = 777;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const probeUs = push(input, PROBE, (i) => rec(n + i, rnd()));
  const evicted = host.stats.snapshot()['processor/dedupe']?.windows_evicted ?? 0;
  input.complete(); // closes every window: n summaries
  await dedupe.shutdown();
  return { piece: 'dedupe open windows', entries: n, fillUs, bytesPerEntry: ((after - before) * 2 ** 20) / n, heapMiB: after, probeUs, evicted };
}

// --- fleet ---------------------------------------------------------------------------------------

interface AgentResult { records: number; seconds: number; sent: number; dropped: number; cpuS: number }

/** Child: one agent's exporter replaying its stream into the topic. */
async function agent(index: number, records: number, bootstrap: string, topic: string): Promise<void> {
  const host = createHost(createLogger('warn'));
  const exp = createExporter('kafka/fleet', { brokers: [bootstrap], topic, key: 'host', schema: 'ecs', client_id: `kite-fleet-${index}` }, host) as QueuedExporter;
  await exp.start();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < records; i++) {
    const r = makeRecord(`fleet${index}`, i);
    r['host.name'] = `agent-${index}`;
    if (exp.backpressure) await exp.offer(r);
    else exp.consume(r);
  }
  await exp.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const stats = host.stats.snapshot()['exporter/kafka/fleet'] ?? {};
  await exp.shutdown();
  const dropped = Object.entries(stats).filter(([k]) => k.startsWith('dropped.')).reduce((a, [, v]) => a + v, 0);
  const res: AgentResult = { records, seconds, sent: stats.sent ?? 0, dropped, cpuS: (cpu.user + cpu.system) / 1e6 };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

function runAgent(i: number, records: number, topic: string): Promise<AgentResult> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [__filename, '--agent', String(i), String(records), kafkaBootstrap(), topic], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`agent ${i} exited ${code}`))));
  });
}

async function topicTotal(topic: string): Promise<number> {
  const admin = new Kafka({ brokers: [kafkaBootstrap()], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

interface FleetRow { agents: number; records: number; seconds: number; ratePerS: number; perAgentPerS: number; brokerCores: number; agentCpuUsPerRecord: number; inTopic: number; dropped: number }

async function fleet(n: number): Promise<FleetRow> {
  const topic = `kite-fleet-${n}-${Date.now()}`;
  const brokerPid = Number(process.env.KITE_BENCH_KAFKA_PID || 0);
  const b0 = brokerPid ? processCpuSeconds(brokerPid) : NaN;
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => runAgent(i, PER_AGENT, topic)));
  const seconds = (performance.now() - t0) / 1000;
  const brokerS = brokerPid ? processCpuSeconds(brokerPid) - b0 : NaN;
  const inTopic = await topicTotal(topic);
  const records = n * PER_AGENT;
  return {
    agents: n, records, seconds, ratePerS: records / Math.max(...rs.map((r) => r.seconds)), perAgentPerS: median(rs.map((r) => r.records / r.seconds)),
    brokerCores: brokerS / seconds, agentCpuUsPerRecord: (rs.reduce((a, r) => a + r.cpuS, 0) * 1e6) / records, inTopic,
    dropped: rs.reduce((a, r) => a + r.dropped, 0),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) log('scale: run with --expose-gc for exact memory per entry');
  const template = JSON.parse(readFileSync(resolve(ROOT, 'test', 'testdata', 'bench', 'exec-records.jsonl'), 'utf8').split('\n')[0]!) as KiteRecord;
  const state: StateRow[] = [];
  for (const n of SIZES) {
    for (const f of [() => processTable(n, template), () => dedupeState(n)]) {
      const r = await f();
      state.push(r);
      log(`scale ${r.piece} ${int(n)}: fill ${fmt(r.fillUs)} µs, ${int(r.bytesPerEntry)} B/entry, probe ${fmt(r.probeUs)} µs, evicted ${r.evicted}`);
      gc();
    }
  }
  const fleetRows: FleetRow[] = [];
  for (const n of AGENTS) {
    try {
      const r = await fleet(n);
      fleetRows.push(r);
      log(`fleet ${n} agents: ${int(r.ratePerS)} records/s, broker ${fmt(r.brokerCores)} cores, in topic ${r.inTopic}/${r.records}`);
    } catch (e) {
      log(`fleet ${n} agents failed: ${(e as Error).message}`);
      break;
    }
  }
  writeFileSync(resolve(BENCH_BUILD, 'scale.summary.json'), JSON.stringify({ case: 'scale', quick: QUICK, state, fleet: fleetRows, perAgent: PER_AGENT }, null, 1));
  process.stdout.write([
    `### Scale: process table and dedupe state${QUICK ? ' (quick run)' : ''}`,
    '',
    mdTable(['piece', 'entries', 'fill µs/record', 'heap bytes/entry', 'heap MiB with the state', 'µs/record at that size', 'evicted'],
      state.map((r) => [r.piece, int(r.entries), fmt(r.fillUs), int(r.bytesPerEntry), fmt(r.heapMiB, 0), fmt(r.probeUs), int(r.evicted)])),
    '',
    `* enrich: max_processes set to the size, exec records of distinct processes fill the table; then ${int(PROBE)} records of random known processes are enriched. dedupe: max_keys set to the size, a 1 h window, distinct keys fill it; then ${int(PROBE)} repeats of random keys are folded.`,
    '* Heap bytes per entry: V8 heap after a full GC, before and after the fill, divided by the entries.',
    '',
    `### Fleet: N agents into one Kafka topic, ${int(PER_AGENT)} records per agent${QUICK ? ' (quick run)' : ''}`,
    '',
    mdTable(['agents', 'records', 'wall s (agents\' start-up included)', 'records/s into Kafka', 'per agent records/s (median)', 'broker CPU cores', 'agent CPU µs/record', 'records in the topic', 'dropped'],
      fleetRows.map((r) => [String(r.agents), int(r.records), fmt(r.seconds, 1), int(r.ratePerS), int(r.perAgentPerS), fmt(r.brokerCores), fmt(r.agentCpuUsPerRecord, 1), int(r.inTopic), int(r.dropped)])),
    '',
    '* records/s into Kafka: all records over the slowest agent\'s time from its first record to its last acknowledged one; broker CPU over the wall time.',
    '* Each agent is its own process replaying a recorded stream with the kafka exporter\'s defaults (ECS JSON, acks all, idempotent, batches of 1000). All agents and the single broker share this machine\'s 2 CPUs, so the aggregate rate is where this node tops out; on a real fleet each agent has its own node, and the per-agent rate is what one node offers the brokers.',
  ].join('\n') + '\n');
}

if (process.argv[2] === '--agent') {
  const [, , , i, n, bootstrap, topic] = process.argv;
  agent(Number(i), Number(n), bootstrap!, topic!).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    log(`scale failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  });
}
