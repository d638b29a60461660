/**
 * kafka exporter: sends each batch with one kafkajs producer request per batch (grouped by topic),
 * values as ECS, OCSF or OTLP JSON. The producer connects lazily, so an unreachable cluster at start
 * does not stop the agent: sends fail as retryable and the shared queue keeps the records.
 *
 * Retryable: connection errors, timeouts, leadership changes and any kafkajs error marked retriable.
 * Failure (batch dropped, counted): protocol errors the broker will always return for this batch,
 * such as MESSAGE_TOO_LARGE, INVALID_RECORD or authorization errors, and SASL authentication refused.
 */
// first: replaces two kafkajs modules before kafkajs loads them
import { createCachedPartitioner, kafkajsPatched } from './kafkajs-patches';
import { CompressionTypes, Kafka, logLevel, Message, Producer, SASLOptions } from 'kafkajs';
import { AttrValue, Host, KiteRecord } from '../../component/component';
import { readSecret } from '../common/secrets';
import { Endpoint, endpointOf, reachable } from '../common/reach';
import { loadTls } from '../common/tls';
import { agentVersion, resourceAttributes } from '../resource';
import { ECS_VERSION, ecsJsonBytesSerializer } from '../schemas/ecs';
import { eventKind, recordTimeMs } from '../schemas/event-kind';
import { OCSF_VERSION, toOcsf } from '../schemas/ocsf';
import { otlpJson } from '../schemas/otel';
import { failure, retryable, Sender, SendResult, success } from '../queue/sender';
import { KafkaConfig } from './config';
import { installRecordEncoder } from './record-encoder';

const PERMANENT = new Set([
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'RECORD_LIST_TOO_LARGE',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);

/**
 * What a SASL login failure says when the credentials themselves were refused: the broker's answer
 * (PLAIN: "Invalid username or password"; SCRAM: "... invalid credentials ..."; the error code's own
 * text when the broker sent none), or kafkajs's before asking (no password, a mechanism the broker
 * does not offer). kafkajs wraps every failure of the login exchange alike, a connection closed or a
 * timeout too ("SASL PLAIN authentication failed: Connection closed"), and keeps only the message:
 * those stay retryable.
 */
const CREDENTIALS_REFUSED = /invalid credentials|invalid username or password|mechanism is not supported by the server|: SASL Authentication failed$/i;

/** Walks an error and its causes: permanent if any is a known permanent protocol error or refused credentials. */
export function classifyKafkaError(e: unknown): 'retryable' | 'failure' {
  let cur = e as { type?: string; name?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur.type && PERMANENT.has(cur.type)) return 'failure';
    if (cur.name === 'KafkaJSSASLAuthenticationError' && CREDENTIALS_REFUSED.test(String(cur.message))) return 'failure';
    cur = (cur.cause ?? cur.originalError) as typeof cur;
  }
  return 'retryable';
}

const TOPIC_CHARS = /[^A-Za-z0-9._-]/g;
/** Value bytes per produce request, under the broker's default message.max.bytes of 1 MiB. */
const REQUEST_BYTES = 768 << 10;

interface Slot {
  producer: Producer;
  connecting: Promise<void> | null;
  /** The batch that owns this producer from its first attempt until it is done. */
  owner: KafkaItem[] | null;
}

/**
 * What the queue keeps of a record: its kafkajs message, value encoded, and its topic (kafkajs reads
 * only the message's own fields).
 */
export interface KafkaItem extends Message {
  topic: string;
  value: Buffer | string;
}

interface Encoded {
  requests: { topic: string; messages: Message[] }[][];
  slot: Slot | null;
}

export class KafkaSender implements Sender<KafkaItem> {
  private slots: Slot[] = [];
  /** Each batch's produce requests, encoded once and kept for its retries. */
  private readonly encoded = new WeakMap<KafkaItem[], Encoded>();
  private readonly resource: Record<string, AttrValue>;
  private readonly templated: boolean;
  private readonly headers: Record<string, Buffer>;
  private readonly encode: (r: KiteRecord) => string | Buffer;

  /**
   * `concurrency` is the queue's requests in flight: one producer each, so that the idempotent
   * producer's sequence numbers of one batch are never shared with another batch in flight (kafkajs
   * sends one idempotent request per broker connection at a time, so this is also what lets batches
   * overlap on the wire).
   */
  constructor(
    private readonly component: string,
    private readonly host: Host,
    private readonly cfg: KafkaConfig,
    private readonly timeoutMs: number,
    private readonly concurrency = 1,
  ) {
    this.resource = resourceAttributes(host, cfg.service_name);
    this.templated = cfg.topic.includes('{');
    const version = cfg.schema === 'ecs' ? ECS_VERSION : cfg.schema === 'ocsf' ? OCSF_VERSION : '1.0.0';
    // Buffers: kafkajs writes them as they are instead of converting a string per record
    this.headers = { 'kite.schema': Buffer.from(cfg.schema), 'kite.schema.version': Buffer.from(version), 'content-type': Buffer.from('application/json') };
    const scope = { name: 'kite', version: agentVersion() };
    this.encode =
      cfg.schema === 'ecs'
        ? ecsJsonBytesSerializer(this.resource)
        : cfg.schema === 'ocsf'
          ? (r) => JSON.stringify(toOcsf(r, this.resource))
          : (r) => otlpJson(r, this.resource, scope);
  }

  async start(): Promise<void> {
    const tls = loadTls(this.component, this.cfg.tls, { by: 'setting' });
    let sasl: SASLOptions | undefined;
    if (this.cfg.sasl.mechanism !== 'none') {
      const password = readSecret(`${this.component}: sasl password`, { env: this.cfg.sasl.password_env, file: this.cfg.sasl.password_file });
      sasl = { mechanism: this.cfg.sasl.mechanism, username: this.cfg.sasl.username, password } as SASLOptions;
    }
    const log = this.host.logger.child({ component: this.component });
    if (this.cfg.sasl.mechanism === 'plain' && !tls) log.warn('kafka: SASL PLAIN without tls.enabled sends the password in plain text');
    if (!installRecordEncoder()) log.debug('kafkajs record encoder left as it is');
    if (!kafkajsPatched()) log.debug('kafkajs partition grouping and crc32c left as they are (kafkajs was loaded first)');
    const kafka = new Kafka({
      clientId: this.cfg.client_id,
      brokers: this.cfg.brokers,
      ssl: tls ?? false,
      sasl,
      connectionTimeout: Math.min(this.timeoutMs, 5000),
      requestTimeout: this.timeoutMs,
      // retries are the shared queue's job; kafkajs only rides out a short leadership change
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        // per-request noise while a broker is down: kept at debug, the queue logs the state change
        log.debug('kafkajs', { level, message: entry.message });
      },
    });
    const partitioner = createCachedPartitioner();
    this.slots = Array.from({ length: Math.max(1, this.concurrency) }, () => ({
      producer: kafka.producer({
        idempotent: this.cfg.idempotent,
        maxInFlightRequests: this.cfg.idempotent ? 1 : undefined,
        allowAutoTopicCreation: true,
        createPartitioner: partitioner,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      }),
      connecting: null,
      owner: null,
    }));
  }

  private topicOf(r: KiteRecord): string {
    if (!this.templated) return this.cfg.topic;
    const name = r['event.name'];
    return this.cfg.topic.replace('{event.name}', name.replace(TOPIC_CHARS, '_')).replace('{event.kind}', eventKind(name));
  }

  private keyOf(r: KiteRecord): string | null {
    switch (this.cfg.key) {
      case 'none':
        return null;
      case 'host':
        return String(r['host.name'] ?? this.resource['host.name']);
      case 'container':
        return String(r['container.id'] ?? r['host.name'] ?? this.resource['host.name']);
      case 'exec_id':
        return r['kite.process.exec_id'] !== undefined ? String(r['kite.process.exec_id']) : null;
    }
  }

  probe(): Promise<boolean> {
    const eps = this.cfg.brokers.map((b) => endpointOf(b, 9092)).filter((e): e is Endpoint => e !== null);
    return reachable(eps);
  }

  /**
   * The record as the message it will be sent as, made when the queue accepts it: the value is
   * written while the record is fresh in the CPU's cache, and only the message outlives it in the
   * queue (the value's bytes outside the JavaScript heap), not the record.
   */
  prepare(r: KiteRecord): KafkaItem {
    // a number where kafkajs types a string: only the produce request's encoder reads it
    // (record-encoder.ts), and kafkajs's own, for compressed requests, reads numbers alike
    return { topic: this.topicOf(r), key: this.keyOf(r), value: this.encode(r), timestamp: recordTimeMs(r) as unknown as string, headers: this.headers };
  }

  /** One request per REQUEST_BYTES of values, grouped by topic. */
  private toRequests(batch: KafkaItem[]): Encoded['requests'] {
    // a broker refuses a record batch over message.max.bytes (1 MiB by default) as
    // MESSAGE_TOO_LARGE, which no retry can fix
    const requests: Map<string, Message[]>[] = [new Map()];
    let bytes = 0;
    for (const m of batch) {
      const n = m.value.length;
      if (bytes + n > REQUEST_BYTES && bytes > 0) {
        requests.push(new Map());
        bytes = 0;
      }
      bytes += n;
      const byTopic = requests[requests.length - 1]!;
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push(m);
    }
    return requests.map((byTopic) => [...byTopic].map(([topic, messages]) => ({ topic, messages })));
  }

  async send(batch: KafkaItem[]): Promise<SendResult> {
    if (!this.slots.length) return retryable('not started');
    let enc = this.encoded.get(batch);
    if (!enc) {
      enc = { requests: this.toRequests(batch), slot: null };
      this.encoded.set(batch, enc);
    }
    // the batch keeps its producer for every attempt (a retry reuses the same sequence numbers)
    if (!enc.slot) {
      const free = this.slots.find((s) => s.owner === null);
      if (!free) {
        // two batches at once on one idempotent producer would share sequence numbers, and the broker
        // takes the second for a copy of the first: the queue never has more batches in flight than
        // producers, so this is a bug, counted and logged where it would show
        this.host.stats.add(this.component, 'producer_shared');
        this.host.logger.error('kafka: more batches in flight than producers; a batch shares a producer', { component: this.component, producers: this.slots.length });
      }
      enc.slot = free ?? this.slots[0]!;
      enc.slot.owner = batch;
    }
    const slot = enc.slot;
    try {
      if (!slot.connecting) slot.connecting = slot.producer.connect();
      await slot.connecting;
    } catch (e) {
      slot.connecting = null;
      // an unreachable broker is retried; refused credentials are not (every batch would fail alike)
      const msg = `connect: ${(e as Error).message}`;
      return classifyKafkaError(e) === 'failure' ? failure(msg) : retryable(msg);
    }
    try {
      // a retry sends the whole batch again; the idempotent producer keeps that from duplicating
      // what a partly failed batch already delivered only within one request, so requests go in order
      for (const topicMessages of enc.requests) {
        await slot.producer.sendBatch({
          topicMessages,
          acks: this.cfg.acks === 'all' ? -1 : this.cfg.acks === 'leader' ? 1 : 0,
          timeout: this.timeoutMs,
          compression: this.cfg.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        });
      }
      return success();
    } catch (e) {
      const msg = (e as Error).message;
      return classifyKafkaError(e) === 'failure' ? failure(msg) : retryable(msg);
    }
  }

  /** The queue is done with a batch (delivered, dropped or left at shutdown): its producer is free. */
  done(batch: KafkaItem[]): void {
    const enc = this.encoded.get(batch);
    if (enc?.slot?.owner === batch) enc.slot.owner = null;
    this.encoded.delete(batch);
  }

  async shutdown(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.producer.disconnect().catch(() => undefined)));
  }
}
