/** Settings of the otlp (gRPC) and otlp_http exporters: the same keys, different defaults. */
import { ValidationProblem } from '../../component/component';
import { duration, FormatError, oneOf, string } from '../../component/formats';
import { RawTls, TLS_BY_SCHEME_DOC, TlsDecider, tlsSchema, validateTls } from '../common/tls';
import { deliverySchema, RawDeliveryConfig, validateDelivery } from '../queue/config';

export const DEFAULT_OTLP_GRPC_ENDPOINT = '127.0.0.1:4317';
export const DEFAULT_OTLP_HTTP_ENDPOINT = 'http://127.0.0.1:4318';
export const DEFAULT_OTLP_TIMEOUT = '10s';

export interface OtlpConfig extends RawDeliveryConfig {
  endpoint: string;
  logs_path: string;
  headers: Record<string, string>;
  bearer_token_env: string;
  bearer_token_file: string;
  compression: 'none' | 'gzip';
  timeout: string | number;
  service_name: string;
  tls: RawTls;
}

function stringMap(v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new FormatError('expected a map of header names to string values');
  }
}

export function otlpSchema(protocol: 'grpc' | 'http') {
  return {
    endpoint: {
      doc:
        protocol === 'grpc'
          ? '`host:port` of the OTLP/gRPC receiver (or `http://` / `https://` URL; https turns TLS on).'
          : 'Base URL of the OTLP/HTTP receiver; `logs_path` is appended (Grafana Loki: `http://loki:3100/otlp`).',
      format: string({ nonEmpty: true }),
      default: protocol === 'grpc' ? DEFAULT_OTLP_GRPC_ENDPOINT : DEFAULT_OTLP_HTTP_ENDPOINT,
    },
    ...(protocol === 'http'
      ? { logs_path: { doc: 'Path of the logs signal under the endpoint.', format: string({ pattern: /^\/.*/, what: 'a path starting with /' }), default: '/v1/logs' } }
      : {}),
    headers: {
      doc: protocol === 'grpc' ? 'Extra request headers, sent as gRPC metadata.' : 'Extra request headers, e.g. `X-Scope-OrgID` for a multi-tenant Loki.',
      format: stringMap,
      default: {} as Record<string, string>,
    },
    bearer_token_env: { doc: 'Environment variable holding a token sent as `Authorization: Bearer <token>`.', format: string(), default: '' },
    bearer_token_file: { doc: 'File holding a token sent as `Authorization: Bearer <token>`.', format: string(), default: '' },
    compression: { doc: 'Request compression: `none` or `gzip`.', format: oneOf(['none', 'gzip'] as const), default: 'gzip' },
    timeout: { doc: 'Timeout of one export request.', format: duration({ min: 100, max: 600_000 }), default: DEFAULT_OTLP_TIMEOUT },
    service_name: { doc: '`service.name` of the resource.', format: string({ nonEmpty: true }), default: 'kite' },
    tls: tlsSchema(protocol === 'grpc' ? undefined : TLS_BY_SCHEME_DOC),
    ...deliverySchema(),
  };
}

/** gRPC: the SDK takes TLS credentials whatever the endpoint's scheme; HTTP: the scheme picks the transport. */
export const otlpTlsDecider = (protocol: 'grpc' | 'http', endpoint: string): TlsDecider => ({ by: protocol === 'grpc' ? 'either' : 'scheme', endpoint });

export const validateOtlp = (protocol: 'grpc' | 'http') => (c: OtlpConfig): ValidationProblem[] => {
  const problems = [...validateDelivery(c), ...validateTls('tls', c.tls, otlpTlsDecider(protocol, c.endpoint))];
  if (c.bearer_token_env && c.bearer_token_file) problems.push({ key: 'bearer_token_file', expected: 'at most one of bearer_token_env and bearer_token_file', actual: c.bearer_token_file });
  return problems;
};
