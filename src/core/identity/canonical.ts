/**
 * Canonical JSON in the manner of RFC 8785 (JCS) for the values changectl signs: object keys
 * sorted by UTF-16 code units, no whitespace, strings escaped as JSON.stringify does, numbers in
 * ECMAScript's shortest form. Two parties that hold the same value get the same bytes.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function canonicalString(text: string, path: string): string {
  if (LONE_SURROGATE.test(text)) {
    throw new CanonicalJsonError(`${path}: expected well-formed Unicode text`);
  }
  return JSON.stringify(text);
}

function write(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalJsonError(`${path}: expected a finite number, got ${value}`);
      }
      return JSON.stringify(value);
    case 'string':
      return canonicalString(value, path);
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${path}: expected a JSON value, got a ${typeof value}`);
  }
  if (seen.has(value)) throw new CanonicalJsonError(`${path}: expected no cycles`);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item: unknown, i) => write(item, `${path}[${i}]`, seen)).join(',')}]`;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError(`${path}: expected a plain object`);
    }
    // As in JSON.stringify, a property whose value is undefined is not part of the document.
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries
      .map(([k, v]) => `${canonicalString(k, path)}:${write(v, `${path}.${k}`, seen)}`)
      .join(',')}}`;
  } finally {
    seen.delete(value);
  }
}

/** The canonical text of a JSON value; throws CanonicalJsonError naming the path of a non-JSON part. */
export function canonicalJson(value: unknown): string {
  return write(value, '(value)', new Set());
}
