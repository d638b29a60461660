/**
 * Throughput ladder: offered event rates from 1k/s up to the generator's maximum, per receiver, with
 * each receiver's defaults feeding the file exporter (JSON lines on tmpfs) in this process, as the
 * agent wires them. build/bench/pacedstorm paces exec, open (a watched path), connect and getppid
 * operations; getppid drives bpf/bench/ringbench.bpf.c (one 64-byte record per call through the
 * receivers' output path and Kite's RingReader) where a real generator tops out.
 *
 * Per step: offered and achieved operations/s, records delivered/s to the exporter, kernel drops
 * (ring_full), CPU of this process (% of one core), peak RSS, event-loop lag p99 and end-to-end latency
 * p50/p99 from the kernel timestamp of a record to the moment the exporter takes it (every 8th record).
 *
 * Prints a markdown table; writes build/bench/ladder.summary.json. Environment: BENCH_LADDER_SECONDS
 * (3; quick 1), BENCH_LADDER_RECEIVERS (exec,file,connect,ring).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Observable, Subject } from 'rxjs';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { BootClock } from '../../src/bpf/clock';
import { RingReader } from '../../src/bpf/ringbuf';
import { Exporter, KiteRecord, parseComponentId, Receiver } from '../../src/component/component';
import { createLogger } from '../../src/component/logger';
import { createHost } from '../../src/pipeline/service';
import { execFactory } from '../../src/receivers/exec/factory';
import { fileReceiverFactory } from '../../src/receivers/file/factory';
import { connectFactory } from '../../src/receivers/connect/factory';
import { createExporter } from '../helpers/exporters';
import { settings } from '../helpers/settings';
import {
  BENCH_BUILD, benchInt, buildGenerator, fmt, int, LineReader, log, mdTable, QUICK, quantile, ROOT, SHM_ROOT, sleep, spawnTracked, waitExit,
} from './common';

const SECONDS = benchInt('BENCH_LADDER_SECONDS', 3, 1);
const RECEIVERS = (process.env.BENCH_LADDER_RECEIVERS || 'exec,file,connect,ring').split(',');
const GEN = buildGenerator('pacedstorm', ['-lpthread']);
const PORT = String(41000 + (process.pid % 15000));
const OUT = `${SHM_ROOT}/ladder.jsonl`;
const RAW = resolve(BENCH_BUILD, 'ladder.jsonl');

/** Offered operations/s per receiver (0: as fast as the generator goes) and records per operation. */
const LADDERS: Record<string, { mode: string; arg: string; procs: number; rates: number[]; perOp: number; what: string }> = {
  exec: { mode: 'exec', arg: '', procs: 2, rates: [300, 1000, 2000, 0], perOp: 3, what: 'fork + exec /bin/true + exit: 3 records' },
  file: { mode: 'open', arg: '/etc/hostname', procs: 2, rates: [1000, 10_000, 50_000, 100_000, 200_000, 0], perOp: 1, what: 'open + close of /etc/hostname' },
  connect: { mode: 'connect', arg: PORT, procs: 1, rates: [1000, 5000, 10_000, 20_000, 0], perOp: 2, what: 'connect + accept on loopback: connect and accept records' },
  ring: { mode: 'getppid', arg: '', procs: 2, rates: [1000, 10_000, 100_000, 200_000, 500_000, 1_000_000, 0], perOp: 1, what: 'getppid: one 64-byte ringbench record' },
};

export interface Step {
  receiver: string;
  offered: number;
  achieved: number;
  deliveredPerS: number;
  delivered: number;
  drops: number;
  cpuPct: number;
  rssMiB: number;
  lagP99Ms: number;
  latP50Ms: number;
  latP99Ms: number;
}

/** Wall-clock ms of an RFC 3339 time with up to ns digits. */
function wallMs(t: string): number {
  return Date.parse(`${t.slice(0, 23)}Z`) + Number((t.slice(23, 26) + '000').slice(0, 3)) / 1000;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

interface Source {
  records$: Observable<KiteRecord>;
  drops(): number;
  stop(): Promise<void>;
}

async function startReceiver(name: string, host: ReturnType<typeof createHost>): Promise<Source> {
  const factory = name === 'exec' ? execFactory : name === 'file' ? fileReceiverFactory : connectFactory;
  const rx = factory.create(parseComponentId(name)!, settings(factory, {}), host) as Receiver;
  await rx.start();
  return {
    records$: rx.records$,
    drops: () => host.stats.snapshot()[`receiver/${name}`]?.ring_full ?? 0,
    stop: () => rx.shutdown(),
  };
}

/** bpf/bench/ringbench.bpf.c for the workers of `genPid`, records decoded into objects with a time. */
function startRing(genPid: number): Source {
  const obj = BpfObject.open(resolve(ROOT, 'build', 'bpf', 'bench', 'ringbench.bpf.o'));
  const rodata = obj.rodata();
  const init = rodata.initialValue();
  init.writeUInt32LE(genPid, 0);
  rodata.setInitialValue(init);
  obj.map('ringbench_events').setMaxEntries(16 << 20);
  obj.load();
  const clock = new BootClock();
  const out = new Subject<KiteRecord>();
  const reader = new RingReader(obj.map('ringbench_events'), (buf, off) => {
    out.next({ time: clock.formatHiLo(buf.readUInt32LE(off + 12), buf.readUInt32LE(off + 8)), 'event.name': 'bench.getppid', 'kite.event_id': '', 'process.pid': buf.readUInt32LE(off + 20) } as KiteRecord);
  });
  reader.start();
  obj.attach('handle_sys_enter_getppid');
  return {
    records$: out,
    drops: () => Number(obj.map('ringbench_stats').sumPerCpuU64(1)),
    async stop() {
      await reader.stop();
      out.complete();
      obj.close();
    },
  };
}

async function step(name: string, rate: number, exporter: Exporter, shared: Source | null): Promise<Step> {
  const l = LADDERS[name]!;
  const gen = spawnTracked(GEN, [l.mode, String(rate), String(SECONDS), String(l.procs), l.arg], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  const hello = JSON.parse((await out.next(10_000))!) as { pid: number };
  const src = shared ?? startRing(hello.pid);
  let delivered = 0;
  let lastRecordAt = 0;
  const lat: number[] = [];
  const sub = src.records$.subscribe((r) => {
    delivered++;
    lastRecordAt = performance.now();
    if ((delivered & 7) === 0) lat.push(nowMs() - wallMs(r.time as string));
    exporter.consume(r);
  });
  const drops0 = src.drops();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  await sleep(100);
  delivered = 0;
  lat.length = 0;
  lag.enable();
  let rss = process.memoryUsage().rss;
  const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  gen.stdin!.end('go\n');
  const res = JSON.parse((await out.next(SECONDS * 1000 + 120_000))!) as { ops: number; seconds: number; rate: number };
  await waitExit(gen, 10_000);
  // until the reader has caught up: nothing new for 300 ms (at most 20 s)
  for (let seen = -1, end = performance.now() + 20_000; performance.now() < end; ) {
    if (delivered === seen) break;
    seen = delivered;
    await sleep(300);
  }
  // the window ends with the last record delivered (not with the poll that saw it: that added up to
  // 300 ms to a 3 s step, so a step that delivered everything at once read as ~91% delivered)
  const windowS = Math.max(res.seconds, ((lastRecordAt || performance.now()) - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  lag.disable();
  clearInterval(sampler);
  await sleep(1200); // the receivers publish ring_full once a second
  const drops = src.drops() - drops0;
  sub.unsubscribe();
  if (!shared) await src.stop();
  return {
    receiver: name,
    offered: rate,
    achieved: res.rate,
    delivered,
    deliveredPerS: delivered / windowS,
    drops,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / windowS) * 100,
    rssMiB: rss / 2 ** 20,
    lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 5),
    latP50Ms: quantile(lat, 0.5),
    latP99Ms: quantile(lat, 0.99),
  };
}

async function main(): Promise<void> {
  setLibbpfLogger(() => {});
  writeFileSync(RAW, '');
  const steps: Step[] = [];
  for (const name of RECEIVERS) {
    const host = createHost(createLogger('warn'));
    const exporter = createExporter('file', { path: OUT }, host);
    await exporter.start();
    const src = name === 'ring' ? null : await startReceiver(name, host);
    try {
      for (const rate of LADDERS[name]!.rates) {
        const s = await step(name, rate, exporter, src);
        steps.push(s);
        appendFileSync(RAW, `${JSON.stringify(s)}\n`);
        log(`ladder ${name} ${rate || 'max'}/s: achieved ${int(s.achieved)} ops/s delivered ${int(s.deliveredPerS)} rec/s drops ${s.drops} cpu ${fmt(s.cpuPct, 0)}% rss ${fmt(s.rssMiB, 0)} MiB lag p99 ${fmt(s.lagP99Ms)} ms latency p50/p99 ${fmt(s.latP50Ms)}/${fmt(s.latP99Ms)} ms`);
      }
    } finally {
      await src?.stop();
      await exporter.flush();
      await exporter.shutdown();
    }
  }
  if (existsSync(OUT)) writeFileSync(OUT, '');
  writeFileSync(resolve(BENCH_BUILD, 'ladder.summary.json'), JSON.stringify({ case: 'ladder', quick: QUICK, seconds: SECONDS, steps, ladders: LADDERS }, null, 1));
  const rows = steps.map((s) => [
    s.receiver, s.offered ? int(s.offered) : 'max', int(s.achieved), int(s.achieved * LADDERS[s.receiver]!.perOp), int(s.deliveredPerS), int(s.drops),
    fmt(s.cpuPct, 0), fmt(s.rssMiB, 0), fmt(s.lagP99Ms, 1), `${fmt(s.latP50Ms, 1)} / ${fmt(s.latP99Ms, 1)}`,
  ]);
  process.stdout.write([
    `### Throughput ladder: each receiver with its defaults to the file exporter, ${SECONDS} s per step${QUICK ? ' (quick run)' : ''}`,
    '',
    mdTable(['receiver', 'offered ops/s', 'achieved ops/s', 'records/s expected', 'records/s delivered', 'kernel drops (ring full)', 'agent CPU % of one core',
      'peak RSS MiB', 'event-loop lag p99 ms', 'latency kernel -> exporter p50 / p99 ms'], rows),
    '',
    ...Object.entries(LADDERS).filter(([k]) => RECEIVERS.includes(k)).map(([k, l]) => `* **${k}**: ${l.what}, ${l.procs} generator process(es).`),
    '* Delivered counts every record the receiver produced in the window, the rest of the machine\'s activity included; the generator competes with the agent for the 2 CPUs, so "max" is where the pair saturates.',
    '* Latency: from the record\'s kernel timestamp (CLOCK_BOOTTIME at the hook, as wall time) to the exporter\'s consume(), every 8th record.',
  ].join('\n') + '\n');
}

main().catch((e: unknown) => {
  log(`ladder failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
