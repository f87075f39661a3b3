import { z } from 'zod';
import { CHANGE_ID_PATTERN } from '../core/change/request';
import { durationHint, parseDuration } from '../core/change/duration';
import { toFieldIssues, type FieldIssue } from '../core/change/validation';
import { CliError, ExitCode } from './errors';

/** Positional arguments, named as usage shows them rather than as flags. */
const POSITIONAL = new Set(['id', 'file', 'action', 'decision']);

function flagName(key: string): string {
  if (POSITIONAL.has(key)) return `<${key}>`;
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function toFlagIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((zodIssue) => {
    const key = zodIssue.path[0];
    return toFieldIssues(new z.ZodError([zodIssue])).map((issue) =>
      typeof key === 'string' ? { ...issue, path: flagName(key) } : issue,
    );
  });
}

/**
 * Parses a command's arguments and options with its schema; every problem comes back at once as
 * an invalid-input error naming the flag (`--by: expected a duration ...`).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = 'arguments',
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new CliError(ExitCode.InvalidInput, `invalid ${what}:`, toFlagIssues(result.error));
  }
  return result.data;
}

/** A change id as `CHG-1234`; the workflow id `change-CHG-1234` is accepted too. */
export const changeIdArgument = z
  .string()
  .transform((text) => text.trim().replace(/^change-/, ''))
  .pipe(
    z.string().regex(CHANGE_ID_PATTERN, {
      error: (issue) => `expected a change id like 'CHG-1234', got ${JSON.stringify(issue.input)}`,
    }),
  );

/** A duration flag, kept as milliseconds. */
export const durationOption = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected ${durationHint}, got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return ms;
});

export const requiredText = z.string().trim().min(1, { error: 'expected a non-empty text' });

export const countOption = z.coerce
  .number({ error: 'expected a whole number' })
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a whole number ≥ 1' });
