/**
 * `failWhen` expressions of verification metrics: `> 0.01`, `>= 200`, `< 0.95`,
 * or relative to the value captured before the change: `> baseline * 1.5`, `> baseline + 0.05`.
 */
export type ComparisonOperator = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type Comparison =
  | { kind: 'absolute'; op: ComparisonOperator; threshold: number; source: string }
  | {
      kind: 'baseline';
      op: ComparisonOperator;
      /** baseline * factor when `combine` is '*', baseline + offset when '+'. */
      combine: '*' | '+';
      operand: number;
      source: string;
    };

const NUMBER = '(-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?)';
const OPERATOR = '(>=|<=|==|!=|>|<)';
const ABSOLUTE = new RegExp(`^\\s*${OPERATOR}\\s*${NUMBER}\\s*$`);
const RELATIVE = new RegExp(`^\\s*${OPERATOR}\\s*baseline\\s*(?:([*+])\\s*${NUMBER})?\\s*$`);

export const comparisonHint =
  "a comparison such as '> 0.01', '<= 200' or '> baseline * 1.5' (operators > >= < <= == !=)";

/** Parses a `failWhen` text, or returns undefined when it is not a comparison. */
export function parseComparison(source: string): Comparison | undefined {
  const absolute = ABSOLUTE.exec(source);
  if (absolute) {
    const threshold = Number(absolute[2]);
    if (!Number.isFinite(threshold)) return undefined;
    return { kind: 'absolute', op: absolute[1] as ComparisonOperator, threshold, source };
  }
  const relative = RELATIVE.exec(source);
  if (relative) {
    const combine = (relative[2] ?? '*') as '*' | '+';
    const operand = relative[3] === undefined ? (combine === '*' ? 1 : 0) : Number(relative[3]);
    if (!Number.isFinite(operand)) return undefined;
    return { kind: 'baseline', op: relative[1] as ComparisonOperator, combine, operand, source };
  }
  return undefined;
}

/** The threshold a measurement is compared with; undefined when it needs a missing baseline. */
export function thresholdOf(
  comparison: Comparison,
  baseline: number | undefined,
): number | undefined {
  if (comparison.kind === 'absolute') return comparison.threshold;
  if (baseline === undefined || !Number.isFinite(baseline)) return undefined;
  return comparison.combine === '*' ? baseline * comparison.operand : baseline + comparison.operand;
}

/** True when `value op threshold` holds, i.e. the measurement counts as failed. */
export function compare(value: number, op: ComparisonOperator, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}
