/** In-memory counters per component (what /metrics will expose); cheap enough to bump per event. */
import { Stats } from '../component/component';

export type ObservationListener = (component: string, name: string, value: number) => void;

export class CounterStats implements Stats {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly listeners: ObservationListener[] = [];

  /** Observations go to the listeners (the telemetry's histograms); without one they are dropped. */
  onObserve(l: ObservationListener): void {
    this.listeners.push(l);
  }

  observe(component: string, name: string, value: number): void {
    for (const l of this.listeners) l(component, name, value);
  }

  private of(component: string): Map<string, number> {
    let m = this.counters.get(component);
    if (!m) {
      m = new Map();
      this.counters.set(component, m);
    }
    return m;
  }

  add(component: string, name: string, n = 1): void {
    const m = this.of(component);
    m.set(name, (m.get(name) ?? 0) + n);
  }

  set(component: string, name: string, value: number): void {
    this.of(component).set(name, value);
  }

  get(component: string, name: string): number {
    return this.counters.get(component)?.get(name) ?? 0;
  }

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [c, m] of this.counters) out[c] = Object.fromEntries(m);
    return out;
  }
}
