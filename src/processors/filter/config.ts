/** Settings of the filter processor. */
import { ValidationProblem } from '../../component/component';
import { string } from '../../component/formats';
import { compileExpression, ExpressionError } from './cel';

export interface FilterRawConfig {
  include: string;
  exclude: string;
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
};

export function validateFilter(c: FilterRawConfig): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!c.include.trim() && !c.exclude.trim()) {
    problems.push({ key: '', expected: 'at least one of include or exclude', actual: c });
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
