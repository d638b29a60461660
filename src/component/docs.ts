/**
 * Renders a factory's reference from its schema: status, minimum kernel, capabilities and every option
 * with its default. Component READMEs embed it between markers; a unit test keeps them current.
 */
import { AnyFactory } from './component';

export const BEGIN = '<!-- generated from the schema: do not edit by hand (make docs) -->';
export const END = '<!-- end of generated section -->';

export function flattenSchema(schema: Record<string, unknown>, prefix = ''): [string, { doc?: string; default?: unknown }][] {
  const out: [string, { doc?: string; default?: unknown }][] = [];
  for (const [k, v] of Object.entries(schema)) {
    const node = v as Record<string, unknown>;
    if (node && typeof node === 'object' && ('doc' in node || 'default' in node)) out.push([prefix + k, node as { doc?: string; default?: unknown }]);
    else if (node && typeof node === 'object') out.push(...flattenSchema(node, `${prefix}${k}.`));
  }
  return out;
}

export function renderReference(f: AnyFactory): string {
  const lines = [
    BEGIN,
    `| | |`,
    `|---|---|`,
    `| type | \`${f.type}\` (${f.kind}) |`,
    `| status | ${f.stability} |`,
  ];
  if (f.minKernel) lines.push(`| minimum kernel | Linux ${f.minKernel} |`);
  if (f.capabilities) lines.push(`| capabilities | ${Object.entries(f.capabilities).map(([c, why]) => `\`${c}\`: ${why}`).join('; ')} |`);
  lines.push('');
  const opts = flattenSchema(f.schema as Record<string, unknown>);
  if (!opts.length) {
    lines.push('It takes no options: configure it as `{}`.');
  } else {
    lines.push('| option | default | meaning |', '|---|---|---|');
    for (const [key, o] of opts) lines.push(`| \`${key}\` | \`${JSON.stringify(o.default)}\` | ${o.doc ?? ''} |`);
  }
  lines.push(END);
  return lines.join('\n');
}

/** The option table of a settings section that is not a component (`service.telemetry`, ...). */
export function renderSettings(sections: Record<string, Record<string, unknown>>): string {
  const lines = [BEGIN];
  for (const [path, schema] of Object.entries(sections)) {
    lines.push('', `### \`${path}\``, '', '| option | default | meaning |', '|---|---|---|');
    for (const [key, o] of flattenSchema(schema)) lines.push(`| \`${key}\` | \`${JSON.stringify(o.default)}\` | ${o.doc ?? ''} |`);
  }
  lines.push(END);
  return lines.join('\n');
}

/** Replaces the generated section of a text (between BEGIN and END) with `ref`. */
export function replaceGenerated(text: string, ref: string): string {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) return text.slice(0, a) + ref + text.slice(b + END.length);
  return `${text.trimEnd()}\n\n${ref}\n`;
}

/** Replaces the generated section of a README (or appends one). */
export function updateReadme(text: string, f: AnyFactory): string {
  const ref = renderReference(f);
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) return text.slice(0, a) + ref + text.slice(b + END.length);
  return `${text.trimEnd()}\n\n## Reference\n\n${ref}\n`;
}
