/**
 * otlp / otlp_http exporters: each batch becomes one OTLP logs request through the OpenTelemetry JS
 * SDK's log exporters (@opentelemetry/exporter-logs-otlp-grpc / -http). Every record is one log
 * record: its `event.name` as the event name, a severity, a one-line body and the record's other keys
 * as attributes; the resource carries service.*, host.* and os.* (see ../resource.ts).
 *
 * Retryable, per the OTLP specification: gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
 * ABORTED, OUT_OF_RANGE, DATA_LOSS, CANCELLED; HTTP 429, 502, 503, 504; any network error. Other
 * statuses drop the batch (counted `dropped.export_failed`).
 */
import { credentials as grpcCredentials, Metadata } from '@grpc/grpc-js';
import { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes, Resource } from '@opentelemetry/resources';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { Host, KiteRecord } from '../../component/component';
import { readSecret } from '../common/secrets';
import { endpointOf, reachable } from '../common/reach';
import { loadTls } from '../common/tls';
import { agentVersion, resourceAttributes } from '../resource';
import { recordTimeNanos } from '../schemas/event-kind';
import { attributesOf, bodyOf, severityOf } from '../schemas/otel';
import { failure, retryable, Sender, SendResult, success } from '../queue/sender';
import { OtlpConfig, otlpTlsDecider } from './config';
import { OtlpLogsEncoder } from './logs-protobuf';

const RETRYABLE_GRPC = new Set([1, 4, 8, 10, 11, 14, 15]);
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);

export function classifyOtlpError(protocol: 'grpc' | 'http', e: unknown): 'retryable' | 'failure' {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'number') return 'retryable'; // connection refused, reset, timeout
  if (protocol === 'grpc') return RETRYABLE_GRPC.has(code) ? 'retryable' : 'failure';
  return RETRYABLE_HTTP.has(code) || code >= 500 ? 'retryable' : 'failure';
}

const hrTime = (nanos: string): [number, number] => {
  const s = nanos.length > 9 ? Number(nanos.slice(0, -9)) : 0;
  return [s, Number(nanos.slice(-9))];
};

interface Serializer {
  serializeRequest(items: unknown): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): unknown;
}

/**
 * Lets the SDK's gRPC log exporter take Kite records as they are: its export delegate's protobuf
 * serializer is replaced by `encoder` (the same bytes, without a LogRecord object per record); the
 * response is still read by the SDK's own deserializer. The SDK's exporter, transport, compression,
 * credentials and concurrency limit are used as they are. Returns false, changing nothing, when the
 * SDK's layout differs (its delegate or serializer is not where 0.223 keeps it).
 */
export function serializeRecordsDirectly(exporter: LogRecordExporter, encoder: OtlpLogsEncoder): boolean {
  const delegate = (exporter as unknown as { _delegate?: { _serializer?: Serializer } })._delegate;
  const sdk = delegate?._serializer;
  if (!delegate || !sdk || typeof sdk.serializeRequest !== 'function' || typeof sdk.deserializeResponse !== 'function') return false;
  delegate._serializer = {
    serializeRequest: (items) => encoder.encode(items as KiteRecord[]),
    deserializeResponse: (data) => sdk.deserializeResponse(data),
  };
  return true;
}

export class OtlpSender implements Sender {
  private exporter: LogRecordExporter | null = null;
  private readonly resource: Resource;
  private readonly scope = { name: 'kite', version: agentVersion() };
  private readonly encoder: OtlpLogsEncoder;
  /** True when the exporter takes Kite records (gRPC, see serializeRecordsDirectly). */
  private direct = false;

  constructor(
    private readonly component: string,
    private readonly host: Host,
    private readonly protocol: 'grpc' | 'http',
    private readonly cfg: OtlpConfig,
    private readonly timeoutMs: number,
    private readonly concurrency: number,
  ) {
    const attrs = resourceAttributes(host, cfg.service_name);
    this.resource = resourceFromAttributes(attrs);
    this.encoder = new OtlpLogsEncoder(attrs, this.scope);
  }

  async start(): Promise<void> {
    const token = readSecret(`${this.component}: bearer token`, { env: this.cfg.bearer_token_env, file: this.cfg.bearer_token_file });
    const headers: Record<string, string> = { ...this.cfg.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    const tls = loadTls(this.component, this.cfg.tls, otlpTlsDecider(this.protocol, this.cfg.endpoint));
    const compression = this.cfg.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
    if (this.protocol === 'grpc') {
      const metadata = new Metadata();
      for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
      const secure = tls !== null;
      const url = /^[a-z]+:\/\//.test(this.cfg.endpoint) ? this.cfg.endpoint : `${secure ? 'https' : 'http'}://${this.cfg.endpoint}`;
      this.exporter = new GrpcLogExporter({
        url,
        metadata,
        compression,
        timeoutMillis: this.timeoutMs,
        concurrencyLimit: this.concurrency + 1,
        credentials: secure
          ? grpcCredentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null, { rejectUnauthorized: tls?.rejectUnauthorized ?? true })
          : grpcCredentials.createInsecure(),
      });
      this.direct = serializeRecordsDirectly(this.exporter, this.encoder);
      if (!this.direct) this.host.logger.debug('otlp: the SDK serializer is used (its layout differs from 0.223)', { component: this.component });
    } else {
      this.exporter = new HttpLogExporter({
        url: `${this.cfg.endpoint.replace(/\/+$/, '')}${this.cfg.logs_path}`,
        headers,
        compression,
        timeoutMillis: this.timeoutMs,
        concurrencyLimit: this.concurrency + 1,
        keepAlive: true,
        httpAgentOptions: tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, keepAlive: true } : { keepAlive: true },
      });
    }
  }

  /** The SDK's log record of a Kite record (the otlp_http path, and what the direct encoder matches). */
  toLogRecord(r: KiteRecord): ReadableLogRecord {
    const sev = severityOf(r);
    const t = hrTime(recordTimeNanos(r));
    return {
      hrTime: t,
      hrTimeObserved: t,
      severityNumber: sev.number,
      severityText: sev.text,
      body: bodyOf(r),
      eventName: r['event.name'],
      resource: this.resource,
      instrumentationScope: this.scope,
      attributes: attributesOf(r),
      droppedAttributesCount: 0,
    };
  }

  probe(): Promise<boolean> {
    const e = endpointOf(this.cfg.endpoint, this.protocol === 'grpc' ? 4317 : 4318);
    return e ? reachable([e]) : Promise.resolve(false);
  }

  send(batch: KiteRecord[]): Promise<SendResult> {
    const exporter = this.exporter;
    if (!exporter) return Promise.resolve(retryable('not started'));
    const logs = this.direct ? (batch as unknown as ReadableLogRecord[]) : batch.map((r) => this.toLogRecord(r));
    return new Promise((resolve) => {
      exporter.export(logs, (res: ExportResult) => {
        if (res.code === ExportResultCode.SUCCESS) return resolve(success());
        const e = res.error;
        // the HTTP status or gRPC code with the SDK's text (over HTTP only the status text, "Unauthorized")
        const code = (e as { code?: unknown } | undefined)?.code;
        const text = e?.message ?? 'export failed';
        const msg = typeof code === 'number' ? `${this.protocol === 'http' ? 'HTTP' : 'gRPC code'} ${code}: ${text}` : text;
        resolve(classifyOtlpError(this.protocol, e) === 'failure' ? failure(msg) : retryable(msg));
      });
    });
  }

  async shutdown(): Promise<void> {
    const e = this.exporter;
    this.exporter = null;
    await e?.shutdown().catch(() => undefined);
  }
}
