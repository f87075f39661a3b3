import { badRequest, ApiError } from './errors';
import { clone, isPlainObject } from './objects';

type Obj = Record<string, unknown>;

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Obj = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * The field lists that Kubernetes merges by key instead of replacing, per the patchMergeKey tags
 * of its Go types. `path` holds the field names from the object's root down to the list.
 */
function mergeKeyFor(path: string[]): string | undefined {
  const field = path[path.length - 1] ?? '';
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'ports':
      return path.some((p) => p.endsWith('ontainers')) ? 'containerPort' : 'port';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    default:
      return undefined;
  }
}

/** Lists of scalars that merge as sets. */
const mergedScalarLists = new Set(['finalizers']);

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .filter((v) => !(isPlainObject(v) && v.$patch === 'delete'))
      .map((v) => stripDirectives(v));
  }
  if (!isPlainObject(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    if (v === null) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeKeyedList(
  current: unknown,
  patch: unknown[],
  key: string,
  path: string[],
): unknown[] {
  if (patch.some((item) => isPlainObject(item) && item.$patch === 'replace')) {
    return patch
      .filter((item) => !(isPlainObject(item) && item.$patch === 'replace'))
      .map((item) => stripDirectives(item));
  }
  const result: unknown[] = Array.isArray(current) ? clone(current) : [];
  for (const item of patch) {
    if (!isPlainObject(item)) {
      result.push(item);
      continue;
    }
    const index = result.findIndex((x) => isPlainObject(x) && x[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index], item, path);
    } else {
      result.push(strategicMerge(undefined, item, path));
    }
  }
  return result;
}

function orderBy(list: unknown, order: unknown, key: string | undefined): unknown {
  if (!Array.isArray(list) || !Array.isArray(order)) return list;
  const items: unknown[] = list;
  const position = (item: unknown): number => {
    const i = order.findIndex((o) =>
      key && isPlainObject(o) && isPlainObject(item) ? o[key] === item[key] : o === item,
    );
    return i < 0 ? order.length : i;
  };
  return [...items].sort((a, b) => position(a) - position(b));
}

/**
 * A strategic merge patch as the API server applies it to built-in types: maps merge, keyed lists
 * merge by their key, other lists are replaced, and the `$patch`, `$retainKeys`,
 * `$setElementOrder/` and `$deleteFromPrimitiveList/` directives are honoured.
 */
export function strategicMerge(target: unknown, patch: unknown, path: string[] = []): unknown {
  if (!isPlainObject(patch)) return stripDirectives(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  const result: Obj = isPlainObject(target) ? clone(target) : {};
  const orders: [string, unknown][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), value]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[field] = current.filter((v) => !value.includes(v));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const childPath = [...path, key];
    if (Array.isArray(value)) {
      const mergeKey = mergeKeyFor(childPath);
      if (mergeKey) {
        result[key] = mergeKeyedList(result[key], value, mergeKey, childPath);
      } else if (mergedScalarLists.has(key)) {
        const current: unknown[] = Array.isArray(result[key]) ? result[key] : [];
        const added: unknown[] = value;
        result[key] = [...new Set([...current, ...added])];
      } else {
        result[key] = stripDirectives(value);
      }
    } else if (isPlainObject(value)) {
      if (value.$patch === 'delete') delete result[key];
      else result[key] = strategicMerge(result[key], value, childPath);
    } else {
      result[key] = value;
    }
  }
  for (const [field, order] of orders) {
    result[field] = orderBy(result[field], order, mergeKeyFor([...path, field]));
  }
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }
  return result;
}

function unescapePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointerParts(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw badRequest(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  }
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapePointer);
}

function patchFailure(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

function resolveParent(
  doc: unknown,
  parts: string[],
  op: string,
): { parent: unknown; last: string } {
  let current = doc;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isPlainObject(current)) current = current[part];
    else current = undefined;
    if (current === undefined) {
      throw patchFailure(
        `${op} operation does not apply: doc is missing path: /${parts.join('/')}`,
      );
    }
  }
  return { parent: current, last: parts[parts.length - 1] ?? '' };
}

function getAt(doc: unknown, parts: string[]): unknown {
  let current = doc;
  for (const part of parts) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isPlainObject(current)) current = current[part];
    else return undefined;
  }
  return current;
}

function removeAt(doc: unknown, parts: string[], op: string): unknown {
  const { parent, last } = resolveParent(doc, parts, op);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length) {
      throw patchFailure(`${op} operation does not apply: index out of range: /${parts.join('/')}`);
    }
    return parent.splice(index, 1)[0];
  }
  if (isPlainObject(parent) && last in parent) {
    const value = parent[last];
    delete parent[last];
    return value;
  }
  throw patchFailure(`${op} operation does not apply: doc is missing key: /${parts.join('/')}`);
}

function addAt(doc: unknown, parts: string[], value: unknown, op: string): unknown {
  if (parts.length === 0) return value;
  const { parent, last } = resolveParent(doc, parts, op);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw patchFailure(`${op} operation does not apply: index out of range: /${parts.join('/')}`);
    }
    parent.splice(index, 0, value);
  } else if (isPlainObject(parent)) {
    parent[last] = value;
  } else {
    throw patchFailure(`${op} operation does not apply: doc is missing path: /${parts.join('/')}`);
  }
  return doc;
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const operation of operations) {
    if (!isPlainObject(operation)) throw badRequest('a JSON patch operation must be an object');
    const op = String(operation.op);
    const parts = pointerParts(operation.path);
    switch (op) {
      case 'add':
        doc = addAt(doc, parts, clone(operation.value), op);
        break;
      case 'remove':
        removeAt(doc, parts, op);
        break;
      case 'replace':
        if (parts.length === 0) {
          doc = clone(operation.value);
        } else {
          removeAt(doc, parts, op);
          doc = addAt(doc, parts, clone(operation.value), op);
        }
        break;
      case 'move': {
        const value = removeAt(doc, pointerParts(operation.from), op);
        doc = addAt(doc, parts, value, op);
        break;
      }
      case 'copy': {
        const value = getAt(doc, pointerParts(operation.from));
        if (value === undefined) throw patchFailure(`copy operation does not apply: missing from`);
        doc = addAt(doc, parts, clone(value), op);
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, parts)) !== JSON.stringify(operation.value)) {
          throw patchFailure(`testing value /${parts.join('/')} failed: test failed`);
        }
        break;
      default:
        throw badRequest(`unexpected JSON patch operation: ${JSON.stringify(operation.op)}`);
    }
  }
  return doc;
}
