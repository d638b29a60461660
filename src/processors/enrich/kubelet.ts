/**
 * Pod names, namespaces and labels by pod uid, from the kubelet's pod list (`GET <endpoint>/pods`),
 * read in the background every poll interval. Optional: when the endpoint cannot be reached the
 * agent logs it once (and once again when it comes back) and records simply go without pod names.
 */
import { Logger } from '../../component/logger';
import { BackgroundPoller } from './poller';

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

export class KubeletPods extends BackgroundPoller {
  pods = new Map<string, PodInfo>();

  constructor(endpoint: string, pollMs: number, logger: Logger, component: string) {
    super(endpoint, pollMs, logger, component, {
      reached: 'kubelet pod list loaded: pod names, namespaces and labels are added',
      unavailable: 'kubelet endpoint unavailable: records go without pod names, namespaces and labels (container ids and pod uids are still added); retrying in the background',
    });
  }

  protected async load(timeoutMs: number): Promise<Record<string, number>> {
    const res = await fetch(`${this.endpoint}/pods`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    this.pods = parsePodList(await res.json());
    return { pods: this.pods.size };
  }
}
