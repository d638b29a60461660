/**
 * Pod names, namespaces and labels by pod uid, from the kubelet's pod list (`GET <endpoint>/pods`),
 * read in the background every poll interval. Optional: when the endpoint cannot be reached the
 * agent logs it once (and once again when it comes back) and records simply go without pod names.
 */
import { Logger } from '../../component/logger';

export interface PodInfo {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

interface PodList {
  items?: { metadata?: { uid?: string; name?: string; namespace?: string; labels?: Record<string, string> } }[];
}

export function parsePodList(json: unknown): Map<string, PodInfo> {
  const out = new Map<string, PodInfo>();
  for (const item of (json as PodList)?.items ?? []) {
    const m = item?.metadata;
    if (m?.uid && m.name) out.set(m.uid, { name: m.name, namespace: m.namespace ?? '', labels: m.labels ?? {} });
  }
  return out;
}

export class KubeletPods {
  pods = new Map<string, PodInfo>();
  private timer: NodeJS.Timeout | null = null;
  private reachable: boolean | null = null;
  private inflight: Promise<void> | null = null;

  constructor(private readonly endpoint: string, private readonly pollMs: number, private readonly logger: Logger, private readonly component: string) {}

  /** Starts polling; the first poll runs in the background and never fails start-up. */
  start(): void {
    if (this.timer) return;
    this.inflight = this.poll();
    this.timer = setInterval(() => {
      if (!this.inflight) this.inflight = this.poll();
    }, this.pollMs);
    this.timer.unref();
  }

  /** Resolves when the poll under way (if any) is done. */
  async settled(): Promise<void> {
    await this.inflight;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    const url = `${this.endpoint}/pods`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(5000, this.pollMs)) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.pods = parsePodList(await res.json());
      if (this.reachable !== true) {
        this.logger.info('kubelet pod list loaded: pod names, namespaces and labels are added', { component: this.component, endpoint: this.endpoint, pods: this.pods.size });
      }
      this.reachable = true;
    } catch (e) {
      if (this.reachable !== false) {
        this.logger.warn('kubelet endpoint unavailable: records go without pod names, namespaces and labels (container ids and pod uids are still added); retrying in the background', {
          component: this.component, endpoint: this.endpoint, error: (e as Error).message,
        });
      }
      this.reachable = false;
    } finally {
      this.inflight = null;
    }
  }
}
