/**
 * elasticsearch exporter: each batch is one `_bulk` request of ECS documents (Elasticsearch or
 * OpenSearch), written with `create` and `_id` = `kite.event_id`, so a batch sent again after a
 * retry or an agent restart never stores a document twice (the copy answers 409 and counts as sent).
 *
 * Per-item results: a document the cluster rejects for good (mapping error, 4xx) is counted
 * `dropped.rejected` and the rest go through; if any item failed with a retryable status (429, 5xx),
 * the whole batch is retried, which `create` + `_id` makes safe. Request-level: 429, 5xx and connection
 * errors are retryable; 400, 401, 403, 413 drop the batch (`dropped.export_failed`).
 */
import { AttrValue, Host, KiteRecord } from '../../component/component';
import { HttpClient, HttpResponse } from '../common/http';
import { readSecret } from '../common/secrets';
import { endpointOf, reachable } from '../common/reach';
import { loadTls } from '../common/tls';
import { resourceAttributes } from '../resource';
import { ecsJsonSerializer } from '../schemas/ecs';
import { eventKind } from '../schemas/event-kind';
import { failure, retryable, Sender, SendResult, success } from '../queue/sender';
import { ElasticsearchConfig } from './config';

const isRetryableStatus = (s: number): boolean => s === 429 || s >= 500;

interface BulkItem {
  status: number;
  error?: { type?: string; reason?: string };
}

export class ElasticsearchSender implements Sender {
  private client: HttpClient | null = null;
  private auth = '';
  private readonly url: URL;
  private readonly resource: Record<string, AttrValue>;
  private readonly ecsJson: (r: KiteRecord) => string;
  private readonly templated: boolean;
  private warnedReject = false;

  constructor(private readonly component: string, private readonly host: Host, private readonly cfg: ElasticsearchConfig, private readonly timeoutMs: number) {
    this.url = new URL(`${cfg.endpoint.replace(/\/+$/, '')}/_bulk`);
    this.resource = resourceAttributes(host, cfg.service_name);
    this.ecsJson = ecsJsonSerializer(this.resource);
    this.templated = cfg.index.includes('{');
  }

  async start(): Promise<void> {
    const a = this.cfg.auth;
    const password = readSecret(`${this.component}: auth password`, { env: a.password_env, file: a.password_file });
    const apiKey = readSecret(`${this.component}: api key`, { env: a.api_key_env, file: a.api_key_file });
    if (apiKey) this.auth = `ApiKey ${apiKey}`;
    else if (a.username) this.auth = `Basic ${Buffer.from(`${a.username}:${password}`).toString('base64')}`;
    const tls = loadTls(this.component, this.cfg.tls, { by: 'scheme', endpoint: this.cfg.endpoint });
    this.client = new HttpClient(this.url, tls, this.timeoutMs);
  }

  private indexOf(r: KiteRecord): string {
    return this.templated ? this.cfg.index.replace('{event.kind}', eventKind(r['event.name'])) : this.cfg.index;
  }

  probe(): Promise<boolean> {
    const e = endpointOf(this.url.href);
    return e ? reachable([e]) : Promise.resolve(false);
  }

  async send(batch: KiteRecord[]): Promise<SendResult> {
    const client = this.client;
    if (!client) return retryable('not started');
    const lines: string[] = [];
    for (const r of batch) {
      lines.push(JSON.stringify({ create: { _index: this.indexOf(r), _id: r['kite.event_id'] } }), this.ecsJson(r));
    }
    const body = `${lines.join('\n')}\n`;
    let res: HttpResponse;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
      if (this.auth) headers.authorization = this.auth;
      res = await client.post(body, headers);
    } catch (e) {
      return retryable((e as Error).message);
    }
    if (res.status < 200 || res.status >= 300) {
      const msg = `_bulk answered ${res.status}: ${res.text.slice(0, 200)}`;
      return isRetryableStatus(res.status) ? retryable(msg, HttpClient.retryAfterMs(res)) : failure(msg);
    }
    let parsed: { errors?: boolean; items?: Record<string, BulkItem>[] };
    try {
      parsed = JSON.parse(res.text);
    } catch {
      return retryable('_bulk answered with a body that is not JSON');
    }
    if (!parsed.errors) return success();
    let rejected = 0;
    let retry = 0;
    let firstReject: BulkItem['error'];
    for (const item of parsed.items ?? []) {
      const r = Object.values(item)[0]!;
      if (r.status < 300 || r.status === 409) continue; // 409: this id is already stored
      if (isRetryableStatus(r.status)) retry++;
      else {
        rejected++;
        firstReject ??= r.error;
      }
    }
    if (rejected && !this.warnedReject) {
      this.warnedReject = true;
      this.host.logger.warn('documents rejected by the cluster (logged once)', { component: this.component, type: firstReject?.type, reason: firstReject?.reason?.slice(0, 200) });
    }
    // resending the batch is safe: stored documents answer 409; rejected ones are counted once
    if (retry) return retryable(`${retry} documents answered 429 or 5xx`);
    return success(rejected);
  }

  async shutdown(): Promise<void> {
    this.client?.close();
    this.client = null;
  }
}
