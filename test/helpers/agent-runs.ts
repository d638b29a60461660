/**
 * Runs the agent on a config (OUT is replaced by an output file) around a workload, and runs the same
 * workload with a filter's pushdown on and off: for the pushdown kernel tests.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITE } from './paths';
import { waitFor } from './kernel';
import { readRecordLines } from './events';
import { tempDir } from './tmp';

export async function runAgent(yaml: string, body: (out: string) => Promise<void>): Promise<Record<string, unknown>[]> {
  const dir = tempDir('pd');
  const out = join(dir, 'out.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, yaml.replaceAll('OUT', out));
  const agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent.exitCode !== null ? (() => { throw new Error(err); })() : undefined), 15000, 'ready');
    await body(out);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  return err.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The records the file exporter wrote so far (whole lines only). */
export const records = (out: string): Record<string, unknown>[] => readRecordLines(out);

/** Runs the same workload with the filter's pushdown on and off; returns both runs' records and final counters. */
export async function onAndOff(yaml: (pushdown: boolean) => string, workload: () => Promise<void>): Promise<{ on: Run; off: Run }> {
  const run = async (pushdown: boolean): Promise<Run> => {
    let out: Record<string, unknown>[] = [];
    const log = await runAgent(yaml(pushdown), async (file) => {
      await workload();
      await new Promise((r) => setTimeout(r, 500));
      out = records(file);
    });
    const stats = log.find((l) => l.msg === 'stopped')!.stats as Record<string, Record<string, number>>;
    const pushed = log.find((l) => l.msg === 'filter pushed down into the kernel')?.predicates as string[] | undefined;
    return { records: out.filter((r) => !String(r['event.name']).startsWith('kite.')), stats, pushed };
  };
  return { on: await run(true), off: await run(false) };
}

export interface Run {
  records: Record<string, unknown>[];
  stats: Record<string, Record<string, number>>;
  pushed: string[] | undefined;
}

export const userSpaceFiltered = (s: Record<string, number> | undefined): number => Object.entries(s ?? {}).filter(([k]) => k.startsWith('filtered')).reduce((a, [, v]) => a + v, 0);

