/** Settings of the elasticsearch exporter. */
import { ValidationProblem } from '../../component/component';
import { duration, oneOf, string } from '../../component/formats';
import { RawTls, TLS_BY_SCHEME_DOC, tlsSchema, validateTls } from '../common/tls';
import { deliverySchema, RawDeliveryConfig, validateDelivery } from '../queue/config';

export const DEFAULT_ES_ENDPOINT = 'http://127.0.0.1:9200';
export const DEFAULT_ES_INDEX = 'logs-kite-default';

export interface ElasticsearchConfig extends RawDeliveryConfig {
  endpoint: string;
  index: string;
  mode: 'data_stream' | 'index';
  timeout: string | number;
  service_name: string;
  auth: { username: string; password_env: string; password_file: string; api_key_env: string; api_key_file: string };
  tls: RawTls;
}

export const elasticsearchSchema = {
  endpoint: { doc: 'Base URL of the cluster (Elasticsearch or OpenSearch); `https://` turns TLS on.', format: string({ nonEmpty: true, pattern: /^https?:\/\/[^/]+\/?.*$/, what: 'an http:// or https:// URL' }), default: DEFAULT_ES_ENDPOINT },
  index: {
    doc: 'Index or data stream to write to; `{event.kind}` is replaced per record (process, file, network, dns, finding, agent).',
    format: string({ nonEmpty: true, pattern: /^([a-z0-9._-]|\{event\.kind\})+$/, what: 'a lowercase index name (letters, digits, . _ -) with an optional {event.kind}' }),
    default: DEFAULT_ES_INDEX,
  },
  mode: { doc: '`data_stream` (the name matches an index template with a data stream) or `index`; both write with `create` and the record id as `_id`, so a retried document is never stored twice.', format: oneOf(['data_stream', 'index'] as const), default: 'data_stream' },
  timeout: { doc: 'Timeout of one `_bulk` request.', format: duration({ min: 100, max: 600_000 }), default: '30s' },
  service_name: { doc: '`service.name` of the resource, for `agent.*` and `host.*` fields.', format: string({ nonEmpty: true }), default: 'kite' },
  auth: {
    username: { doc: 'Basic-auth user name.', format: string(), default: '' },
    password_env: { doc: 'Environment variable holding the basic-auth password.', format: string(), default: '' },
    password_file: { doc: 'File holding the basic-auth password.', format: string(), default: '' },
    api_key_env: { doc: 'Environment variable holding an API key (sent as `Authorization: ApiKey <key>`).', format: string(), default: '' },
    api_key_file: { doc: 'File holding an API key (sent as `Authorization: ApiKey <key>`).', format: string(), default: '' },
  },
  tls: tlsSchema(TLS_BY_SCHEME_DOC),
  ...deliverySchema(),
};

export function validateElasticsearch(c: ElasticsearchConfig): ValidationProblem[] {
  const problems = [...validateDelivery(c), ...validateTls('tls', c.tls, { by: 'scheme', endpoint: c.endpoint })];
  const a = c.auth;
  if (a.password_env && a.password_file) problems.push({ key: 'auth.password_file', expected: 'at most one of auth.password_env and auth.password_file', actual: a.password_file });
  if (a.api_key_env && a.api_key_file) problems.push({ key: 'auth.api_key_file', expected: 'at most one of auth.api_key_env and auth.api_key_file', actual: a.api_key_file });
  if ((a.password_env || a.password_file) && !a.username) problems.push({ key: 'auth.username', expected: 'a user name with a password', actual: a.username });
  if (a.username && (a.api_key_env || a.api_key_file)) problems.push({ key: 'auth.api_key_env', expected: 'either basic auth or an API key, not both', actual: a.api_key_env || a.api_key_file });
  return problems;
}
