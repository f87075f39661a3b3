import { readFile } from 'node:fs/promises';
import { parseDocument as parseYaml, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { changeRequestSchema, type ChangeRequest } from '../core/change/request';
import { validateWith, ValidationError } from '../core/change/validation';

// Validation of parsed values is pure and lives with the schemas' helpers, so workflows use it too.
export { validateWith };

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
