/** The one list of built-in factories. */
import { AnyFactory, ComponentKind } from './component/component';
import { FactoryLookup } from './pipeline/config';
import { execFactory } from './receivers/exec/factory';
import { dnsFactory } from './receivers/dns/factory';
import { xdpPolicyFactory } from './receivers/xdp_policy/factory';
import { securityFactory } from './receivers/security/factory';
import { fileReceiverFactory } from './receivers/file/factory';
import { connectFactory } from './receivers/connect/factory';
import { consoleFactory } from './exporters/console/factory';
import { fileFactory } from './exporters/file/factory';
import { enrichFactory } from './processors/enrich/factory';
import { filterFactory } from './processors/filter/factory';
import { dedupeFactory } from './processors/dedupe/factory';
import { batchFactory } from './processors/batch/factory';
import { rateLimitFactory } from './processors/rate_limit/factory';
import { rulesFactory } from './processors/rules/factory';
import { elasticsearchFactory } from './exporters/elasticsearch/factory';
import { kafkaFactory } from './exporters/kafka/factory';
import { otlpFactory } from './exporters/otlp/factory';
import { otlpHttpFactory } from './exporters/otlp_http/factory';
import { splunkHecFactory } from './exporters/splunk_hec/factory';

export const FACTORIES: AnyFactory[] = [
  execFactory,
  dnsFactory,
  xdpPolicyFactory,
  securityFactory,
  fileReceiverFactory,
  connectFactory,
  enrichFactory,
  filterFactory,
  dedupeFactory,
  batchFactory,
  rateLimitFactory,
  rulesFactory,
  consoleFactory,
  fileFactory,
  otlpFactory,
  otlpHttpFactory,
  kafkaFactory,
  elasticsearchFactory,
  splunkHecFactory,
];

export function createRegistry(factories: AnyFactory[] = FACTORIES): FactoryLookup {
  const byKey = new Map(factories.map((f) => [`${f.kind}:${f.type}`, f]));
  return {
    get: (kind: ComponentKind, type: string) => byKey.get(`${kind}:${type}`),
    types: (kind: ComponentKind) => factories.filter((f) => f.kind === kind).map((f) => f.type).sort(),
  };
}
