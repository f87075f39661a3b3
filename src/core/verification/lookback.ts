/**
 * How far back a PromQL query looks. A check that must judge only what happened after some
 * moment (the service after a rollback) has to wait this long first, or its rates still count
 * the requests from before. Pure; shared by workflows and tests.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
/** A range selector or subquery range: `[5m]`, `[1m30s]`, `[10m:1m]`. */
const RANGE = /\[\s*((?:\d+(?:ms|s|m|h|d|w|y))+)\s*(?::[^\]]*)?\]/g;
const PART = /(\d+)(ms|s|m|h|d|w|y)/g;

/** The longest range selector in the query, in milliseconds; 0 for an instant query. */
export function queryLookbackMs(query: string): number {
  let longest = 0;
  for (const range of query.matchAll(RANGE)) {
    let ms = 0;
    for (const part of (range[1] ?? '').matchAll(PART)) {
      ms += Number(part[1]) * (UNIT_MS[part[2] ?? ''] ?? 0);
    }
    longest = Math.max(longest, ms);
  }
  return longest;
}
