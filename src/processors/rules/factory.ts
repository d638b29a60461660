import { Factory } from '../../component/component';
import { KiteError } from '../../component/errors';
import { loadRules, RulesRawConfig, rulesSchema, validateRules } from './config';
import { RulesProcessor } from './processor';

export const rulesFactory: Factory<'processor', RulesRawConfig> = {
  kind: 'processor',
  type: 'rules',
  stability: 'alpha',
  description: 'Detection rules (Falco-style, CEL conditions, sequences per process): adds a kite.alert record per match.',
  schema: rulesSchema,
  validate: validateRules,
  create: (id, config, host) => {
    const { rules, problems } = loadRules(config);
    // validate() ran on the same settings; a rule file that changed since is reported here
    if (problems.length) throw new KiteError('config_invalid', `processor/${id.key}: ${problems.map((p) => `${p.key}: ${p.expected}`).join('; ')}`);
    return new RulesProcessor(id, host, { rules, minPriority: config.min_priority, maxSequences: config.max_sequences, enforcementInterfaces: config.enforcement_interfaces ?? [] });
  },
};
