/**
 * The benchmark harness's arithmetic and outputs (no kernel): quantiles, the summary of interleaved runs
 * (ratio of medians, paired spread, over the floor, capture), the SVG plots, and config/bench.yaml as
 * the benchmarks promise it (every receiver, enrich, filter, dedupe, file and Kafka).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { quantile, StormCase, StormRun, summarizeStorm } from '../bench/common';
import { barChart, lineChart } from '../bench/report';
import { FACTORIES } from '../../src/registry';
import { ROOT } from '../helpers/paths';

test('quantile interpolates between ranks', () => {
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('summarizeStorm: ratio of medians, paired spread, over the floor, captured and lost', () => {
  const c = { workloads: ['w'], variants: ['none', 'floor', 'kite'].map((name) => ({ name, what: '', start: async () => null })), eventsPerOp: 1 } as unknown as StormCase;
  const runs: StormRun[] = [];
  const ns: Record<string, number[]> = { none: [100, 110, 90], floor: [120, 130, 110], kite: [150, 160, 140] };
  for (const [variant, xs] of Object.entries(ns)) {
    xs.forEach((nsPerOp, rep) => runs.push({ rep, variant, workload: 'w', nsPerOp, performed: 1000, captured: variant === 'kite' ? 999 : undefined, lost: variant === 'kite' ? 1 : undefined, cpuS: variant === 'kite' ? 0.5 : undefined }));
  }
  const rows = summarizeStorm(c, runs);
  const kite = rows.find((r) => r.variant === 'kite')!;
  assert.equal(kite.ratio, 1.5);
  assert.equal(kite.overFloor, 1.5 - 1.2);
  assert.equal(kite.pairedMin, 160 / 110);
  assert.equal(kite.pairedMax, 140 / 90);
  assert.equal(kite.captured, 2997);
  assert.equal(kite.expected, 3000);
  assert.equal(kite.lost, 3);
  assert.ok(Math.abs(kite.cpuSPerMillion - (0.5 * 1e6) / 999) < 1e-9);
  assert.ok(Number.isNaN(rows.find((r) => r.variant === 'floor')!.overFloor));
});

test('the plots are well-formed SVG with every bar and series named', () => {
  const bars = barChart('t', 'x', [{ label: 'g', bars: [{ name: 'kite', value: 1.3, lo: 1.2, hi: 1.4 }, { name: 'auditd', value: 18, lo: NaN, hi: NaN }] }]);
  assert.match(bars, /^<svg [^>]*>/);
  assert.match(bars, /<\/svg>$/);
  assert.match(bars, />kite</);
  assert.match(bars, />1\.30x</);
  const lines = lineChart('t', 'x', 'y', [{ name: 'file', points: [[1000, 1000], [100000, 99000]] }]);
  assert.match(lines, /<polyline [^>]*points="[\d., ]+"/);
  assert.match(lines, />file</);
  assert.match(lineChart('t', 'x', 'y', []), /no data/);
});

test('config/bench.yaml: every receiver, enrich, filter and dedupe, to a file and to Kafka', () => {
  const cfg = parse(readFileSync(join(ROOT, 'config', 'bench.yaml'), 'utf8'));
  const receivers = FACTORIES.filter((f) => f.kind === 'receiver').map((f) => f.type).sort();
  assert.deepEqual([...cfg.service.pipelines.main.receivers].sort(), receivers);
  assert.deepEqual(cfg.service.pipelines.main.processors, ['enrich', 'filter', 'dedupe']);
  assert.deepEqual(cfg.service.pipelines.main.exporters, ['file', 'kafka']);
  const dflt = parse(readFileSync(join(ROOT, 'config', 'default.yaml'), 'utf8'));
  assert.deepEqual(dflt.service.pipelines.main, { receivers: ['exec'], exporters: ['console'] });
});
