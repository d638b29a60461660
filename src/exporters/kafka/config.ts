/** Settings of the kafka exporter. */
import { ValidationProblem } from '../../component/component';
import { boolean, duration, oneOf, string, stringListOf } from '../../component/formats';
import { RawTls, tlsSchema, validateTls } from '../common/tls';
import { deliverySchema, RawDeliveryConfig, validateDelivery } from '../queue/config';

export const SCHEMAS = ['ecs', 'ocsf', 'otel'] as const;
export const KEYS = ['none', 'host', 'container', 'exec_id'] as const;
export const COMPRESSIONS = ['none', 'gzip'] as const;
export const ACKS = ['all', 'leader', 'none'] as const;
export const SASL = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;

export const DEFAULT_KAFKA_BROKERS = ['127.0.0.1:9092'];
export const DEFAULT_KAFKA_TOPIC = 'kite-events';
export const DEFAULT_KAFKA_SCHEMA = 'ecs';
export const DEFAULT_KAFKA_KEY = 'host';
export const DEFAULT_KAFKA_TIMEOUT = '10s';

export interface KafkaConfig extends RawDeliveryConfig {
  brokers: string[];
  client_id: string;
  topic: string;
  key: (typeof KEYS)[number];
  schema: (typeof SCHEMAS)[number];
  compression: (typeof COMPRESSIONS)[number];
  acks: (typeof ACKS)[number];
  idempotent: boolean;
  timeout: string | number;
  service_name: string;
  tls: RawTls;
  sasl: { mechanism: (typeof SASL)[number]; username: string; password_env: string; password_file: string };
}

export const kafkaSchema = {
  brokers: {
    doc: 'Bootstrap brokers, `host:port`.',
    format: stringListOf({ nonEmpty: true, what: 'a list of host:port strings' }),
    default: DEFAULT_KAFKA_BROKERS,
  },
  client_id: { doc: 'Kafka client id.', format: string({ nonEmpty: true }), default: 'kite' },
  topic: {
    doc: 'Topic to write to. `{event.name}` and `{event.kind}` (process, file, network, dns, finding, agent) are replaced per record, e.g. `kite.{event.kind}`.',
    format: string({ nonEmpty: true, pattern: /^([A-Za-z0-9._-]|\{event\.(name|kind)\})+$/, what: 'a topic name of letters, digits, . _ - and the placeholders {event.name}, {event.kind}' }),
    default: DEFAULT_KAFKA_TOPIC,
  },
  key: {
    doc: 'Record key, which picks the partition: `host` (host.name), `container` (container.id, else host), `exec_id` (kite.process.exec_id, so one process stays in order), or `none`.',
    format: oneOf(KEYS),
    default: DEFAULT_KAFKA_KEY,
  },
  schema: {
    doc: 'Value format, JSON: `ecs` (Elastic Common Schema), `ocsf` (OCSF 1.1 classes) or `otel` (OTLP JSON logs request). Sent in the `kite.schema` and `kite.schema.version` headers.',
    format: oneOf(SCHEMAS),
    default: DEFAULT_KAFKA_SCHEMA,
  },
  compression: { doc: 'Batch compression: `none` or `gzip`.', format: oneOf(COMPRESSIONS), default: 'none' },
  acks: { doc: 'Acknowledgements: `all` in-sync replicas, the `leader` only, or `none`.', format: oneOf(ACKS), default: 'all' },
  idempotent: { doc: 'Idempotent producer: the broker drops duplicates of a retried request (needs acks all).', format: boolean(), default: true },
  timeout: { doc: 'Request timeout.', format: duration({ min: 100, max: 600_000 }), default: DEFAULT_KAFKA_TIMEOUT },
  service_name: { doc: '`service.name` of the resource (used by `schema: otel`).', format: string({ nonEmpty: true }), default: 'kite' },
  tls: tlsSchema('Connect to the brokers with TLS (the files below are used only then).'),
  sasl: {
    mechanism: { doc: 'SASL mechanism: `none`, `plain`, `scram-sha-256` or `scram-sha-512`.', format: oneOf(SASL), default: 'none' },
    username: { doc: 'SASL user name.', format: string(), default: '' },
    password_env: { doc: 'Environment variable holding the SASL password.', format: string(), default: '' },
    password_file: { doc: 'File holding the SASL password.', format: string(), default: '' },
  },
  ...deliverySchema(),
};

export function validateKafka(c: KafkaConfig): ValidationProblem[] {
  const problems = [...validateDelivery(c), ...validateTls('tls', c.tls, { by: 'setting' })];
  if (c.idempotent && c.acks !== 'all') problems.push({ key: 'idempotent', expected: 'false unless acks is all', actual: c.idempotent });
  if (c.sasl.mechanism !== 'none') {
    if (!c.sasl.username) problems.push({ key: 'sasl.username', expected: 'a user name with a SASL mechanism', actual: c.sasl.username });
    if (!c.sasl.password_env === !c.sasl.password_file) {
      problems.push({ key: 'sasl.password_env', expected: 'exactly one of sasl.password_env and sasl.password_file', actual: c.sasl.password_env });
    }
  }
  return problems;
}
