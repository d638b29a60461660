/**
 * DNS query storm, side by side: build/bench/dnsstorm (BENCH_DNS_PROCS processes making N lookups in
 * all against a local responder on 127.0.0.1:BENCH_DNS_PORT, each on a new connected UDP socket as
 * the C library's resolver does) with no tracer, with the floor (a bare counter on every hook of
 * config/bench.yaml), with Kite running config/bench.yaml and with tcpdump (`-i lo port <port>`,
 * decoding DNS to text as Kite does). Variants rotate per repetition (test/bench/common.ts).
 *
 * Prints a markdown table on stdout; raw runs in build/bench/dns-storm.jsonl, the summary in
 * build/bench/dns-storm.summary.json. Environment: BENCH_REPS (5; quick 3), BENCH_DNS_N (20000; quick
 * 5000), BENCH_DNS_PROCS (2), BENCH_DNS_PORT (53), BENCH_SETTLE_MS (800), BENCH_VARIANTS.
 */
import { randomBytes } from 'node:crypto';
import {
  benchInt, buildGenerator, envInt, FLOOR_SLOT, LineReader, log, mainStorm, runGenerator, spawnTracked, startFloor, startKite, startTool,
  stopChild, StormCase, VariantSpec,
} from './common';

const N = benchInt('BENCH_DNS_N', 20_000, 5_000);
const PROCS = envInt('BENCH_DNS_PROCS', 2);
const PORT = envInt('BENCH_DNS_PORT', 53);
let tag = '';

const variants: VariantSpec[] = [
  { name: 'none', what: 'the workload alone.', start: async () => null },
  { name: 'floor', what: 'bare per-CPU counters on every hook of config/bench.yaml (bpf/bench/allcount.bpf.c); its events are packets seen by the socket filter.', start: () => startFloor(FLOOR_SLOT.dnsPacket) },
  {
    name: 'kite', what: 'the agent on config/bench.yaml; events are dns.query and dns.answer records of the run\'s names, dedupe summaries counted with their repeats.',
    start: () => startKite('dns-kite', (r, _pid, key) => (r['event.name'] === 'dns.query' || r['event.name'] === 'dns.answer') && String(r['dns.question.name']).endsWith(key), { prefilter: 'key' }),
  },
  {
    name: 'tcpdump', what: `tcpdump \`-i lo -n -l port ${PORT}\` to a file on tmpfs; events are printed query lines of the run's names and answer lines.`,
    start: () => startTool('dns-tcpdump', '/usr/bin/tcpdump', ['-i', 'lo', '-n', '-l', '-B', '4096', 'port', String(PORT)], {
      ready: (err) => err.includes('listening on'), match: (_f, line, _pid, key) => line.includes(key) || line.includes(' 1/0/0 '),
    }),
  },
];

const only = process.env.BENCH_VARIANTS?.split(',');
const GEN = buildGenerator('dnsstorm');

const c: StormCase = {
  name: 'dns-storm',
  title: `DNS storm: ${N} lookups (a new UDP socket each) by ${PROCS} processes against 127.0.0.1:${PORT}`,
  reps: benchInt('BENCH_REPS', 5, 3),
  settleMs: envInt('BENCH_SETTLE_MS', 800),
  workloads: ['udp'],
  variants: only ? variants.filter((v) => only.includes(v.name)) : variants,
  run: (_w, n) => {
    tag = `r${randomBytes(4).toString('hex')}.storm.test`;
    return runGenerator(GEN, ['query', String(PORT), String(n ?? N), String(PROCS), tag]);
  },
  key: () => tag,
  eventsPerOp: 2,
  unit: 'lookup',
  notes: ['Each lookup is two packets (query and answer), so two events. bpftrace and auditd are left out: neither decodes DNS.'],
};

async function main(): Promise<void> {
  const server = spawnTracked(GEN, ['serve', String(PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new LineReader(server.stdout!).next(5000);
  if (ready !== 'ready') throw new Error(`the responder did not start on port ${PORT}`);
  await mainStorm(c, async () => {
    await stopChild(server, 'SIGKILL', 5000);
  });
}

main().catch((e: unknown) => {
  log(`dns storm failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
