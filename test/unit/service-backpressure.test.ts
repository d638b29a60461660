/**
 * Backpressure through the service: a blocked exporter pauses, synchronously, exactly the receivers
 * whose pipelines lead to it, and they resume when it has room again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AnyFactory, KiteRecord } from '../../src/component/component';
import { parseConfigText, resolveConfig } from '../../src/pipeline/config';
import { Service } from '../../src/pipeline/service';
import { createRegistry } from '../../src/registry';
import { testHost } from '../helpers/host';
import { rec } from '../helpers/processors';

/** A receiver that emits only while not paused, like the ring-buffer reader. */
class PausableSource {
  readonly records$ = new Subject<KiteRecord>();
  paused = false;
  emitted = 0;
  pauses = 0;
  async start(): Promise<void> {}
  async shutdown(): Promise<void> {
    this.records$.complete();
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  /** Emits up to n records, stopping as soon as it is paused; returns how many it emitted. */
  emit(n: number): number {
    let k = 0;
    while (k < n && !this.paused) {
      this.records$.next(rec('e', `${this.emitted++}`));
      k++;
    }
    return k;
  }
}

/** An exporter holding at most `room` records until drain(). */
class SmallSink {
  held: KiteRecord[] = [];
  refused = 0;
  private listener: (b: boolean) => void = () => {};
  constructor(private readonly room: number) {}
  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}
  async flush(): Promise<void> {}
  consume(r: KiteRecord): void {
    if (r['event.name'].startsWith('kite.')) return;
    if (this.held.length >= this.room) {
      this.refused++;
      return;
    }
    this.held.push(r);
    if (this.held.length >= this.room) this.listener(true);
  }
  onBackpressure(l: (b: boolean) => void): void {
    this.listener = l;
  }
  drain(): void {
    this.held = [];
    this.listener(false);
  }
}

const sources: Record<string, PausableSource> = {};
const sinks: Record<string, SmallSink> = {};
const factories: AnyFactory[] = [
  { kind: 'receiver', type: 'src', stability: 'development', description: 'test', schema: {}, create: (id) => (sources[id.name] = new PausableSource()) },
  { kind: 'exporter', type: 'sink', stability: 'development', description: 'test', schema: {}, create: (id) => (sinks[id.name] = new SmallSink(id.name === 'small' ? 10 : 1_000_000)) },
];

test('a full exporter pauses the receivers that feed it before their next record, and only those', async () => {
  const cfg = resolveConfig(parseConfigText(`
receivers: { src/a: {}, src/b: {} }
exporters: { sink/small: {}, sink/big: {} }
service:
  pipelines:
    slow: { receivers: [src/a], exporters: [sink/small, sink/big] }
    other: { receivers: [src/b], exporters: [sink/big] }
`), createRegistry(factories));
  const service = new Service(cfg, testHost());
  await service.start();
  const a = sources.a!;
  const b = sources.b!;
  assert.equal(a.emit(100), 10, 'a stops right after the record that filled the small exporter');
  assert.equal(sinks.small!.refused, 0, 'nothing was refused: the receiver stopped first');
  assert.ok(a.paused);
  assert.equal(b.emit(100), 100, 'b does not feed the blocked exporter and goes on');
  sinks.small!.drain();
  assert.equal(a.paused, false, 'resumed once the exporter has room');
  assert.equal(a.emit(5), 5);
  assert.equal(sinks.big!.held.length, 115, 'the other exporter of the pipeline got every record a emitted, and all of b');
  await service.shutdown();
});
