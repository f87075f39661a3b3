import { z } from 'zod';
import { durationHint, parseDuration } from './duration';

/** One problem in a document: the field's dotted path and what was expected there. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** A document that failed validation; carries every problem at once. */
export class ValidationError extends Error {
  constructor(
    readonly document: string,
    readonly issues: FieldIssue[],
  ) {
    super(
      `${document} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
    );
    this.name = 'ValidationError';
  }
}

/** Keys that read unambiguously after a dot; others (`a.b`, `x y`, ``) are quoted in brackets. */
const PLAIN_KEY = /^[A-Za-z0-9_*@-]+$/;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (!PLAIN_KEY.test(String(part))) out += `[${JSON.stringify(String(part))}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(document)';
}

/**
 * Turns zod's issues into field issues; unknown keys become one issue per key. With the
 * validated input, a missing literal or enum field is reported as missing, not as wrong.
 */
export function toFieldIssues(error: z.ZodError, input?: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined$/.test(message)) {
      message = `required field is missing (expected ${issue.expected})`;
    } else if (issue.code === 'invalid_value' && isMissing(input, issue.path)) {
      message = `required field is missing (${cleanMessage(message)})`;
    } else if (issue.code === 'invalid_key' && issue.issues[0]) {
      message = `invalid key: ${cleanMessage(issue.issues[0].message)}`;
    } else {
      message = cleanMessage(message);
    }
    issues.push({ path: formatPath(issue.path), message });
  }
  return issues;
}

function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  if (input === undefined || path.length === 0) return false;
  let node: unknown = input;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined;
}

function cleanMessage(message: string): string {
  return message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
}

export const durationString = z.string().refine((text) => parseDuration(text) !== undefined, {
  error: (issue) => `expected ${durationHint}, got ${JSON.stringify(issue.input)}`,
});

/** A duration that must be longer than zero: a timeout, a watch, a period between reminders. */
export const positiveDurationString = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected ${durationHint}, got ${JSON.stringify(text)}`,
    });
  } else if (ms === 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration longer than 0s, got '${text}'` });
  }
});

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Date.parse alone accepts days a month does not have (`2026-02-30`), so the fields are checked. */
function isTimestamp(text: string): boolean {
  const m = ISO_TIMESTAMP.exec(text);
  if (!m || Number.isNaN(Date.parse(text))) return false;
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = m
    .slice(1)
    .map((field) => Number(field ?? 0));
  return (
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysInMonth(year!, month!) &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 59 &&
    offsetHour! <= 23 &&
    offsetMinute! <= 59
  );
}

/** An RFC 3339 timestamp with an explicit offset (`2026-12-01T02:00:00Z`). */
export const timestampString = z.string().refine(isTimestamp, {
  error: (issue) =>
    `expected an RFC 3339 timestamp with a zone, such as '2026-12-01T02:00:00Z', got ${JSON.stringify(issue.input)}`,
});

/** A Kubernetes object name (RFC 1123 label). */
export const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: (issue) =>
      `expected a lowercase DNS label (a-z, 0-9, '-'), got ${JSON.stringify(issue.input)}`,
  })
  .max(63, { error: 'expected at most 63 characters' });

export const nonEmpty = z.string().trim().min(1, { error: 'expected a non-empty text' });

/** A person's handle as the policy's directory lists them. */
export const personHandle = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, {
  error: (issue) => `expected a user handle such as 'alice', got ${JSON.stringify(issue.input)}`,
});

export function uniqueList<T extends z.ZodType<string>>(item: T, what: string) {
  return z.array(item).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((value, index) => {
      if (seen.has(value)) {
        ctx.addIssue({ code: 'custom', path: [index], message: `duplicate ${what} '${value}'` });
      }
      seen.add(value);
    });
  });
}

/** Validates an already-parsed value; used for workflow inputs too. */
export function validateWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  documentName: string,
): z.output<S> {
  const reserved = prototypeKeyIssues(value);
  // With a reserved key present, the rest is checked on a copy without it: zod must never see one.
  const result = schema.safeParse(reserved.length > 0 ? withoutReservedKeys(value) : value);
  if (!result.success || reserved.length > 0) {
    const taken = new Set(reserved.map((i) => i.path));
    const issues = result.success ? [] : toFieldIssues(result.error, value);
    throw new ValidationError(documentName, [
      ...reserved,
      ...issues.filter((i) => !taken.has(i.path)),
    ]);
  }
  return result.data;
}

/** Keys that name an object's plumbing, never a field, a person or a team. */
const reservedKeys = new Set(['__proto__', 'constructor', 'prototype']);

function withoutReservedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutReservedKeys);
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (!reservedKeys.has(key)) copy[key] = withoutReservedKeys(child);
  }
  return copy;
}

/**
 * A key named `__proto__` (which YAML and JSON.parse keep as an ordinary key) would become the
 * prototype of the object zod copies a loose object into, and records drop it without a word;
 * an own `constructor` key makes zod's plain-object check throw a TypeError instead of giving a
 * validation error. Either way the document would not mean what it says.
 */
function prototypeKeyIssues(
  value: unknown,
  path: (string | number)[] = [],
  issues: FieldIssue[] = [],
): FieldIssue[] {
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => prototypeKeyIssues(item, [...path, i], issues));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (reservedKeys.has(key)) {
        issues.push({
          path: formatPath([...path, key]),
          message: `'${key}' is not a field name`,
        });
      } else {
        prototypeKeyIssues(child, [...path, key], issues);
      }
    }
  }
  return issues;
}
