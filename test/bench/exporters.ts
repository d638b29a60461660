/**
 * Exporter benchmark: a stream of records into each exporter and its real peer (Kafka KRaft, the
 * OpenTelemetry Collector over OTLP/gRPC and OTLP/HTTP), side by side with the file exporter as the
 * baseline and `none` (the stream alone, into nothing) as the cost of the source. Each run of a case
 * is a fresh child process; a case runs several times and its median is reported, after one untimed
 * run against its peer (a broker whose JIT has not compiled its produce path yet is not what a
 * node's agent sends to). The Kafka broker runs with the JVM options Kafka's own scripts give it.
 *
 * What is timed is the exporter, not its source: the records are built before the clock starts, as
 * receivers build them (one plain object per event, semantic-convention keys). A pool of distinct
 * records is built first; the record fed at step i is a fresh shallow copy of pool[i % pool] with its
 * own `kite.event_id` (`<case>-<i>`) and `kite.seq`, which is what the `none` case costs. Per case:
 * events/s from the first record to the last one acknowledged by the peer, agent CPU (user+system)
 * per record and in cores, peak RSS with the heap and the buffers outside it at that peak, and the
 * RSS before the clock started (node, the modules, the pool). Zero loss is checked twice: no drop
 * counter moved, and the peer holds every record, read back by its id.
 *
 *   node dist/test/bench/exporters.js            all cases; a markdown table on stdout
 *   KITE_BENCH_EVENTS=200000 (default)           records per case
 *   KITE_BENCH_EXPORTERS=kafka,otlp              only these cases
 *   KITE_BENCH_EXPORTER_REPS=3 (quick: 1)        timed runs per case; the median is reported, with the range
 *   KITE_BENCH_SETTINGS='{"sending_queue":{"num_consumers":4}}'   merged over the network exporters' settings
 *   KITE_BENCH_CPU_PROF=DIR                      writes a V8 CPU profile of each case's child to DIR
 *   KITE_BENCH_NODE_FLAGS='--max-semi-space-size=8'   node options of each case's child (default: the agent's, KITE_NODE_FLAGS)
 *   KITE_BENCH_COMPARE=/other/dist/test/bench/exporters.js   another build's cases, in turns with this one's against
 *                                                the same peers: a row each (A/B on a noisy host)
 *
 * Exporter settings: the defaults with `sending_queue.queue_size: 5000` (kafka: idempotent, acks
 * all, ECS values, key exec_id; otlp: gzip).
 */
// the kafka exporter's kafkajs replacements go in before this file's own Kafka client loads kafkajs,
// as in the agent, where the exporter is the first to load it
import '../../src/exporters/kafka/kafkajs-patches';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Exporter, KiteRecord } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { QueuedExporter } from '../../src/exporters/queue/queued-exporter';
import { createHost } from '../../src/pipeline/service';
import { ecsEventId, makeRecord } from '../helpers/events';
import { createExporter } from '../helpers/exporters';
import { Collector, KafkaBroker, parseOtlpJsonLines, waitFor } from '../helpers/peers';
import { benchInt, KITE_NODE_FLAGS, log, processCpuSeconds, QUICK } from './common';

interface Result {
  name: string;
  settings: string;
  events: number;
  seconds: number;
  cpuCores: number;
  cpuUsPerRecord: number;
  /** Of which in the kernel (system time): socket writes, page faults. */
  sysUsPerRecord: number;
  rssMb: number;
  heapMb: number;
  buffersMb: number;
  rssBeforeMb: number;
  /** The peer's CPU (all its threads) over the timed section, in cores; null without a peer. */
  peerCores: number | null;
  delivered: number;
  /** Records the peer holds, read back by id (null: no peer, or not read yet). */
  atPeer?: number | null;
  /** The other build's script, for a KITE_BENCH_COMPARE run's rows. */
  build?: string;
  dropped: number;
}

const CASES = ['none', 'file', 'kafka', 'otlp', 'otlp_http'] as const;
type Case = (typeof CASES)[number];
/** Distinct records built before the clock; the stream cycles through copies of them. */
const POOL = 5000;

/** A sink that only counts: the stream's own cost. */
class NoneExporter implements Exporter {
  count = 0;
  async start(): Promise<void> {}
  consume(): void {
    this.count++;
  }
  async flush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** The peer's CPU seconds so far (processCpuSeconds), null if it is gone. */
function peerCpuSeconds(pid: number): number | null {
  try {
    return processCpuSeconds(pid);
  } catch {
    return null;
  }
}

/** Child: feeds the stream into one exporter, prints a JSON result line. */
async function runCase(kind: Case, n: number, endpoint: string, outDir: string, tag: string, extra: Record<string, unknown>): Promise<void> {
  const host = createHost(createLogger('warn'));
  const key = `${kind}/bench`;
  // defaults but a smaller queue: the feed outruns every peer, so a full default queue (20k
  // records) would only add resident memory, not throughput
  const queue = { queue_size: 5000 };
  const base: Record<string, unknown> =
    kind === 'file'
      ? { path: join(outDir, `file-${tag}.jsonl`) }
      : kind === 'kafka'
        ? { brokers: [endpoint], topic: `kite-bench-${tag}`, key: 'exec_id', schema: 'ecs', sending_queue: queue }
        : { endpoint, sending_queue: queue };
  const settings: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(kind === 'file' || kind === 'none' ? {} : extra)) {
    settings[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(settings[k] as object), ...v } : v;
  }
  const exp: Exporter = kind === 'none' ? new NoneExporter() : createExporter(key, settings, host);
  await exp.start();
  // the records, built before the clock starts
  const run = idPrefix(kind, tag);
  const pool: KiteRecord[] = Array.from({ length: Math.min(n, POOL) }, (_, i) => makeRecord(run, i));
  const rssBefore = process.memoryUsage().rss;
  let peak = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peak.rss) peak = m;
  }, 50);
  const peerPid = Number(process.env.KITE_BENCH_PEER_PID) || 0;
  const peer0 = peerPid ? peerCpuSeconds(peerPid) : null;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const P = pool.length;
  for (let i = 0; i < n; i++) {
    const r: KiteRecord = { ...pool[i % P]!, 'kite.event_id': `${run}-${i}`, 'kite.seq': i + 1 };
    if (exp instanceof QueuedExporter) {
      if (exp.backpressure) await exp.offer(r);
      else exp.consume(r);
    } else {
      exp.consume(r);
      // the file exporter's writer is bounded by bytes: give it one event-loop turn per chunk
      if (i % 5000 === 4999) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await exp.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const peer1 = peerPid ? peerCpuSeconds(peerPid) : null;
  clearInterval(sampler);
  const last = process.memoryUsage();
  if (last.rss > peak.rss) peak = last;
  await exp.shutdown();
  const stats = host.stats.snapshot()[`exporter/${key}`] ?? {};
  const dropped = Object.entries(stats).filter(([k]) => k.startsWith('dropped.')).reduce((s, [, v]) => s + v, 0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result: Result = {
    name: kind,
    settings: kind === 'file' || kind === 'none' || !Object.keys(extra).length ? '' : JSON.stringify(extra),
    events: n,
    seconds,
    cpuCores: cpuSeconds / seconds,
    cpuUsPerRecord: (cpuSeconds * 1e6) / n,
    sysUsPerRecord: cpu.system / n,
    rssMb: peak.rss / 2 ** 20,
    heapMb: peak.heapTotal / 2 ** 20,
    buffersMb: peak.arrayBuffers / 2 ** 20,
    rssBeforeMb: rssBefore / 2 ** 20,
    peerCores: peer0 !== null && peer1 !== null ? (peer1 - peer0) / seconds : null,
    delivered: kind === 'none' ? (exp as NoneExporter).count : stats.sent ?? 0,
    dropped,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function child(args: string[], peerPid?: number, script = __filename): Promise<Result> {
  return new Promise((resolve, reject) => {
    const prof = process.env.KITE_BENCH_CPU_PROF;
    const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${args[1]}-${args[5]}.cpuprofile`] : [];
    // KITE_BENCH_NODE_FLAGS: node options of every case's child, e.g. V8 heap limits; by default the
    // agent's own (as `kite` and the Dockerfile launch it)
    flags.push(...(process.env.KITE_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? KITE_NODE_FLAGS));
    const env = { ...process.env, KITE_BENCH_PEER_PID: peerPid ? String(peerPid) : '' };
    const p = spawn(process.execPath, [...flags, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`case ${args[1]} exited ${code}`))));
  });
}

/** Whole lines appended to a file from `offset` on, read in chunks (the file may outgrow a string). */
class FileTail {
  constructor(private readonly path: string, public offset: number) {}

  lines(fn: (line: string) => void): void {
    if (!existsSync(this.path)) return;
    const fd = openSync(this.path, 'r');
    try {
      const chunk = Buffer.allocUnsafe(8 << 20);
      let carry = Buffer.alloc(0);
      let pos = this.offset;
      for (;;) {
        const got = readSync(fd, chunk, 0, chunk.length, pos);
        if (got <= 0) break;
        pos += got;
        let data = Buffer.concat([carry, chunk.subarray(0, got)]);
        let nl: number;
        while ((nl = data.indexOf(10)) >= 0) {
          const line = data.subarray(0, nl).toString('utf8');
          this.offset += nl + 1;
          data = data.subarray(nl + 1);
          if (line.trim()) fn(line);
        }
        carry = Buffer.from(data);
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** The ids of a run's records: `<case>.<tag>-<i>`, the tag naming the settings' variant and the repetition. */
const idPrefix = (kind: Case, tag: string): string => `${kind}.${tag}`;

/** The ids `<run>-0` .. `<run>-<n-1>` not among `ids`, as ranges of indices (the first twenty). */
function missingRanges(run: string, n: number, ids: Iterable<unknown>): string {
  const have = new Uint8Array(n);
  const prefix = `${run}-`;
  for (const id of ids) {
    if (typeof id !== 'string' || !id.startsWith(prefix)) continue;
    const i = Number(id.slice(prefix.length));
    if (Number.isInteger(i) && i >= 0 && i < n) have[i] = 1;
  }
  const ranges: string[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (have[i]) continue;
    let j = i;
    while (j + 1 < n && !have[j + 1]) j++;
    total++;
    if (ranges.length < 20) ranges.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return `${total} ranges: ${ranges.join(', ')}${total > ranges.length ? ', ...' : ''}`;
}

/** How many of the ids `<run>-0` .. `<run>-<n-1>` are among `ids`, each counted once. */
function countIds(run: string, n: number, ids: Iterable<unknown>): number {
  const seen = new Set<number>();
  const prefix = `${run}-`;
  for (const id of ids) {
    if (typeof id !== 'string' || !id.startsWith(prefix)) continue;
    const i = Number(id.slice(prefix.length));
    if (Number.isInteger(i) && i >= 0 && i < n) seen.add(i);
  }
  return seen.size;
}

async function main(): Promise<void> {
  const n = benchInt('KITE_BENCH_EVENTS', 200_000, 50_000);
  const only = process.env.KITE_BENCH_EXPORTERS?.split(',').map((s) => s.trim()).filter(Boolean);
  const cases = CASES.filter((c) => !only || only.includes(c));
  const work = mkdtempSync(join(tmpdir(), 'kite-bench-exporters-'));
  const collector = new Collector(join(work, 'otelcol'));
  const broker = new KafkaBroker(join(work, 'kafka'), 'shipped');
  const needCollector = cases.some((c) => c === 'otlp' || c === 'otlp_http');
  const needBroker = cases.includes('kafka');
  // the peers run in their own process groups: an interrupted run stops them too
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void Promise.allSettled([collector.stop(), broker.stop()]).then(() => {
        rmSync(work, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  /** Per case and settings, its repetitions. */
  const results: Result[][] = [];
  const reps = benchInt('KITE_BENCH_EXPORTER_REPS', 3, 1);
  const warmN = Math.min(n, 50_000);
  /** Bytes of the collector's file read by the cases before. */
  let collectorBytes = 0;
  /** How many of a run's records the peer holds, each read back by its id: zero loss, end to end. */
  const readBack = async (c: Case, tag: string): Promise<number | null> => {
    const run = idPrefix(c, tag);
    if (c === 'kafka') {
      // a value that is not the JSON sent is a finding, not a reason to stall the consumer on its batch
      let unreadable = 0;
      const idOf = (m: { value: string }): string | undefined => {
        try {
          return ecsEventId(m.value);
        } catch (e) {
          if (unreadable++ < 3) log(`kafka: a record read back is not an ECS document (${(e as Error).message}): ${JSON.stringify(m.value.slice(0, 300))}`);
          return undefined;
        }
      };
      const read = async (): Promise<number> => {
        unreadable = 0;
        // until every id has come, copies aside (a copy is not a loss, and must not end the read early)
        const got = await broker.readTopic(`kite-bench-${tag}`, n, 120_000, idOf);
        const ids = got.map(idOf);
        const count = countIds(run, n, ids);
        if (got.length > count) log(`kafka: ${got.length - count} copies or unreadable among the ${got.length} records read back (${unreadable} unreadable reads)`);
        if (count < n) log(`kafka: missing ids of ${run}: ${missingRanges(run, n, ids)}`);
        return count;
      };
      const first = await read();
      if (first >= n) return first;
      // a consumer that stalls is not a loss: a second one reads the topic from its start again, and
      // what it finds is what the broker holds
      log(`kafka: the first consumer read back ${first} of ${n} records; reading the topic again`);
      const again = Math.max(first, await read());
      // what the broker says it holds tells a reader that stalled from records that never arrived
      if (again < n) {
        const held = await broker.topicOffsets(`kite-bench-${tag}`).then((ps) => ps.map((p) => `partition ${p.partition}: offsets ${p.low} to ${p.high}`).join(', '), (e: Error) => `? (${e.message})`);
        log(`kafka: the broker holds kite-bench-${tag} ${held} (a first offset above 0: the broker deleted records)`);
      }
      return again;
    }
    if (c === 'otlp' || c === 'otlp_http') {
      // the collector's file holds every run's records: read only what this run added, as it arrives
      const tail = new FileTail(join(work, 'otelcol', 'otlp.jsonl'), collectorBytes);
      const seen = new Set<unknown>();
      const ids = (): number => {
        tail.lines((line) => {
          for (const l of parseOtlpJsonLines(line)) seen.add(l.attributes['kite.event_id']);
        });
        return countIds(run, n, seen);
      };
      const count = await waitFor('the collector to write every record', () => {
        const k = ids();
        return k >= n ? k : undefined;
      }, 60_000, 1000).catch(() => ids());
      collectorBytes = tail.offset;
      return count;
    }
    if (c === 'file') {
      const path = join(work, `file-${tag}.jsonl`);
      const count = countIds(run, n, readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as KiteRecord)['kite.event_id']));
      rmSync(path, { force: true });
      return count;
    }
    return null;
  };
  // KITE_BENCH_SETTINGS: JSON merged over every network exporter's settings (one level deep), to try
  // knobs; a JSON array runs the network cases once per entry
  const given = JSON.parse(process.env.KITE_BENCH_SETTINGS ?? '{}') as Record<string, unknown> | Record<string, unknown>[];
  const variants = Array.isArray(given) ? given : [given];
  // KITE_BENCH_COMPARE: another build's dist/test/bench/exporters.js, run in turns with this one
  const compare = process.env.KITE_BENCH_COMPARE ? resolve(process.env.KITE_BENCH_COMPARE) : '';
  if (compare && !existsSync(compare)) throw new Error(`KITE_BENCH_COMPARE: ${compare} does not exist (expected another build's dist/test/bench/exporters.js)`);
  try {
    log('starting peers');
    await Promise.all([needCollector ? collector.start() : undefined, needBroker ? broker.start() : undefined]);
    for (let v = 0; v < variants.length; v++) {
      for (const c of cases) {
        if (v > 0 && (c === 'none' || c === 'file')) continue;
        const label = `${c}${v ? ` ${JSON.stringify(variants[v])}` : ''}`;
        const endpoint = c === 'kafka' ? broker.bootstrap : c === 'otlp' ? collector.grpcEndpoint : c === 'otlp_http' ? collector.httpEndpoint : '';
        const peerPid = c === 'kafka' ? broker.pid : c === 'otlp' || c === 'otlp_http' ? collector.pid : undefined;
        if (peerPid !== undefined && v === 0) {
          // a peer's first stream runs on its interpreter and its JIT compiling (a JVM broker most):
          // one stream it is not timed on first, as a long-running peer has long been warm
          log(`case ${label}: warm-up, ${warmN} records, not timed`);
          await child(['--case', c, String(warmN), endpoint, work, `${v}.warm`, JSON.stringify(variants[v])], peerPid);
        }
        const runs: Result[] = [];
        const other: Result[] = [];
        for (let rep = 0; rep < reps; rep++) {
          // with a build to compare, its repetitions take turns with this build's on the same peer, the
          // order swapped every repetition (ABBA): neither build always runs right after the peer's last run
          const turns = [[__filename, runs, ''], ...(compare ? [[compare, other, 'b']] : [])] as [string, Result[], string][];
          if (rep % 2) turns.reverse();
          for (const [script, into, suffix] of turns) {
            log(`case ${label}${suffix ? ` (${compare})` : ''}, repetition ${rep + 1} of ${reps}`);
            const tag = `${v}.${rep}${suffix}`;
            const r = await child(['--case', c, String(n), endpoint, work, tag, JSON.stringify(variants[v])], peerPid, script);
            log(`${c}: ${JSON.stringify(r)}`);
            const readStart = Date.now();
            r.atPeer = await readBack(c, tag);
            if (r.atPeer !== null) log(`${c}: ${r.atPeer} of ${n} records read back from the peer in ${((Date.now() - readStart) / 1000).toFixed(1)} s`);
            if (suffix) r.build = compare;
            into.push(r);
          }
        }
        results.push(runs);
        if (other.length) results.push(other);
      }
    }
  } finally {
    await Promise.allSettled([collector.stop(), broker.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
  const rateOf = (r: Result): number => r.events / r.seconds;
  /** The repetition of median events/s stands for its case (an even count: the lower middle). */
  const median = (runs: Result[]): Result => [...runs].sort((a, b) => rateOf(a) - rateOf(b))[Math.floor((runs.length - 1) / 2)]!;
  const base = results.find((runs) => runs[0]!.name === 'file');
  const baseRate = base ? rateOf(median(base)) : 0;
  const lines = [
    `| exporter -> peer | events | events/s (median) | min-max events/s | vs file | agent CPU µs/record | agent CPU (cores) | peer CPU (cores) | peak RSS (MB) | heap / buffers at peak (MB) | RSS before (MB) | sent / at peer | dropped |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  const peer: Record<string, string> = {
    none: 'none (the stream alone)',
    file: 'file (baseline)',
    kafka: 'kafka -> Kafka 4.1 KRaft (ecs)',
    otlp: 'otlp -> collector (gRPC)',
    otlp_http: 'otlp_http -> collector (HTTP)',
  };
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  for (const runs of results) {
    const r = median(runs);
    const rate = rateOf(r);
    const rates = runs.map(rateOf);
    // every repetition's loss counts: the fewest records any of them delivered, the most dropped
    const sent = Math.min(...runs.map((x) => x.delivered));
    const at = runs.some((x) => x.atPeer === null) ? '-' : String(Math.min(...runs.map((x) => x.atPeer!)));
    const dropped = Math.max(...runs.map((x) => x.dropped));
    // memory is a bound too: the run with the highest peak, its heap and buffers at that peak
    const mem = runs.reduce((a, b) => (b.rssMb > a.rssMb ? b : a));
    lines.push(
      `| ${peer[r.name]}${r.settings ? ` ${r.settings}` : ''}${r.build ? ` [${r.build}]` : ''} | ${r.events} | ${fmt(rate)} | ${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))} (${runs.length}) | ${base ? (rate / baseRate).toFixed(2) : '-'} | ${r.cpuUsPerRecord.toFixed(1)} | ${r.cpuCores.toFixed(2)} | ${r.peerCores === null ? '-' : r.peerCores.toFixed(2)} | ${mem.rssMb.toFixed(0)} | ${mem.heapMb.toFixed(0)} / ${mem.buffersMb.toFixed(0)} | ${r.rssBeforeMb.toFixed(0)} | ${sent} / ${at} | ${dropped} |`,
    );
  }
  const notes = [
    `* Each case ran ${reps} time(s), each a fresh agent process; its row is the repetition of median events/s, with the range over all, and the highest peak RSS of any. A case with a peer ran once untimed first (${warmN} records), so the peer's JIT is warm as a long-running one is.`,
    '* What is timed is the exporter: the records are built before the clock starts, as receivers build them; the `none` row is what feeding them costs (a fresh copy of a pooled record with its own id).',
    '* Agent CPU µs/record is the figure to compare between runs on a shared machine; events/s also depends on what else runs, the peers included (they share the same CPUs).',
    '* Peer CPU: the peer process (broker or collector, every thread) over the same timed section; agent and peer share the machine\'s 2 CPUs.',
    '* RSS before: node, every module and the pool of 5000 records, before the clock started. Heap / buffers: the V8 heap (total) and the ArrayBuffers outside it at the RSS peak.',
    '* Zero loss: no drop counter moved, and every record was read back from the peer by its id (the topic, the collector\'s file); sent / at peer and dropped are the worst over the repetitions.',
  ];
  process.stdout.write(`### Exporters: a stream of ${n} records into each exporter and its real peer${QUICK ? ' (quick run)' : ''}\n\n${lines.join('\n')}\n\n${notes.join('\n')}\n`);
}

if (process.argv[2] === '--case') {
  const [, , , kind, n, endpoint, outDir, tag, extra] = process.argv;
  runCase(kind as Case, Number(n), endpoint!, outDir!, tag!, JSON.parse(extra!) as Record<string, unknown>).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
