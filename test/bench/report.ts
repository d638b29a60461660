/**
 * Writes docs/benchmarks.md (and its SVG plots in docs/benchmarks/) from one `make bench` run: the
 * per-case markdown sections in build/bench/sections/ and the summaries build/bench/*.summary.json.
 * Also rewrites the generated headline block of README.md. Plots are plain SVG written here (no
 * plotting dependency). Usage: node dist/test/bench/report.js (run.sh calls it with the run's facts in
 * the environment: KITE_BENCH_STARTED, KITE_BENCH_LOAD, KITE_BENCH_FOREIGN, KITE_BENCH_CASES).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { BENCH_BUILD, fmt, int, QUICK, ROOT, StormRow } from './common';

const DOCS = resolve(ROOT, 'docs');
const PLOTS = resolve(DOCS, 'benchmarks');
const SECTIONS = resolve(BENCH_BUILD, 'sections');

// --- SVG ------------------------------------------------------------------------------------------

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#9c755f'];

interface Bar { name: string; value: number; lo: number; hi: number }

/** Horizontal bars per group, with min-max whiskers and a dashed line at x = 1. */
export function barChart(title: string, xLabel: string, groups: { label: string; bars: Bar[] }[]): string {
  const rowH = 18;
  const left = 230;
  const width = 760;
  const plotW = width - left - 30;
  const rows = groups.reduce((a, g) => a + g.bars.length + 1, 0);
  const height = 50 + rows * rowH + 40;
  const max = Math.max(1.5, ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.hi) ? b.hi : b.value))).filter(Number.isFinite)) * 1.05;
  const x = (v: number): number => left + (Math.min(v, max) / max) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= max; t += max > 10 ? 5 : max > 4 ? 1 : 0.5) {
    out.push(`<line x1="${x(t)}" y1="35" x2="${x(t)}" y2="${height - 35}" stroke="#eee"/>`, `<text x="${x(t)}" y="${height - 22}" text-anchor="middle" fill="#555">${t}</text>`);
  }
  out.push(`<line x1="${x(1)}" y1="35" x2="${x(1)}" y2="${height - 35}" stroke="#333" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  let y = 45;
  for (const g of groups) {
    out.push(`<text x="8" y="${y + 12}" font-weight="bold">${esc(g.label)}</text>`);
    y += rowH;
    g.bars.forEach((b, i) => {
      const color = COLORS[i % COLORS.length];
      out.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(b.name)}</text>`);
      if (Number.isFinite(b.value)) {
        out.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(b.value) - left)}" height="${rowH - 6}" fill="${color}"/>`);
        if (Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
          const cy = y + rowH / 2;
          out.push(`<line x1="${x(b.lo)}" y1="${cy}" x2="${x(b.hi)}" y2="${cy}" stroke="#222"/>`,
            `<line x1="${x(b.lo)}" y1="${cy - 4}" x2="${x(b.lo)}" y2="${cy + 4}" stroke="#222"/>`,
            `<line x1="${x(b.hi)}" y1="${cy - 4}" x2="${x(b.hi)}" y2="${cy + 4}" stroke="#222"/>`);
        }
        const label = `${fmt(b.value)}x`;
        out.push(`<text x="${Math.min(x(Math.max(b.value, Number.isFinite(b.hi) ? b.hi : 0)) + 4, width - 40)}" y="${y + 12}" fill="#222">${label}</text>`);
      }
      y += rowH;
    });
  }
  out.push('</svg>');
  return out.join('\n');
}

interface Series { name: string; points: [number, number][] }

/** Lines on log-log axes. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], opts: { logY?: boolean } = {}): string {
  const width = 760;
  const height = 380;
  const l = 70;
  const r = 150;
  const t = 35;
  const b = 50;
  const pts = series.flatMap((s) => s.points).filter(([a, c]) => a > 0 && c > 0 && Number.isFinite(a) && Number.isFinite(c));
  if (!pts.length) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="40"><text x="10" y="25">${esc(title)}: no data</text></svg>`;
  const lx = (v: number): number => Math.log10(v);
  const ly = (v: number): number => (opts.logY === false ? v : Math.log10(v));
  const [x0, x1] = [Math.floor(lx(Math.min(...pts.map((p) => p[0])))), Math.ceil(lx(Math.max(...pts.map((p) => p[0]))))];
  const ys = pts.map((p) => ly(p[1]));
  const [y0, y1] = opts.logY === false ? [0, Math.max(...ys) * 1.1] : [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys))];
  const X = (v: number): number => l + ((lx(v) - x0) / Math.max(1e-9, x1 - x0)) * (width - l - r);
  const Y = (v: number): number => height - b - ((ly(v) - y0) / Math.max(1e-9, y1 - y0)) * (height - t - b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let e = x0; e <= x1; e++) {
    out.push(`<line x1="${X(10 ** e)}" y1="${t}" x2="${X(10 ** e)}" y2="${height - b}" stroke="#eee"/>`, `<text x="${X(10 ** e)}" y="${height - b + 16}" text-anchor="middle">${int(10 ** e)}</text>`);
  }
  if (opts.logY === false) {
    for (let i = 0; i <= 5; i++) {
      const v = y0 + ((y1 - y0) * i) / 5;
      out.push(`<line x1="${l}" y1="${Y(v)}" x2="${width - r}" y2="${Y(v)}" stroke="#eee"/>`, `<text x="${l - 6}" y="${Y(v) + 4}" text-anchor="end">${fmt(v, 0)}</text>`);
    }
  } else {
    for (let e = y0; e <= y1; e++) {
      out.push(`<line x1="${l}" y1="${Y(10 ** e)}" x2="${width - r}" y2="${Y(10 ** e)}" stroke="#eee"/>`, `<text x="${l - 6}" y="${Y(10 ** e) + 4}" text-anchor="end">${10 ** e >= 1 ? int(10 ** e) : String(10 ** e)}</text>`);
    }
  }
  out.push(`<text x="${(l + width - r) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="16" y="${(t + height - b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(t + height - b) / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = s.points.filter(([a, v]) => a > 0 && v > 0 && Number.isFinite(a) && Number.isFinite(v));
    if (!p.length) return;
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([a, v]) => `${X(a).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [a, v] of p) out.push(`<circle cx="${X(a).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="3" fill="${c}"/>`);
    out.push(`<rect x="${width - r + 12}" y="${t + 8 + i * 18}" width="12" height="12" fill="${c}"/>`, `<text x="${width - r + 30}" y="${t + 18 + i * 18}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

// --- the report -------------------------------------------------------------------------------------

interface StormSummary { case: string; title: string; quick: boolean; unit: string; reps: number; rows: StormRow[]; unavailable: [string, string][] }
interface LadderStep { receiver: string; offered: number; achieved: number; deliveredPerS: number; drops: number; cpuPct: number; rssMiB: number; lagP99Ms: number; latP50Ms: number; latP99Ms: number }

function readJson<T>(name: string): T | null {
  const f = resolve(BENCH_BUILD, `${name}.summary.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : null;
}

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const virt = /\bhypervisor\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'a virtual machine' : 'bare metal';
  return `${cpus().length} × ${model}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, ${virt}`;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: ROOT }).trim();
  } catch {
    return 'unknown';
  }
}

const STORMS = ['compile', 'exec-storm', 'open-storm', 'connect-storm', 'dns-storm'];

function row(s: StormSummary | null, workload: string, variant: string): StormRow | undefined {
  return s?.rows.find((r) => r.workload === workload && r.variant === variant);
}

function ratio(r: StormRow | undefined): string {
  return r ? `${fmt(r.ratio)}x (${fmt(r.pairedMin)}-${fmt(r.pairedMax)})` : 'n/a';
}

/** The headline: Kite against the floor and the peers, and the ladder's limits. */
function headline(storms: Map<string, StormSummary>, ladder: LadderStep[] | null, perOp: Record<string, number>): string {
  const lines: string[] = [
    '| workload | Kite (config/bench.yaml) | floor (bare counters, same hooks) | Kite over the floor | libbpf-tools | bpftrace | auditd | Kite events captured |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const peers: Record<string, string> = { 'exec-storm': 'execsnoop', 'open-storm': 'opensnoop', 'connect-storm': 'tcpstates', 'dns-storm': 'tcpdump', compile: 'libbpf-tools' };
  const names: Record<string, string> = { compile: 'compiling Lua', 'exec-storm': 'exec storm', 'open-storm': 'open storm', 'connect-storm': 'connect storm', 'dns-storm': 'DNS storm' };
  for (const c of STORMS) {
    const s = storms.get(c);
    if (!s) continue;
    for (const w of [...new Set(s.rows.map((r) => r.workload))]) {
      const k = row(s, w, 'kite');
      const f = row(s, w, 'floor');
      const label = c === 'open-storm' ? `open storm, ${w} path` : names[c]!;
      lines.push(`| ${label} | ${ratio(k)} | ${ratio(f)} | ${k && Number.isFinite(k.overFloor) ? `${k.overFloor >= 0 ? '+' : ''}${fmt(k.overFloor)}x` : 'n/a'} | ` +
        `${ratio(row(s, w, peers[c]!))} | ${ratio(row(s, w, 'bpftrace'))} | ${ratio(row(s, w, 'auditd'))} | ` +
        `${k && k.expected ? `${fmt((100 * k.captured) / k.expected, 1)}%, ${k.lost} lost` : k && s.rows.some((r) => r.expected) ? `${int(k.captured)} (none expected), ${k.lost} lost` : k ? 'not matched' : ''} |`);
    }
  }
  const out = [
    'Slowdown of the workload (ratio of medians, no agent = 1.00x; min-max of the paired ratios in brackets):',
    '',
    ...lines,
  ];
  if (ladder?.length) {
    const limits = [...new Set(ladder.map((s) => s.receiver))].map((rx) => {
      const steps = ladder.filter((s) => s.receiver === rx);
      // sustained: no kernel drop and at least 98% of the expected records delivered within the step
      const ok = steps.filter((s) => s.drops === 0 && s.deliveredPerS >= 0.98 * s.achieved * (perOp[rx] ?? 1));
      const best = ok.sort((a, b) => b.deliveredPerS - a.deliveredPerS)[0];
      const firstDrop = steps.filter((s) => s.drops > 0).sort((a, b) => a.achieved - b.achieved)[0];
      return `**${rx}** ${best ? `${int(best.deliveredPerS)} records/s sustained (p99 latency ${fmt(best.latP99Ms, 1)} ms, RSS ${fmt(best.rssMiB, 0)} MiB)` : 'no sustained step'}` +
        (firstDrop ? `, first kernel drops at ${int(firstDrop.achieved)} ops/s offered` : ', no kernel drop at any step');
    });
    out.push('', `Throughput ladder (each receiver with its defaults to a file; sustained = no kernel drop and at least 98% of the records delivered within the step): ${limits.join('; ')}.`);
  }
  return out.join('\n');
}

function main(): void {
  mkdirSync(PLOTS, { recursive: true });
  const storms = new Map<string, StormSummary>();
  for (const c of STORMS) {
    const s = readJson<StormSummary>(c);
    if (s) storms.set(c, s);
  }
  const ladderSummary = readJson<{ steps: LadderStep[]; ladders: Record<string, { perOp: number }> }>('ladder');
  const perOp = Object.fromEntries(Object.entries(ladderSummary?.ladders ?? {}).map(([k, l]) => [k, l.perOp]));
  const ladder = ladderSummary?.steps ?? null;
  const plots: string[] = [];

  // slowdown bars, one plot per case
  for (const [c, s] of storms) {
    const groups = [...new Set(s.rows.map((r) => r.workload))].map((w) => ({
      label: `${c} ${w}`,
      bars: s.rows.filter((r) => r.workload === w && r.variant !== 'none').map((r) => ({ name: r.variant, value: r.ratio, lo: r.pairedMin, hi: r.pairedMax })),
    }));
    writeFileSync(resolve(PLOTS, `${c}.svg`), barChart(`${s.title}${s.quick ? ' (quick run)' : ''}`, 'slowdown vs no agent (ratio of medians; whiskers: paired min-max)', groups));
    plots.push(`![${c}](benchmarks/${c}.svg)`);
  }
  if (ladder?.length) {
    const rxs = [...new Set(ladder.map((s) => s.receiver))];
    const series = (f: (s: LadderStep) => number): Series[] => rxs.map((rx) => ({ name: rx, points: ladder.filter((s) => s.receiver === rx).map((s) => [s.achieved, f(s)] as [number, number]) }));
    writeFileSync(resolve(PLOTS, 'ladder-delivered.svg'), lineChart('Throughput ladder: records delivered per second', 'achieved operations/s (log)', 'records/s delivered (log)', series((s) => s.deliveredPerS)));
    writeFileSync(resolve(PLOTS, 'ladder-latency.svg'), lineChart('Latency kernel -> exporter, p99', 'achieved operations/s (log)', 'p99 ms (log)', series((s) => s.latP99Ms)));
    writeFileSync(resolve(PLOTS, 'ladder-rss.svg'), lineChart('Agent peak RSS', 'achieved operations/s (log)', 'MiB', series((s) => s.rssMiB), { logY: false }));
    plots.push('![ladder delivered](benchmarks/ladder-delivered.svg)', '![ladder latency](benchmarks/ladder-latency.svg)', '![ladder rss](benchmarks/ladder-rss.svg)');
  }
  const scale = readJson<{ fleet: { agents: number; ratePerS: number }[] }>('scale');
  if (scale?.fleet.length) {
    writeFileSync(resolve(PLOTS, 'fleet.svg'), lineChart('Fleet: agents into one Kafka topic', 'agents (log)', 'records/s into Kafka', [{ name: 'aggregate', points: scale.fleet.map((f) => [f.agents, f.ratePerS]) }], { logY: false }));
    plots.push('![fleet](benchmarks/fleet.svg)');
  }

  const started = process.env.KITE_BENCH_STARTED ?? new Date().toISOString();
  const commit = sh('git', ['rev-parse', '--short', 'HEAD']);
  const kernel = sh('uname', ['-r']);
  const facts = `${started.slice(0, 10)}, ${machine()}, Linux ${kernel}, Node.js ${process.version}, commit ${commit}, \`make bench\`${QUICK ? ' with `KITE_BENCH_QUICK=1`' : ''}`;
  const head = headline(storms, ladder, perOp);
  const foreign = (process.env.KITE_BENCH_FOREIGN ?? '').split(', ').filter(Boolean);
  const sections = (process.env.KITE_BENCH_CASES ?? '').split(' ').filter(Boolean)
    .map((c) => resolve(SECTIONS, `${c}.md`)).filter(existsSync).map((f) => readFileSync(f, 'utf8').trim());
  const doc = [
    '# Benchmarks',
    '',
    '<!-- Generated by `make bench` (test/bench/run.sh, test/bench/report.ts): do not edit by hand. -->',
    '',
    `**Generated** by \`make bench\` on ${facts}. Started ${started}; load average before the run: ${process.env.KITE_BENCH_LOAD ?? 'unknown'}.`,
    QUICK ? '\n**This is a quick run** (`KITE_BENCH_QUICK=1`: fewer repetitions, smaller workloads): for development, not for quoting.\n' : '',
    process.env.KITE_BENCH_PARTIAL ? `**Partial run:** only ${process.env.KITE_BENCH_PARTIAL} ran at the time above; the other sections come from the previous run in this checkout (build/bench/sections/).\n` : '',
    process.env.KITE_BENCH_FOREIGN ? `**Warning:** ${foreign.length} tracing BPF programs of something else were loaded when the suite started (their cost is in every variant, baseline included): ${foreign.slice(0, 6).join(', ')}${foreign.length > 6 ? ', ...' : ''}.\n` : '',
    'How to read it: every case runs its variants interleaved (the order rotates every repetition), so a slow minute of the machine hits them alike; ratios are ratios of medians against no agent in the same run, with the min-max (and IQR) of the per-repetition ratios. The floor is a bare per-CPU counter on every hook the benchmark pipeline attaches: what being on those hooks costs before any work. How each case is driven: [test/bench/README.md](../test/bench/README.md).',
    '',
    '## Headline',
    '',
    head,
    '',
    '## Plots',
    '',
    ...plots.flatMap((p) => [p, '']),
    '## Every case',
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
  writeFileSync(resolve(DOCS, 'benchmarks.md'), `${doc.replace(/\n{3,}/g, '\n\n').trim()}\n`);

  // README: the generated headline block
  const readme = resolve(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- benchmarks: generated by make bench, do not edit by hand -->';
  const end = '<!-- end of generated benchmarks -->';
  const block = [begin, `Measured ${facts}${QUICK ? ' (a quick run: indicative only)' : ''}; every table and plot in [docs/benchmarks.md](docs/benchmarks.md).`, '', head, end].join('\n');
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) writeFileSync(readme, text.slice(0, i) + block + text.slice(j + end.length));
  process.stderr.write(`[bench] wrote docs/benchmarks.md, ${plots.length} plots${i >= 0 ? ', README headline' : ''}\n`);
}

if (require.main === module) main();
