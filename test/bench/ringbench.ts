/**
 * Ring-buffer throughput through Kite's own event path: bpf/bench/ringbench.bpf.c emits one 64-byte
 * record per getppid() of build/bench/getppidstorm's workers into a BPF ring buffer; this process
 * reads it with src/bpf/ringbuf.ts (RingReader, main thread), decodes every record into a JS object
 * and pushes it into an RxJS Subject whose subscriber counts it, so the rate is what reaches a pipeline.
 *
 * Per producer count (1 and 2 processes) and repetition, interleaved: the generator alone, then the
 * generator with the program attached and the reader running. Reported: records delivered per second,
 * kernel drops (ring full), this process's CPU (% of one core), event-loop lag and the generator's
 * syscall rate with and without the program (the slowdown the traced workload sees).
 *
 * Prints a markdown table on stdout; raw runs go to build/bench/ringbench.jsonl.
 * Environment: BENCH_RING_REPS (5), BENCH_RING_SECONDS (3), BENCH_RING_MB (16), BENCH_RING_PROCS ("1,2").
 * Needs root (CAP_BPF + CAP_PERFMON + tracefs access) and tracefs mounted (make mounts).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { RingReader } from '../../src/bpf/ringbuf';
import { BENCH_BUILD, benchInt, envInt, fmt, int, LineReader, log, mdTable, median, minMax, QUICK, ROOT, sleep, spawnTracked, waitExit } from './common';

const REPS = benchInt('BENCH_RING_REPS', 5, 2);
const SECONDS = envInt('BENCH_RING_SECONDS', 3);
const RING_BYTES = envInt('BENCH_RING_MB', 16) * 1024 * 1024;
const PROCS = (process.env.BENCH_RING_PROCS || '1,2').split(',').map(Number);
const OBJECT = resolve(ROOT, 'build', 'bpf', 'bench', 'ringbench.bpf.o');
const GENERATOR = resolve(BENCH_BUILD, 'getppidstorm');
const RAW = resolve(BENCH_BUILD, 'ringbench.jsonl');
const LAG_RESOLUTION_MS = 5;

// Wire format of struct ringbench_event in bpf/bench/ringbench.bpf.c (offsets checked by hdr.size).
const KITE_OP_BENCH_OPEN = 100; // enum kite_op, bpf/lib/common.h
const KITE_STAT_EMITTED = 0; // enum kite_stat, bpf/lib/common.h
const KITE_STAT_RING_FULL = 1;
const RECORD_SIZE = 64;
const COMM_LEN = 16;

interface BenchRecord {
  cpu: number;
  ktime: number;
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: string;
  syscallNr: number;
}

/** Decodes one record; null when it is short or not a bench record (counted by the caller). */
function decodeRecord(buf: Buffer, off: number, len: number): BenchRecord | null {
  if (len < RECORD_SIZE) return null;
  if (buf.readUInt16LE(off) !== KITE_OP_BENCH_OPEN || buf.readUInt16LE(off + 2) !== RECORD_SIZE) return null;
  let end = off + 32;
  const max = end + COMM_LEN;
  while (end < max && buf[end] !== 0) end++;
  return {
    cpu: buf.readUInt32LE(off + 4),
    ktime: buf.readUInt32LE(off + 8) + buf.readUInt32LE(off + 12) * 2 ** 32,
    pid: buf.readUInt32LE(off + 16),
    tgid: buf.readUInt32LE(off + 20),
    uid: buf.readUInt32LE(off + 24),
    gid: buf.readUInt32LE(off + 28),
    comm: buf.toString('latin1', off + 32, end),
    syscallNr: buf.readInt32LE(off + 48),
  };
}

interface Run {
  rep: number;
  procs: number;
  attached: boolean;
  calls: number;
  callsPerS: number;
  genSeconds: number;
  windowS: number;
  cpuPct: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  delivered?: number;
  emitted?: number;
  drops?: number;
  malformed?: number;
  foreign?: number;
  deliveredPerS?: number;
}

async function runOnce(rep: number, procs: number, attached: boolean): Promise<Run> {
  const gen = spawnTracked(GENERATOR, [String(SECONDS), String(procs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = new LineReader(gen.stdout!);
  let obj: BpfObject | null = null;
  let reader: RingReader | null = null;
  try {
    const hello = await out.next(10_000);
    if (!hello) throw new Error(`getppidstorm exited at start: ${out.tail.join(' | ')}`);
    const genPid = (JSON.parse(hello) as { pid: number }).pid;

    let delivered = 0;
    let malformed = 0;
    let foreign = 0;
    const events = new Subject<BenchRecord>();
    events.subscribe((r) => {
      delivered++;
      if (r.comm !== 'getppidstorm') foreign++;
    });

    if (attached) {
      // The skeleton order: open -> read-only knobs -> load -> reader -> attach last.
      obj = BpfObject.open(OBJECT);
      const rodata = obj.rodata();
      const init = rodata.initialValue();
      if (init.length !== 4) throw new Error(`${OBJECT}: .rodata is ${init.length} bytes, expected only target_tgid (4)`);
      init.writeUInt32LE(genPid, 0);
      rodata.setInitialValue(init);
      obj.map('ringbench_events').setMaxEntries(RING_BYTES);
      obj.load();
      reader = new RingReader(obj.map('ringbench_events'), (buf, offset, length) => {
        const r = decodeRecord(buf, offset, length);
        if (r) events.next(r);
        else malformed++;
      });
      reader.start();
      obj.attach('handle_sys_enter_getppid');
    }

    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    await sleep(50);
    lag.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    gen.stdin!.end('go\n');
    const line = await out.next(SECONDS * 1000 + 60_000);
    const code = await waitExit(gen, 10_000);
    if (!line || code !== 0) throw new Error(`getppidstorm failed (exit ${code}): ${out.tail.join(' | ')}`);
    const res = JSON.parse(line) as { calls: number; seconds: number; calls_per_s: number };
    // Let the reader catch up with what is still in the ring (it runs on this event loop).
    for (const end = performance.now() + 10_000; reader && reader.pending > 0 && performance.now() < end; ) await sleep(2);
    const windowS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    lag.disable();
    const lagMs = (p: number): number => Math.max(0, p / 1e6 - LAG_RESOLUTION_MS);

    const run: Run = {
      rep,
      procs,
      attached,
      calls: res.calls,
      callsPerS: res.calls_per_s,
      genSeconds: res.seconds,
      windowS,
      cpuPct: ((cpu.user + cpu.system) / 1e6 / windowS) * 100,
      lagP50Ms: lagMs(lag.percentile(50)),
      lagP99Ms: lagMs(lag.percentile(99)),
      lagMaxMs: lagMs(lag.max),
    };
    if (reader && obj) {
      await reader.stop();
      reader = null;
      events.complete();
      const stats = obj.map('ringbench_stats');
      run.delivered = delivered;
      run.emitted = Number(stats.sumPerCpuU64(KITE_STAT_EMITTED));
      run.drops = Number(stats.sumPerCpuU64(KITE_STAT_RING_FULL));
      run.malformed = malformed;
      run.foreign = foreign;
      run.deliveredPerS = delivered / windowS;
    }
    return run;
  } finally {
    if (reader) await reader.stop();
    obj?.close();
    if (gen.exitCode === null && gen.signalCode === null) {
      gen.kill('SIGKILL');
      await waitExit(gen, 5000).catch(() => 0);
    }
  }
}

function table(runs: Run[]): string {
  const rows: string[][] = [];
  for (const procs of PROCS) {
    const off = runs.filter((r) => r.procs === procs && !r.attached);
    const on = runs.filter((r) => r.procs === procs && r.attached);
    const offByRep = new Map(off.map((r) => [r.rep, r.callsPerS]));
    const offMed = median(off.map((r) => r.callsPerS));
    for (const [label, rs] of [['no program', off], ['ringbench + RingReader', on]] as const) {
      if (!rs.length) continue;
      const med = median(rs.map((r) => r.callsPerS));
      const paired = rs.filter((r) => offByRep.has(r.rep)).map((r) => r.callsPerS / offByRep.get(r.rep)!);
      const lag = `${fmt(median(rs.map((r) => r.lagP50Ms)))} / ${fmt(median(rs.map((r) => r.lagP99Ms)))} / ${fmt(Math.max(...rs.map((r) => r.lagMaxMs)))}`;
      if (rs === off) {
        rows.push([String(procs), label, String(rs.length), int(med), '1.00x', '', '', '', '', fmt(median(rs.map((r) => r.cpuPct)), 1), lag]);
        continue;
      }
      const calls = rs.reduce((a, r) => a + r.calls, 0);
      const delivered = rs.reduce((a, r) => a + r.delivered!, 0);
      const drops = rs.reduce((a, r) => a + r.drops!, 0);
      const emitted = rs.reduce((a, r) => a + r.emitted!, 0);
      const bad = rs.reduce((a, r) => a + r.malformed! + r.foreign!, 0);
      const accounted = emitted + drops === calls ? '' : ` (emitted+drops=${int(emitted + drops)} != calls)`;
      rows.push([
        String(procs),
        label,
        String(rs.length),
        int(med),
        `${fmt(med / offMed)}x (${minMax(paired)})`,
        int(median(rs.map((r) => r.deliveredPerS!))),
        `${int(delivered)} / ${int(calls)} (${fmt((100 * delivered) / calls)}%)${bad ? `, ${bad} malformed/foreign` : ''}`,
        `${int(drops)} (${fmt((100 * drops) / calls)}%)${accounted}`,
        delivered === emitted ? 'yes' : `no: ${int(emitted - delivered)} emitted, not delivered`,
        fmt(median(rs.map((r) => r.cpuPct)), 1),
        lag,
      ]);
    }
  }
  return [
    `### Ring buffer: one 64-byte record per getppid(), ${SECONDS} s per run, ${REPS} interleaved reps, ring ${RING_BYTES >> 20} MiB${QUICK ? ' (quick run)' : ''}`,
    '',
    mdTable(
      ['producers', 'variant', 'reps', 'generator getppid/s (median)', 'rate vs no program (paired min-max)', 'delivered ev/s (median)',
        'delivered / syscalls (all reps)', 'kernel drops, ring full (all reps)', 'all emitted delivered', 'agent CPU % of one core (median)',
        'event-loop lag ms p50 / p99 / max'],
      rows,
    ),
    '',
    'Delivered: records decoded into JS objects and counted by an RxJS subscriber, over the window from the start signal until the ring is empty. ' +
      'Agent CPU: process.cpuUsage() of the reading process (all threads) over that window; in the no-program rows the driver only waits. ' +
      `Event-loop lag: monitorEventLoopDelay (resolution ${LAG_RESOLUTION_MS} ms, resolution subtracted); p50/p99 are medians over runs, max is the max over runs. ` +
      'The reader is src/bpf/ringbuf.ts with its defaults (epoll when idle, 1 ms coalescing when busy); the program uses kite_output() (adaptive wake-up).',
  ].join('\n');
}

async function main(): Promise<void> {
  for (const f of [OBJECT, GENERATOR]) if (!existsSync(f)) throw new Error(`${f} is missing: run make bpf and test/bench/run.sh`);
  setLibbpfLogger((level, msg) => {
    if (level === 'warn') log(msg);
  });
  writeFileSync(RAW, '');
  const runs: Run[] = [];
  log(`ring buffer: ${REPS} reps x producers ${PROCS.join('/')} x (no program, attached), ${SECONDS} s each`);
  for (let rep = 0; rep < REPS; rep++) {
    for (const procs of PROCS) {
      // alternate which one goes first, so drift does not favour either
      const order = rep % 2 ? [true, false] : [false, true];
      for (const attached of order) {
        const r = await runOnce(rep, procs, attached);
        runs.push(r);
        appendFileSync(RAW, `${JSON.stringify(r)}\n`);
        const extra = attached
          ? ` delivered ${int(r.deliveredPerS!)}/s drops ${int(r.drops!)} cpu ${fmt(r.cpuPct, 1)}% lag p99 ${fmt(r.lagP99Ms)} ms`
          : '';
        log(`rep ${rep + 1}/${REPS} procs=${procs} ${attached ? 'attached' : 'no program'}: ${int(r.callsPerS)} getppid/s${extra}`);
      }
    }
  }
  process.stdout.write(`${table(runs)}\n`);
}

main().catch((e: unknown) => {
  log(`ring buffer benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
