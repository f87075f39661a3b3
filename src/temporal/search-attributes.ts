import type { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import type { FieldIssue } from '../core/change/validation';
import { changeSearchAttributes } from '../core/search-attributes';

type IndexedValueType = NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>;
type ChangeSearchAttribute = (typeof changeSearchAttributes)[number];

/** The SDK's name of each indexed value type number, for messages about conflicts. */
const TYPE_NAME: Record<number, string> = Object.fromEntries(
  Object.values(SearchAttributeType).map((type) => [
    Number(encodeSearchAttributeIndexedValueType(type)),
    type,
  ]),
);

/** What registering did to one of changectl's search attributes. */
export interface SearchAttributeRegistration {
  name: string;
  type: SearchAttributeType;
  result: 'registered' | 'already registered';
}

/** The namespace has search attributes by changectl's names but of other types. */
export class SearchAttributeConflictError extends Error {
  override readonly name = 'SearchAttributeConflictError';

  constructor(
    readonly namespace: string,
    /** One issue per attribute: its name, and the type it has against the one changectl needs. */
    readonly conflicts: FieldIssue[],
  ) {
    super(`search attributes on namespace ${namespace} conflict with changectl's:`);
  }
}

/**
 * Registers changectl's search attributes on a namespace; those already there with the right type
 * are left alone. When any is there with another type, nothing is added and this throws a
 * SearchAttributeConflictError naming each. (The time-skipping test server cannot list search
 * attributes: add them there with indexedValueTypes.)
 */
export async function registerSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<SearchAttributeRegistration[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const registered = { ...existing.customAttributes, ...existing.systemAttributes };
  const results: SearchAttributeRegistration[] = [];
  const missing: ChangeSearchAttribute[] = [];
  const conflicts: FieldIssue[] = [];
  for (const key of changeSearchAttributes) {
    const wanted = Number(indexedValueType(key));
    const current = registered[key.name];
    if (current === undefined || current === null) {
      missing.push(key);
      results.push({ name: key.name, type: key.type, result: 'registered' });
    } else if (Number(current) !== wanted) {
      conflicts.push({
        path: key.name,
        message: `registered as ${TYPE_NAME[Number(current)] ?? String(current)}, changectl needs ${key.type}`,
      });
    } else {
      results.push({ name: key.name, type: key.type, result: 'already registered' });
    }
  }
  if (conflicts.length > 0) throw new SearchAttributeConflictError(namespace, conflicts);
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: indexedValueTypes(missing),
    });
  }
  return results;
}

/** The operator-service form of search attribute keys: name → indexed value type. */
export function indexedValueTypes(
  keys: readonly ChangeSearchAttribute[],
): Record<string, IndexedValueType> {
  const entries: Record<string, IndexedValueType> = {};
  for (const key of keys) entries[key.name] = indexedValueType(key);
  return entries;
}

function indexedValueType(key: { name: string; type: SearchAttributeType }): IndexedValueType {
  const type = encodeSearchAttributeIndexedValueType(key.type);
  if (type === undefined) throw new Error(`search attribute ${key.name} has no indexed type`);
  return type;
}
