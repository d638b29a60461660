/** The one list of built-in factories. */
import { AnyFactory, ComponentKind } from './component/component';
import { FactoryLookup } from './pipeline/config';
import { execFactory } from './receivers/exec/factory';
import { fileReceiverFactory } from './receivers/file/factory';
import { connectFactory } from './receivers/connect/factory';
import { consoleFactory } from './exporters/console/factory';
import { fileFactory } from './exporters/file/factory';

export const FACTORIES: AnyFactory[] = [execFactory, fileReceiverFactory, connectFactory, consoleFactory, fileFactory];

export function createRegistry(factories: AnyFactory[] = FACTORIES): FactoryLookup {
  const byKey = new Map(factories.map((f) => [`${f.kind}:${f.type}`, f]));
  return {
    get: (kind: ComponentKind, type: string) => byKey.get(`${kind}:${type}`),
    types: (kind: ComponentKind) => factories.filter((f) => f.kind === kind).map((f) => f.type).sort(),
  };
}
