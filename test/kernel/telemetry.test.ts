// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * Self-telemetry of a running agent: /readyz turns ready once receivers are attached, /metrics counts
 * what each component received, emitted, sent and dropped, and the counts add up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITE } from '../helpers/paths';
import { waitFor } from '../helpers/kernel';

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
  const dir = mkdtempSync(join(tmpdir(), 'kite-tel-'));
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
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
});
