/**
 * splunk_hec exporter: each batch is one HTTP Event Collector request to the event endpoint, the
 * events concatenated as JSON objects (`time`, `host`, `source`, `sourcetype`, `index`, `event`,
 * `fields` with the record id). The token comes from an environment variable or a file and is never
 * logged.
 *
 * Retryable: 429, 503 (HEC "server is busy"), other 5xx and connection errors, honouring Retry-After.
 * Failure (batch dropped, counted): 400 (bad data), 401/403 (token refused), 413 (too large).
 */
import { gzipSync } from 'node:zlib';
import { AttrValue, Host, KiteRecord } from '../../component/component';
import { HttpClient, HttpResponse } from '../common/http';
import { readSecret } from '../common/secrets';
import { endpointOf, reachable } from '../common/reach';
import { loadTls } from '../common/tls';
import { resourceAttributes } from '../resource';
import { toEcs } from '../schemas/ecs';
import { recordTimeMs } from '../schemas/event-kind';
import { toOcsf } from '../schemas/ocsf';
import { failure, retryable, Sender, SendResult, success } from '../queue/sender';
import { SplunkHecConfig } from './config';

export class SplunkHecSender implements Sender {
  private client: HttpClient | null = null;
  private auth = '';
  private readonly resource: Record<string, AttrValue>;
  private readonly sourcetype: string;

  constructor(private readonly component: string, host: Host, private readonly cfg: SplunkHecConfig, private readonly timeoutMs: number) {
    this.resource = resourceAttributes(host, cfg.service_name);
    this.sourcetype = cfg.sourcetype || `kite:${cfg.schema}`;
  }

  async start(): Promise<void> {
    this.auth = `Splunk ${readSecret(`${this.component}: hec token`, { env: this.cfg.token_env, file: this.cfg.token_file })}`;
    const url = new URL(this.cfg.endpoint);
    const tls = loadTls(this.component, this.cfg.tls, { by: 'scheme', endpoint: this.cfg.endpoint });
    this.client = new HttpClient(url, tls, this.timeoutMs);
  }

  /** One HEC event object for a record. */
  event(r: KiteRecord): Record<string, unknown> {
    const body = this.cfg.schema === 'ecs' ? toEcs(r, this.resource) : this.cfg.schema === 'ocsf' ? toOcsf(r, this.resource) : r;
    const e: Record<string, unknown> = {
      time: recordTimeMs(r) / 1000,
      host: r['host.name'] ?? this.resource['host.name'],
      source: this.cfg.source,
      sourcetype: this.sourcetype,
      event: body,
      fields: { 'kite.event_id': r['kite.event_id'], 'event.name': r['event.name'] },
    };
    if (this.cfg.index) e.index = this.cfg.index;
    return e;
  }

  probe(): Promise<boolean> {
    const e = endpointOf(this.cfg.endpoint);
    return e ? reachable([e]) : Promise.resolve(false);
  }

  async send(batch: KiteRecord[]): Promise<SendResult> {
    const client = this.client;
    if (!client) return retryable('not started');
    const text = batch.map((r) => JSON.stringify(this.event(r))).join('\n');
    const headers: Record<string, string> = { authorization: this.auth, 'content-type': 'application/json' };
    let body: string | Buffer = text;
    if (this.cfg.compression === 'gzip') {
      body = gzipSync(text);
      headers['content-encoding'] = 'gzip';
    }
    let res: HttpResponse;
    try {
      res = await client.post(body, headers);
    } catch (e) {
      return retryable((e as Error).message);
    }
    if (res.status >= 200 && res.status < 300) return success();
    const msg = `HEC answered ${res.status}: ${res.text.slice(0, 200)}`;
    if (res.status === 429 || res.status >= 500) return retryable(msg, HttpClient.retryAfterMs(res));
    return failure(msg);
  }

  async shutdown(): Promise<void> {
    this.client?.close();
    this.client = null;
  }
}
