import type { Connection } from '@temporalio/client';
import { changeSearchAttributes } from '../core/search-attributes';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';

type IndexedValueType = NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>;

/**
 * Registers changectl's search attributes on a namespace; those already there are left alone.
 * Returns the names that were added.
 */
export async function registerSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = { ...existing.customAttributes, ...existing.systemAttributes };
  const missing = changeSearchAttributes.filter((key) => !(key.name in known));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: indexedValueTypes(missing),
  });
  return missing.map((key) => key.name);
}

/** The operator-service form of search attribute keys: name → indexed value type. */
export function indexedValueTypes(
  keys: readonly (typeof changeSearchAttributes)[number][],
): Record<string, IndexedValueType> {
  const entries: Record<string, IndexedValueType> = {};
  for (const key of keys) {
    const type = encodeSearchAttributeIndexedValueType(key.type);
    if (type === undefined) throw new Error(`search attribute ${key.name} has no indexed type`);
    entries[key.name] = type;
  }
  return entries;
}
