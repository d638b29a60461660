/**
 * Pod names, namespaces, labels and container names from a container runtime's CRI endpoint
 * (containerd, CRI-O: `unix:///run/containerd/containerd.sock`), read in the background every poll
 * interval with the RuntimeService's ListPodSandbox and ListContainers (runtime.v1). Optional: when the
 * endpoint cannot be reached the agent logs it once (and once again when it comes back) and records
 * simply go without pod names.
 *
 * The few CRI messages needed are read and written with a small protobuf wire codec (field numbers
 * from k8s.io/cri-api's api.proto), so no generated code or proto loader is needed.
 */
import { credentials, makeGenericClientConstructor, Client, ServiceError } from '@grpc/grpc-js';
import { Logger } from '../../component/logger';
import type { PodInfo } from './kubelet';
import { BackgroundPoller } from './poller';

// ---- protobuf wire format: just enough for the CRI messages used here ----

/** A message to encode: [field number, value] pairs; a nested message is a Msg, a map entry a Msg too. */
export type Msg = [number, string | number | boolean | Msg | Buffer][];

function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

export function encode(m: Msg): Buffer {
  const parts: Buffer[] = [];
  for (const [field, value] of m) {
    if (typeof value === 'number' || typeof value === 'boolean') {
      parts.push(varint(field << 3), varint(typeof value === 'boolean' ? Number(value) : value));
    } else {
      const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.isBuffer(value) ? value : encode(value);
      parts.push(varint((field << 3) | 2), varint(body.length), body);
    }
  }
  return Buffer.concat(parts);
}

/** A map<string, string> field as repeated entries. */
export function mapEntries(field: number, obj: Record<string, string>): Msg {
  return Object.entries(obj).map(([k, v]) => [field, [[1, k], [2, v]]] as [number, Msg]);
}

/** Decoded fields: varints as bigint, length-delimited values as Buffers; repeated fields keep every value. */
export type Fields = Map<number, (bigint | Buffer)[]>;

export function decode(buf: Buffer): Fields {
  const out: Fields = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let shift = 0n;
    let v = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('truncated field');
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) {
      value = buf.readBigUInt64LE(i);
      i += 8;
    } else if (wire === 5) {
      value = BigInt(buf.readUInt32LE(i));
      i += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const str = (f: Fields, n: number): string => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : '';
};
const sub = (f: Fields, n: number): Fields => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? decode(v) : new Map();
};
const subs = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).filter(Buffer.isBuffer).map((b) => decode(b as Buffer));
const stringMap = (f: Fields, n: number): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const e of subs(f, n)) out[str(e, 1)] = str(e, 2);
  return out;
};

export interface CriPod extends PodInfo {
  uid: string;
}

export interface CriContainer {
  name: string;
  podSandboxId: string;
}

/** ListPodSandboxResponse { repeated PodSandbox items = 1 }: sandbox id -> pod. */
export function parsePodSandboxes(buf: Buffer): Map<string, CriPod> {
  const out = new Map<string, CriPod>();
  for (const p of subs(decode(buf), 1)) {
    const meta = sub(p, 2); // PodSandboxMetadata { name = 1, uid = 2, namespace = 3 }
    const id = str(p, 1);
    if (id && str(meta, 1)) out.set(id, { name: str(meta, 1), uid: str(meta, 2), namespace: str(meta, 3), labels: stringMap(p, 5) });
  }
  return out;
}

/** ListContainersResponse { repeated Container containers = 1 }: container id -> name and sandbox. */
export function parseContainers(buf: Buffer): Map<string, CriContainer> {
  const out = new Map<string, CriContainer>();
  for (const c of subs(decode(buf), 1)) {
    const id = str(c, 1);
    if (id) out.set(id, { podSandboxId: str(c, 2), name: str(sub(c, 3), 1) });
  }
  return out;
}

// ---- the client ----

const SERVICE = '/runtime.v1.RuntimeService/';
const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };

/** A CRI RuntimeService client that sends and receives raw protobuf bytes. */
export class CriClient {
  private readonly client: Client & Record<string, (req: Buffer, opts: { deadline: number }, cb: (e: ServiceError | null, res?: Buffer) => void) => void>;

  constructor(readonly endpoint: string, methods: string[] = ['Version', 'ListPodSandbox', 'ListContainers']) {
    const def = Object.fromEntries(methods.map((m) => [m, { path: `${SERVICE}${m}`, requestStream: false, responseStream: false, ...raw }]));
    const Ctor = makeGenericClientConstructor(def, 'RuntimeService');
    const target = endpoint.startsWith('unix:') ? endpoint : `unix://${endpoint}`;
    this.client = new Ctor(target, credentials.createInsecure()) as never;
  }

  call(method: string, req: Msg, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client[method]!(encode(req), { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(res ?? Buffer.alloc(0))));
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The pods and containers a CRI runtime knows, polled in the background. */
export class CriPods extends BackgroundPoller {
  /** Pods by pod uid. */
  pods = new Map<string, CriPod>();
  /** Container id -> its name and its pod. */
  containers = new Map<string, { name: string; pod: CriPod }>();
  private client: CriClient | null = null;

  constructor(endpoint: string, pollMs: number, logger: Logger, component: string) {
    super(endpoint, pollMs, logger, component, {
      reached: 'CRI endpoint reached: pod names, namespaces, labels and container names are added',
      unavailable: 'CRI endpoint unavailable: records go without pod names, namespaces, labels and container names (container ids and pod uids are still added); retrying in the background',
    });
  }

  protected override open(): void {
    this.client = new CriClient(this.endpoint);
  }

  protected override close(): void {
    this.client?.close();
    this.client = null;
  }

  protected async load(timeout: number): Promise<Record<string, number> | null> {
    const c = this.client;
    if (!c) return null;
    const sandboxes = parsePodSandboxes(await c.call('ListPodSandbox', [], timeout));
    const containers = parseContainers(await c.call('ListContainers', [], timeout));
    const pods = new Map<string, CriPod>();
    for (const p of sandboxes.values()) if (p.uid) pods.set(p.uid, p);
    const byId = new Map<string, { name: string; pod: CriPod }>();
    for (const [id, ct] of containers) {
      const pod = sandboxes.get(ct.podSandboxId);
      if (pod) byId.set(id, { name: ct.name, pod });
    }
    // a pod's sandbox (pause) container is a container of the pod too
    for (const [id, pod] of sandboxes) if (!byId.has(id)) byId.set(id, { name: '', pod });
    this.pods = pods;
    this.containers = byId;
    return { pods: pods.size, containers: containers.size };
  }
}
