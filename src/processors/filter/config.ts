/** Settings of the filter processor. */
import { ValidationProblem } from '../../component/component';
import { boolean, string } from '../../component/formats';
import { compileExpression, ExpressionError } from './cel';

export interface FilterRawConfig {
  include: string;
  exclude: string;
  pushdown: boolean;
}

export const filterSchema = {
  include: {
    doc: 'A CEL condition over record attributes: only records for which it is true pass (filtered.not_included); a record on which it is an error, such as a missing attribute, is dropped too (filtered.include_error). Empty: every record.',
    format: string(),
    default: '',
  },
  exclude: {
    doc: 'A CEL condition over record attributes: records for which it is true are dropped (filtered.excluded); an error keeps the record (exclude_errors). Empty: none.',
    format: string(),
    default: '',
  },
  pushdown: {
    doc: "Offer the conditions' simple predicates (pid, comm, real uid, cgroup id, container id, file.path prefix, network.peer.port) to the receivers' in-kernel filters when this filter heads its pipeline (after enrich at most), so that what it would remove is dropped before it reaches user space. The results are the same either way; false keeps every record crossing into user space (to compare, or to count there).",
    format: boolean(),
    default: true,
  },
};

export function validateFilter(c: FilterRawConfig): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!c.include.trim() && !c.exclude.trim()) {
    problems.push({ key: '', expected: 'at least one of include or exclude', actual: { include: c.include, exclude: c.exclude } });
  }
  for (const key of ['include', 'exclude'] as const) {
    if (!c[key].trim()) continue;
    try {
      compileExpression(c[key]);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      problems.push({ key, expected: `a CEL condition (${e.message})`, actual: c[key] });
    }
  }
  return problems;
}
