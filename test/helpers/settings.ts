/** A component's settings as the config loader resolves them (defaults applied, validated). */
import { AnyFactory } from '../../src/component/component';
import { ConfigError, ConfigProblem } from '../../src/component/errors';
import { validateComponent } from '../../src/pipeline/config';

export function settings<T = Record<string, unknown>>(factory: AnyFactory, raw: Record<string, unknown> = {}): T {
  const problems: ConfigProblem[] = [];
  const out = validateComponent(`${factory.kind}s.${factory.type}`, factory, raw, problems);
  if (!out) throw new ConfigError(problems);
  return out as T;
}
