/**
 * Real test peers, started and stopped by the tests themselves, bound to 127.0.0.1 only: an
 * OpenTelemetry Collector (OTLP gRPC + HTTP in, a JSON-lines file out) and a single-node Apache Kafka
 * in KRaft mode. Builds and downloads are cached outside the repository in $KITE_PEERS_CACHE
 * (default /var/cache/kite-peers) by test/peers/<peer>/ scripts; a fresh machine rebuilds them from
 * the Go module proxy and Maven Central.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ROOT } from './paths';
import { TlsFiles } from './tls';

export const PEERS_DIR = join(ROOT, 'test', 'peers');

export const PORTS = {
  kafka: Number(process.env.KITE_PEER_KAFKA_PORT ?? 19092),
  kafkaController: Number(process.env.KITE_PEER_KAFKA_CONTROLLER_PORT ?? 19093),
  kafkaSsl: Number(process.env.KITE_PEER_KAFKA_SSL_PORT ?? 19094),
  kafkaSaslSsl: Number(process.env.KITE_PEER_KAFKA_SASL_SSL_PORT ?? 19095),
  otlpGrpc: Number(process.env.KITE_PEER_OTLP_GRPC_PORT ?? 14317),
  otlpHttp: Number(process.env.KITE_PEER_OTLP_HTTP_PORT ?? 14318),
  otlpTlsGrpc: Number(process.env.KITE_PEER_OTLP_TLS_GRPC_PORT ?? 14319),
  otlpTlsHttp: Number(process.env.KITE_PEER_OTLP_TLS_HTTP_PORT ?? 14320),
  otlpAuthGrpc: Number(process.env.KITE_PEER_OTLP_AUTH_GRPC_PORT ?? 14321),
  otlpAuthHttp: Number(process.env.KITE_PEER_OTLP_AUTH_HTTP_PORT ?? 14322),
  hec: Number(process.env.KITE_PEER_HEC_PORT ?? 14323),
  health: Number(process.env.KITE_PEER_HEALTH_PORT ?? 14133),
  opensearch: Number(process.env.KITE_PEER_OPENSEARCH_PORT ?? 19200),
  opensearchTransport: Number(process.env.KITE_PEER_OPENSEARCH_TRANSPORT_PORT ?? 19300),
  loki: Number(process.env.KITE_PEER_LOKI_PORT ?? 13100),
  lokiGrpc: Number(process.env.KITE_PEER_LOKI_GRPC_PORT ?? 19096),
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** A peer process in its own process group, its output appended to a log file. */
class PeerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly name: string, private readonly logFile: string) {}

  run(cmd: string, args: string[], env: Record<string, string> = {}): void {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    // the child has its own copy
    closeSync(fd);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Adopts a process started by a script (the script printed its pid). */
  adopt(pid: number): void {
    this.child = { pid } as ChildProcess;
    this.exited = (async () => {
      while (alive(pid)) await sleep(100);
    })();
  }

  get running(): boolean {
    return this.child?.pid !== undefined && alive(this.child.pid);
  }

  /** The process's pid while it runs (benchmarks read its CPU time from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await this.exited;
    }
    this.child = null;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(-4000) : `${this.name}: no log`;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a build script, its progress on our stderr; returns its last stdout line. */
function runScript(script: string, args: string[] = [], env: Record<string, string> = {}): string {
  const r = spawnSync('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: 60 * 60_000, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${script} failed with status ${r.status}`);
  return r.stdout.trim().split('\n').pop()!;
}

/** A log record as the collector's file exporter wrote it, flattened. */
export interface CollectedLog {
  resource: Record<string, unknown>;
  scope: { name?: string; version?: string };
  eventName?: string;
  severityNumber?: number;
  severityText?: string;
  body?: unknown;
  timeUnixNano?: string;
  attributes: Record<string, unknown>;
}

type OtlpAny = { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpAny[] }; kvlistValue?: { values?: { key: string; value: OtlpAny }[] } };
function fromAny(v: OtlpAny): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(fromAny);
  if (v.kvlistValue) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, fromAny(kv.value)]));
  return undefined;
}
export const attrs = (kvs: { key: string; value: OtlpAny }[] = []): Record<string, unknown> => Object.fromEntries(kvs.map((kv) => [kv.key, fromAny(kv.value)]));

/** Every log record of OTLP JSON `{"resourceLogs": ...}` objects, one per line. */
export function parseOtlpJsonLines(text: string): CollectedLog[] {
  const out: CollectedLog[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line);
    for (const rl of doc.resourceLogs ?? []) {
      const resource = attrs(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const lr of sl.logRecords ?? []) {
          out.push({
            resource,
            scope: sl.scope ?? {},
            eventName: lr.eventName,
            severityNumber: lr.severityNumber,
            severityText: lr.severityText,
            body: lr.body ? fromAny(lr.body) : undefined,
            timeUnixNano: lr.timeUnixNano,
            attributes: attrs(lr.attributes),
          });
        }
      }
    }
  }
  return out;
}

export class Collector {
  private readonly proc: PeerProcess;
  readonly grpcEndpoint = `127.0.0.1:${PORTS.otlpGrpc}`;
  readonly httpEndpoint = `http://127.0.0.1:${PORTS.otlpHttp}`;
  /** With `secure`: OTLP receivers that require a client certificate (test/peers/otelcol/secure.yaml). */
  readonly tlsGrpcEndpoint = `127.0.0.1:${PORTS.otlpTlsGrpc}`;
  readonly tlsHttpEndpoint = `https://127.0.0.1:${PORTS.otlpTlsHttp}`;
  /** With `secure`: the splunk_hec receiver's event endpoint, which requires `Splunk <secure.token>`. */
  readonly hecEndpoint = `http://127.0.0.1:${PORTS.hec}/services/collector/event`;
  /** With `secure`: OTLP receivers that require the bearer token `secure.token`. */
  readonly authGrpcEndpoint = `127.0.0.1:${PORTS.otlpAuthGrpc}`;
  readonly authHttpEndpoint = `http://127.0.0.1:${PORTS.otlpAuthHttp}`;

  constructor(private readonly outDir: string, private readonly secure?: { tls: TlsFiles; token: string }) {
    mkdirSync(outDir, { recursive: true });
    this.proc = new PeerProcess('otelcol', join(outDir, 'otelcol.log'));
  }

  /** Builds the collector once per manifest (5-12 min cold); returns the binary. */
  static build(): string {
    return runScript(join(PEERS_DIR, 'otelcol', 'build.sh'));
  }

  async start(): Promise<void> {
    const bin = Collector.build();
    const configs = ['--config', join(PEERS_DIR, 'otelcol', 'config.yaml')];
    if (this.secure) configs.push('--config', join(PEERS_DIR, 'otelcol', 'secure.yaml'));
    this.proc.run(bin, configs, {
      PEER_OUT: this.outDir,
      PEER_HEALTH_PORT: String(PORTS.health),
      PEER_OTLP_GRPC_PORT: String(PORTS.otlpGrpc),
      PEER_OTLP_HTTP_PORT: String(PORTS.otlpHttp),
      PEER_OTLP_TLS_GRPC_PORT: String(PORTS.otlpTlsGrpc),
      PEER_OTLP_TLS_HTTP_PORT: String(PORTS.otlpTlsHttp),
      PEER_OTLP_AUTH_GRPC_PORT: String(PORTS.otlpAuthGrpc),
      PEER_OTLP_AUTH_HTTP_PORT: String(PORTS.otlpAuthHttp),
      PEER_HEC_PORT: String(PORTS.hec),
      PEER_TLS_DIR: this.secure?.tls.dir ?? '',
      PEER_BEARER_TOKEN: this.secure?.token ?? '',
    });
    await waitFor('the collector to be healthy', async () => {
      if (!this.proc.running) throw new Error(`collector exited: ${this.proc.log()}`);
      const r = await fetch(`http://127.0.0.1:${PORTS.health}/`).catch(() => null);
      return r?.ok ?? false;
    }, 30_000);
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  records(): CollectedLog[] {
    const file = join(this.outDir, 'otlp.jsonl');
    return existsSync(file) ? parseOtlpJsonLines(readFileSync(file, 'utf8')) : [];
  }
}

export interface KafkaMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * A broker's secure listeners besides its plaintext one: SSL (mutual TLS: a client certificate signed
 * by the test CA is required) and SASL_SSL (TLS, then SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with
 * these users).
 */
export interface KafkaSecurity {
  tls: TlsFiles;
  plainUsers: Record<string, string>;
  scramUsers: Record<string, string>;
}

export class KafkaBroker {
  private readonly proc: PeerProcess;
  readonly bootstrap = `127.0.0.1:${PORTS.kafka}`;
  readonly sslBootstrap = `127.0.0.1:${PORTS.kafkaSsl}`;
  readonly saslSslBootstrap = `127.0.0.1:${PORTS.kafkaSaslSsl}`;

  /**
   * `jvm`: `light` (tests: C1 only, 512 MB heap, quick to start) or `shipped` (benchmarks: the JVM
   * options of Kafka's own kafka-server-start.sh), see test/peers/kafka/start.sh. `security` adds the
   * SSL and SASL_SSL listeners.
   */
  constructor(private readonly dataDir: string, private readonly jvm: 'light' | 'shipped' = 'light', private readonly security?: KafkaSecurity) {
    mkdirSync(dataDir, { recursive: true });
    this.proc = new PeerProcess('kafka', join(dataDir, 'kafka.log'));
  }

  /** The broker properties of the secure listeners (appended to server.properties by start.sh). */
  private securityProperties(): string {
    const sec = this.security!;
    const jaasUsers = Object.entries(sec.plainUsers).map(([u, p]) => `user_${u}="${p}"`).join(' ');
    return [
      `listeners=PLAINTEXT://${this.bootstrap},CONTROLLER://127.0.0.1:${PORTS.kafkaController},SSL://${this.sslBootstrap},SASL_SSL://${this.saslSslBootstrap}`,
      `advertised.listeners=PLAINTEXT://${this.bootstrap},SSL://${this.sslBootstrap},SASL_SSL://${this.saslSslBootstrap}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${sec.tls.serverPem}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${sec.tls.ca}`,
      'listener.name.ssl.ssl.client.auth=required',
      'listener.name.sasl_ssl.ssl.client.auth=none',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${jaasUsers};`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      '',
    ].join('\n');
  }

  /** Starts the broker (fetching its jars once) and waits until it serves metadata. */
  async start(): Promise<void> {
    const env: Record<string, string> = { KITE_KAFKA_JVM: this.jvm };
    if (this.security) {
      const extra = join(this.dataDir, 'security.properties');
      writeFileSync(extra, this.securityProperties());
      env.KITE_KAFKA_EXTRA_PROPERTIES = extra;
      env.KITE_KAFKA_SCRAM = Object.entries(this.security.scramUsers).flatMap(([u, p]) => ['256', '512'].map((bits) => `SCRAM-SHA-${bits}=[name=${u},password=${p}]`)).join(' ');
    }
    const pid = Number(runScript(join(PEERS_DIR, 'kafka', 'start.sh'), [this.dataDir, String(PORTS.kafka), String(PORTS.kafkaController)], env));
    this.proc.adopt(pid);
    const kafka = new Kafka({ brokers: [this.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    await waitFor('the kafka broker to serve metadata', async () => {
      if (!this.proc.running) throw new Error(`kafka exited: ${this.proc.log()}`);
      const admin = kafka.admin();
      try {
        await admin.connect();
        return (await admin.describeCluster()).brokers.length > 0;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }, 90_000, 500);
  }

  stop(): Promise<void> {
    return this.proc.stop(30_000);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /**
   * What the broker holds of a topic, per partition: its first offset (above 0 once the broker has
   * deleted records) and its high watermark.
   */
  async topicOffsets(topic: string): Promise<{ partition: number; low: number; high: number }[]> {
    const admin = new Kafka({ brokers: [this.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
    } finally {
      await admin.disconnect();
    }
  }

  /** Reads every message of `topic` from the beginning until `count` have arrived (or the timeout). */
  async readTopic(topic: string, count: number, timeoutMs = 60_000, distinct?: (m: KafkaMessage) => string | undefined): Promise<KafkaMessage[]> {
    return (await this.readTopics([topic], count, timeoutMs, distinct)).get(topic) ?? [];
  }

  /**
   * Reads several topics with one consumer until `count` messages in all have arrived; with
   * `distinct`, until `count` distinct ones have (copies of a message, which at-least-once delivery
   * allows, do not count twice; a message it gives no id, undefined, does not count).
   */
  async readTopics(topics: string[], count: number, timeoutMs = 60_000, distinct?: (m: KafkaMessage) => string | undefined): Promise<Map<string, KafkaMessage[]>> {
    const kafka = new Kafka({ brokers: [this.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `kite-test-${process.pid}-${Date.now()}-${Math.random()}` });
    const out: KafkaMessage[] = [];
    const byTopic = new Map<string, KafkaMessage[]>(topics.map((t) => [t, []]));
    const seen = new Set<string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
            const msg = { key: m.key ? m.key.toString() : null, value: m.value!.toString(), headers };
            // the id first: a message it cannot read fails the read before it counts
            if (distinct) {
              const id = distinct(msg);
              if (id !== undefined) seen.add(id);
            }
            out.push(msg);
            byTopic.get(batch.topic)?.push(msg);
          }
        },
      });
      await waitFor(`${count} messages on ${topics.join(', ')}`, () => (distinct ? seen.size : out.length) >= count, timeoutMs, 200).catch(() => undefined);
      await sleep(500);
    } finally {
      await consumer.disconnect();
    }
    return byTopic;
  }
}

export class OpenSearch {
  private readonly proc: PeerProcess;
  readonly endpoint = `http://127.0.0.1:${PORTS.opensearch}`;

  constructor(private readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    // the node runs as the unprivileged user kitepeer, which must reach its folder (mkdtemp makes 0700)
    chmodSync(dirname(dataDir), 0o755);
    this.proc = new PeerProcess('opensearch', join(dataDir, 'opensearch.out'));
  }

  /** Starts the node (fetching the distribution once) and waits for a yellow cluster. */
  async start(): Promise<void> {
    const pid = Number(runScript(join(PEERS_DIR, 'opensearch', 'start.sh'), [this.dataDir, String(PORTS.opensearch), String(PORTS.opensearchTransport)]));
    this.proc.adopt(pid);
    await waitFor('opensearch to be up', async () => {
      if (!this.proc.running) throw new Error(`opensearch exited: ${this.proc.log()}`);
      const r = await fetch(`${this.endpoint}/_cluster/health?wait_for_status=yellow&timeout=2s`).catch(() => null);
      return r?.ok ?? false;
    }, 120_000, 500);
  }

  stop(): Promise<void> {
    return this.proc.stop(30_000);
  }

  async request(method: string, path: string, body?: unknown): Promise<any> {
    const r = await fetch(`${this.endpoint}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }

  /** Every document of an index (or data stream), after a refresh. */
  async documents(index: string): Promise<any[]> {
    await this.request('POST', `/${index}/_refresh`);
    const out: any[] = [];
    let res = await this.request('POST', `/${index}/_search?scroll=1m`, { size: 5000 });
    for (;;) {
      const hits = res.hits.hits as { _id: string; _source: any }[];
      for (const h of hits) out.push({ _id: h._id, ...h._source });
      if (!hits.length) break;
      res = await this.request('POST', '/_search/scroll', { scroll: '1m', scroll_id: res._scroll_id });
    }
    return out;
  }
}

/** One log line as Loki returns it: its stream labels (structured metadata included) and the line. */
export interface LokiEntry {
  labels: Record<string, string>;
  timeNanos: string;
  line: string;
}

/** Grafana Loki, single binary with filesystem storage, built from the Go module proxy. */
export class Loki {
  private readonly proc: PeerProcess;
  readonly endpoint = `http://127.0.0.1:${PORTS.loki}`;

  constructor(private readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.proc = new PeerProcess('loki', join(dataDir, 'loki.log'));
  }

  /** Builds Loki once per version (15-60 min cold on 2 shared cores, warm at once); returns the binary. */
  static build(): string {
    return runScript(join(PEERS_DIR, 'loki', 'build.sh'));
  }

  async start(): Promise<void> {
    const bin = Loki.build();
    this.proc.run(bin, ['-config.file', join(PEERS_DIR, 'loki', 'config.yaml'), '-config.expand-env=true'], {
      LOKI_HTTP_PORT: String(PORTS.loki),
      LOKI_GRPC_PORT: String(PORTS.lokiGrpc),
      LOKI_DIR: this.dataDir,
    });
    await waitFor('loki to be ready', async () => {
      if (!this.proc.running) throw new Error(`loki exited: ${this.proc.log()}`);
      const r = await fetch(`${this.endpoint}/ready`).catch(() => null);
      return r?.ok ?? false;
    }, 120_000, 500);
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }

  /** Every line of a tenant matching a LogQL stream selector within the last `sinceMs`, oldest first. */
  async query(tenant: string, selector: string, sinceMs = 3_600_000, limit = 5000): Promise<LokiEntry[]> {
    const end = BigInt(Date.now() + 60_000) * 1_000_000n;
    const start = BigInt(Date.now() - sinceMs) * 1_000_000n;
    const url = `${this.endpoint}/loki/api/v1/query_range?${new URLSearchParams({ query: selector, start: String(start), end: String(end), limit: String(limit), direction: 'forward' })}`;
    const r = await fetch(url, { headers: { 'X-Scope-OrgID': tenant } });
    const text = await r.text();
    if (!r.ok) throw new Error(`loki query ${selector}: ${r.status} ${text.slice(0, 300)}`);
    const out: LokiEntry[] = [];
    for (const s of JSON.parse(text).data.result as { stream: Record<string, string>; values: [string, string, Record<string, unknown>?][] }[]) {
      for (const [timeNanos, line, meta] of s.values) {
        const labels = { ...s.stream };
        // with categorized labels, structured metadata comes as a third element
        const sm = (meta as { structuredMetadata?: Record<string, string> } | undefined)?.structuredMetadata;
        if (sm) Object.assign(labels, sm);
        out.push({ labels, timeNanos, line });
      }
    }
    return out;
  }
}
