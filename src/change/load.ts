import { readFile } from 'node:fs/promises';
import { parseDocument as parseYaml, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { changeRequestSchema, type ChangeRequest } from './request';
import { formatPath, toFieldIssues, ValidationError, type FieldIssue } from './validation';

/**
 * Parses YAML (or JSON, which is YAML) text and validates it with a schema. Syntax errors and
 * schema errors both come back as a ValidationError listing every problem.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  text: string,
  documentName: string,
): z.output<S> {
  const doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(
      documentName,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(document)',
        message: yamlMessage(e),
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // Aliases are resolved only here: one used before its anchor, or so many that they would
    // expand without bound, is a fault of the document.
    if (!(err instanceof ReferenceError)) throw err;
    throw new ValidationError(documentName, [{ path: '(document)', message: err.message }]);
  }
  return validateWith(schema, value, documentName);
}

function yamlMessage(error: YAMLError): string {
  if (error.code === 'MULTIPLE_DOCS') return 'expected one document, found several';
  if (error.code === 'DUPLICATE_KEY') return 'duplicate key';
  const first = error.message.split('\n')[0] ?? error.message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
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

export async function readDocument<S extends z.ZodType>(
  schema: S,
  path: string,
  documentName: string,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(documentName, [
      {
        path: path,
        message: code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(err)})`,
      },
    ]);
  }
  return parseWith(schema, text, documentName);
}

export function parseChangeRequest(text: string, name = 'change request'): ChangeRequest {
  return parseWith(changeRequestSchema, text, name);
}

export function loadChangeRequestFile(path: string): Promise<ChangeRequest> {
  return readDocument(changeRequestSchema, path, `change request ${path}`);
}
