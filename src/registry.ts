/** The one list of built-in factories. */
import { AnyFactory, ComponentKind } from './component/component';
import { FactoryLookup } from './pipeline/config';
import { execFactory } from './receivers/exec/factory';
import { consoleFactory } from './exporters/console/factory';
import { fileFactory } from './exporters/file/factory';
import { elasticsearchFactory } from './exporters/elasticsearch/factory';
import { kafkaFactory } from './exporters/kafka/factory';
import { otlpFactory } from './exporters/otlp/factory';
import { otlpHttpFactory } from './exporters/otlp_http/factory';
import { splunkHecFactory } from './exporters/splunk_hec/factory';

export const FACTORIES: AnyFactory[] = [execFactory, consoleFactory, fileFactory, otlpFactory, otlpHttpFactory, kafkaFactory, elasticsearchFactory, splunkHecFactory];

export function createRegistry(factories: AnyFactory[] = FACTORIES): FactoryLookup {
  const byKey = new Map(factories.map((f) => [`${f.kind}:${f.type}`, f]));
  return {
    get: (kind: ComponentKind, type: string) => byKey.get(`${kind}:${type}`),
    types: (kind: ComponentKind) => factories.filter((f) => f.kind === kind).map((f) => f.type).sort(),
  };
}
