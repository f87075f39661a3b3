/** True when a name matches a pattern where `*` stands for any run of characters. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(value);
}

/** The value of a map keyed by patterns for a name: the exact key, then a glob, then '*'. */
export function lookupByPattern<T>(map: Record<string, T>, name: string): T | undefined {
  if (Object.hasOwn(map, name)) return map[name];
  const globs = Object.keys(map).filter((k) => k !== '*' && k.includes('*'));
  const glob = globs.find((k) => matchesPattern(k, name));
  if (glob !== undefined) return map[glob];
  return Object.hasOwn(map, '*') ? map['*'] : undefined;
}
