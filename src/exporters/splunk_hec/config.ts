/** Settings of the splunk_hec exporter. */
import { ValidationProblem } from '../../component/component';
import { duration, oneOf, string } from '../../component/formats';
import { RawTls, TLS_BY_SCHEME_DOC, tlsSchema, validateTls } from '../common/tls';
import { deliverySchema, RawDeliveryConfig, validateDelivery } from '../queue/config';

export interface SplunkHecConfig extends RawDeliveryConfig {
  endpoint: string;
  token_env: string;
  token_file: string;
  index: string;
  source: string;
  sourcetype: string;
  schema: 'ecs' | 'ocsf' | 'flat';
  compression: 'none' | 'gzip';
  timeout: string | number;
  service_name: string;
  tls: RawTls;
}

export const splunkHecSchema = {
  endpoint: {
    doc: 'URL of the HEC event endpoint.',
    format: string({ nonEmpty: true, pattern: /^https?:\/\/[^/]+\/.+$/, what: 'an http:// or https:// URL with a path' }),
    default: 'https://127.0.0.1:8088/services/collector/event',
  },
  token_env: { doc: 'Environment variable holding the HEC token (sent as `Authorization: Splunk <token>`).', format: string(), default: '' },
  token_file: { doc: 'File holding the HEC token.', format: string(), default: '' },
  index: { doc: 'Splunk index; empty: the token\'s default index.', format: string(), default: '' },
  source: { doc: 'The `source` of every event.', format: string({ nonEmpty: true }), default: 'kite' },
  sourcetype: { doc: 'The `sourcetype` of every event; empty: `kite:<schema>`.', format: string(), default: '' },
  schema: { doc: 'Event body: `ecs` or `ocsf` documents, or `flat` (the record\'s own dotted keys).', format: oneOf(['ecs', 'ocsf', 'flat'] as const), default: 'ecs' },
  compression: { doc: 'Request compression: `none` or `gzip`.', format: oneOf(['none', 'gzip'] as const), default: 'gzip' },
  timeout: { doc: 'Timeout of one request.', format: duration({ min: 100, max: 600_000 }), default: '30s' },
  service_name: { doc: '`service.name` of the resource, for `agent.*` and `host.*` fields.', format: string({ nonEmpty: true }), default: 'kite' },
  tls: tlsSchema(TLS_BY_SCHEME_DOC),
  ...deliverySchema(),
};

export function validateSplunkHec(c: SplunkHecConfig): ValidationProblem[] {
  const problems = [...validateDelivery(c), ...validateTls('tls', c.tls, { by: 'scheme', endpoint: c.endpoint })];
  if (!c.token_env === !c.token_file) problems.push({ key: 'token_env', expected: 'exactly one of token_env and token_file', actual: c.token_env || c.token_file });
  return problems;
}
