/** Settings of the rules processor, and loading its rule sources. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import convict from 'convict';
import { parseDocument } from 'yaml';
import { PACKAGE_ROOT } from '../../bpf/paths';
import { ValidationProblem } from '../../component/component';
import { boolean, integer, oneOf, stringListOf } from '../../component/formats';
import { enforcementProblem } from './enforcement';
import { ParsedRule, parseRuleset, PRIORITIES, Priority, RuleSource } from './ruleset';

/** The default ruleset, shipped with the agent (and in its image, under /opt/kite/config/rules). */
export const DEFAULT_RULES_FILE = join(PACKAGE_ROOT, 'config', 'rules', 'default.yaml');
export const DEFAULT_MIN_PRIORITY: Priority = 'debug';
export const DEFAULT_MAX_SEQUENCES = 16384;

export interface RulesRawConfig {
  default_rules: boolean;
  files: string[];
  rules: unknown[];
  min_priority: Priority;
  max_sequences: number;
  enforcement_interfaces?: string[];
}

const RULE_ITEMS = 'kite-rule-items';
const FILE_LIST = 'kite-rule-files';
convict.addFormat({
  name: RULE_ITEMS,
  validate: (v: unknown) => {
    if (!Array.isArray(v)) throw new Error('expected a list of rule, macro and list items');
  },
  coerce: (v: unknown) => v,
});
convict.addFormat({
  name: FILE_LIST,
  validate: (v: unknown) => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !x)) throw new Error('expected a list of rule file paths');
  },
  coerce: (v: unknown) => v,
});

export const rulesSchema = {
  default_rules: {
    doc: `Load the default ruleset (${'config/rules/default.yaml'} of the agent's package) before the files and inline rules. Its rules can be switched off one by one with an item \`{ rule: <name>, enabled: false }\`.`,
    format: boolean(),
    default: true,
  },
  files: {
    doc: 'Rule files (YAML lists of rule, macro and list items), loaded in order after the default ruleset; a relative path is relative to the working directory.',
    format: FILE_LIST,
    default: [] as string[],
  },
  rules: {
    doc: 'Rule, macro and list items written inline, loaded last (a rule of the same name as an earlier one replaces it).',
    format: RULE_ITEMS,
    default: [] as unknown[],
  },
  min_priority: {
    doc: `Rules less severe than this are not evaluated (${PRIORITIES.join(', ')}).`,
    format: oneOf(PRIORITIES),
    default: DEFAULT_MIN_PRIORITY,
  },
  max_sequences: {
    doc: 'Most sequences in progress held at once (one per sequence rule and process); one more forgets the oldest (counted as sequences_evicted).',
    format: integer({ min: 1, max: 16_777_216 }),
    default: DEFAULT_MAX_SEQUENCES,
  },
  enforcement_interfaces: {
    doc: 'Network interfaces on which rules with action deny on network events are enforced: an xdp_policy program in enforce mode drops what they deny on packets these interfaces receive (src/enforce/README.md). Needed only by such rules; an interface cannot also carry an xdp_policy receiver.',
    format: stringListOf({ nonEmpty: true, what: 'a list of interface names' }),
    default: [] as string[],
  },
};

/** Reads one rule file; YAML errors become problems at `key`. */
function readRuleFile(file: string, key: string, problems: ValidationProblem[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ key, expected: 'a readable rule file', actual: `${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    return null;
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    problems.push({ key, expected: 'valid YAML', actual: `${file}: ${doc.errors[0]!.message.split('\n')[0]}` });
    return null;
  }
  return doc.toJS({ maxAliasCount: 100 }) ?? [];
}

/** The rule sources of a config, in load order: the default ruleset, the files, the inline items. */
export function ruleSources(c: RulesRawConfig, problems: ValidationProblem[]): RuleSource[] {
  const sources: RuleSource[] = [];
  if (c.default_rules) {
    const key = `default_rules(${DEFAULT_RULES_FILE})`;
    sources.push({ label: 'default', path: key, items: readRuleFile(DEFAULT_RULES_FILE, 'default_rules', problems) });
  }
  c.files.forEach((f, i) => {
    const file = resolve(process.cwd(), f);
    sources.push({ label: file, path: `files[${i}](${f})`, items: readRuleFile(file, `files[${i}]`, problems) });
  });
  sources.push({ label: 'inline', path: 'rules', items: c.rules });
  return sources;
}

/** Loads, expands and checks every rule; returns the enabled ones and every problem. */
export function loadRules(c: RulesRawConfig): { rules: ParsedRule[]; problems: ValidationProblem[] } {
  const problems: ValidationProblem[] = [];
  const sources = ruleSources(c, problems);
  const set = parseRuleset(sources);
  problems.push(...set.problems);
  const rules = set.rules.filter((r) => r.enabled);
  for (const r of rules) {
    const p = enforcementProblem(r, c.enforcement_interfaces ?? []);
    if (p) problems.push({ key: `${r.path}.action`, expected: `rule ${JSON.stringify(r.name)}: ${p}`, actual: r.action });
  }
  return { rules, problems };
}

export function validateRules(c: RulesRawConfig): ValidationProblem[] {
  return loadRules(c).problems;
}
