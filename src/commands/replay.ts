/**
 * `kite replay`: runs a recorded NDJSON file (what the `file` exporter writes: one JSON record per
 * line) through a config's pipelines with no kernel: every pipeline's receivers are replaced by the
 * file, and its processors (rules included) and exporters run as in the agent. Rule authors test rules
 * offline and in CI with it.
 *
 * - Every pipeline gets every replayed record (a recorded file does not say which receiver made it).
 * - Kill and deny rules alert but are not loaded into the kernel (nothing is enforced on this host).
 * - `enrich` processors are left out: they describe the live host (its process table, /proc, host
 *   identity), and recorded records already carry the enrichment of the host they were recorded on.
 * - The agent's own stream-health records (`kite.heartbeat`, `kite.loss`) of the recording are skipped,
 *   and `kite.seq` is dropped from replayed records: the replay is a stream of its own, numbered anew.
 * - A line that is not JSON, or not a record (an object with a string `event.name` and `time`), is
 *   counted (`decode_errors.malformed_json`, `decode_errors.not_a_record` of receiver/replay) and
 *   reported with its line number on standard error; the replay goes on.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Subject } from 'rxjs';
import { ComponentId, Factory, Host, KiteRecord, Receiver } from '../component/component';
import { KiteError } from '../component/errors';
import { Logger } from '../component/logger';
import { KiteConfig, ResolvedComponent } from '../pipeline/config';
import { createHost, Service } from '../pipeline/service';
import { setKernelEnforcement } from '../processors/rules/enforcement';

const STREAM_HEALTH = new Set(['kite.heartbeat', 'kite.loss']);
/** Malformed lines reported one by one on standard error; the rest are only counted. */
const REPORTED_LINES = 20;

export interface ReplaySummary {
  lines: number;
  records: number;
  skipped: number;
  malformed: { line: number; reason: string }[];
  malformedCount: number;
}

/** A receiver whose records come from an NDJSON file; completes after the last line. */
export class ReplayReceiver implements Receiver {
  private readonly subject = new Subject<KiteRecord>();
  readonly records$ = this.subject.asObservable();
  readonly summary: ReplaySummary = { lines: 0, records: 0, skipped: 0, malformed: [], malformedCount: 0 };
  private readonly statsKey: string;
  private reading: Promise<void> | null = null;
  private stopped = false;
  /** Resolves when the whole file has been replayed (or reading failed: see `error`). */
  done: Promise<void> = Promise.resolve();
  error: Error | null = null;

  constructor(id: ComponentId, private readonly host: Host, private readonly path: string) {
    this.statsKey = `receiver/${id.key}`;
  }

  async start(): Promise<void> {
    if (this.reading) return;
    const input = createReadStream(this.path, { encoding: 'utf8' });
    // a file that cannot be opened fails start()
    await new Promise<void>((resolve, reject) => {
      input.once('ready', () => resolve());
      input.once('error', (e) => reject(new KiteError('replay_unreadable', `replay: read ${this.path}: ${e.message}`, { cause: e })));
    });
    this.reading = this.read(input);
    this.done = this.reading;
  }

  private malformed(line: number, reason: string): void {
    const s = this.summary;
    s.malformedCount++;
    if (s.malformed.length < REPORTED_LINES) s.malformed.push({ line, reason });
    this.host.stats.add(this.statsKey, `decode_errors.${reason}`);
  }

  private async read(input: NodeJS.ReadableStream): Promise<void> {
    const s = this.summary;
    const lines = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const text of lines) {
        if (this.stopped) break;
        s.lines++;
        if (!text.trim()) continue;
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch {
          this.malformed(s.lines, 'malformed_json');
          continue;
        }
        if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as KiteRecord)['event.name'] !== 'string' || typeof (v as KiteRecord).time !== 'string') {
          this.malformed(s.lines, 'not_a_record');
          continue;
        }
        const r = v as KiteRecord;
        if (STREAM_HEALTH.has(r['event.name'])) {
          s.skipped++;
          continue;
        }
        if (r['kite.seq'] !== undefined) delete r['kite.seq'];
        if (typeof r['kite.event_id'] !== 'string') r['kite.event_id'] = this.host.nextEventId();
        s.records++;
        this.host.stats.add(this.statsKey, 'received');
        this.host.stats.add(this.statsKey, 'emitted');
        this.subject.next(r);
        // let the exporters write between batches of a large file
        if (s.records % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      this.error = e as Error;
    } finally {
      lines.close();
      this.subject.complete();
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.done;
    this.subject.complete();
  }
}

/**
 * The config with every pipeline's receivers replaced by one replay receiver reading `path`, and its
 * enrich processors left out. Returns the receiver too, to wait for the end of the file.
 */
export function replayConfig(cfg: KiteConfig, path: string, host: Host): { config: KiteConfig; receiver: ReplayReceiver; skippedProcessors: string[] } {
  const id: ComponentId = { type: 'replay', name: '', key: 'replay' };
  const receiver = new ReplayReceiver(id, host, path);
  const factory: Factory<'receiver', Record<string, unknown>> = {
    kind: 'receiver',
    type: 'replay',
    stability: 'alpha',
    description: 'Records from a recorded NDJSON file (kite replay).',
    schema: {},
    create: () => receiver,
  };
  const rc: ResolvedComponent = { id, kind: 'receiver', factory: factory as never, config: { path } };
  const skipped = new Set<string>();
  const pipelines = cfg.pipelines.map((p) => ({
    ...p,
    receivers: ['replay'],
    processors: p.processors.filter((k) => {
      const keep = cfg.processors.get(k)!.factory.type !== 'enrich';
      if (!keep) skipped.add(k);
      return keep;
    }),
  }));
  return { config: { ...cfg, receivers: new Map([['replay', rc]]), pipelines }, receiver, skippedProcessors: [...skipped] };
}

/** Replays `path` through `cfg`; writes a summary to `report` (standard error). Returns the exit code. */
export async function runReplay(cfg: KiteConfig, path: string, logger: Logger, report: (line: string) => void): Promise<number> {
  const host = createHost(logger);
  setKernelEnforcement(false);
  const { config, receiver, skippedProcessors } = replayConfig(cfg, path, host);
  for (const k of skippedProcessors) report(`replay: processor ${k} left out (it enriches from the live host; recorded records carry their enrichment)`);
  const service = new Service(config, host, { heartbeatIntervalMs: 2 ** 31 - 1 });
  try {
    await service.start();
  } catch (e) {
    report(`kite replay: ${(e as Error).message}`);
    return 1;
  }
  await receiver.done;
  await service.shutdown();
  const s = receiver.summary;
  for (const m of s.malformed) report(`replay: ${path}:${m.line}: skipped: ${m.reason === 'malformed_json' ? 'not JSON' : 'not a record (an object with event.name and time)'}`);
  if (s.malformedCount > s.malformed.length) report(`replay: ... and ${s.malformedCount - s.malformed.length} more malformed lines`);
  const snap = host.stats.snapshot();
  let alerts = 0;
  for (const [k, counters] of Object.entries(snap)) if (k.startsWith('processor/')) alerts += counters.alerts ?? 0;
  report(`replay: ${path}: ${s.records} records replayed, ${s.malformedCount} malformed lines skipped, ${s.skipped} stream-health records skipped, ${alerts} alerts`);
  if (receiver.error) {
    report(`kite replay: reading ${path} failed: ${receiver.error.message}`);
    return 1;
  }
  return 0;
}
