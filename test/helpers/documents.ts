/** Editing a valid document at field paths, for tests that refuse one field at a time. */

/** As a value in `withChanges`: delete the field instead of setting it. */
export const DELETE = Symbol('delete');

/**
 * `spec.verification.metrics[1].failWhen` → ['spec', 'verification', 'metrics', 1, 'failWhen'];
 * keys in brackets are quoted (`["a.b"]`) or indexes (`[1]`), as formatPath writes them.
 */
function pathParts(path: string): (string | number)[] {
  return [...path.matchAll(/\[("(?:[^"\\]|\\.)*"|\d+)\]|[^.[\]]+/g)].map((m) =>
    m[1] === undefined ? m[0] : (JSON.parse(m[1]) as string | number),
  );
}

/** Sets (or, with DELETE, deletes) the field at `path`, making the objects on the way. */
export function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = pathParts(path);
  let node = doc as Record<string | number, unknown>;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string | number, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === DELETE) delete node[last];
  else node[last] = value;
}

/** `doc` with each path set to a copy of its value (or deleted with DELETE). */
export function withChanges(
  doc: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  for (const [path, value] of Object.entries(changes)) {
    setPath(doc, path, value === DELETE ? value : structuredClone(value));
  }
  return doc;
}
