/** A small keep-alive HTTP(S) client for the exporters that speak plain HTTP (_bulk, HEC). */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TlsMaterial } from './tls';

export interface HttpResponse {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export class HttpClient {
  private readonly agent: HttpAgent;

  constructor(private readonly url: URL, tls: TlsMaterial | null, private readonly timeoutMs: number) {
    this.agent =
      url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, ca: tls?.ca, cert: tls?.cert, key: tls?.key, rejectUnauthorized: tls?.rejectUnauthorized ?? true })
        : new HttpAgent({ keepAlive: true });
  }

  /** POSTs a body; rejects on connection errors and timeouts, resolves with any HTTP status. */
  post(body: string | Buffer, headers: Record<string, string | number>): Promise<HttpResponse> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.url, { method: 'POST', agent: this.agent, headers: { 'content-length': Buffer.byteLength(body), ...headers }, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Seconds of a Retry-After header, as milliseconds (0 when absent or a date). */
  static retryAfterMs(res: HttpResponse): number {
    const v = Number(res.headers['retry-after']);
    return Number.isFinite(v) && v > 0 ? v * 1000 : 0;
  }

  close(): void {
    this.agent.destroy();
  }
}
