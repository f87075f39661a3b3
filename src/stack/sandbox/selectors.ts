import { badRequest } from './errors';
import { isPlainObject, type KubeObject, type LabelSelector } from './objects';

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' };

export type Selector = (labels: Record<string, string> | undefined) => boolean;

function matches(requirements: Requirement[], labels: Record<string, string> = {}): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key] ?? '');
      case 'notin':
        return !has || !r.values.includes(labels[r.key] ?? '');
    }
  });
}

/** Splits on commas that are not inside `( )`. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** The `labelSelector` query parameter: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`. */
export function parseLabelSelector(text: string | null): Selector {
  if (!text) return () => true;
  const requirements: Requirement[] = [];
  for (const term of splitTerms(text)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      requirements.push({ key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values });
    } else if ((m = term.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/))) {
      requirements.push({
        key: m[1] ?? '',
        op: m[2] === '!=' ? 'notin' : 'in',
        values: [m[3] ?? ''],
      });
    } else if ((m = term.match(/^!\s*([\w./-]+)$/))) {
      requirements.push({ key: m[1] ?? '', op: 'doesnotexist' });
    } else if ((m = term.match(/^([\w./-]+)$/))) {
      requirements.push({ key: m[1] ?? '', op: 'exists' });
    } else {
      throw badRequest(`unable to parse requirement: found '${term}', expected a label selector`);
    }
  }
  return (labels) => matches(requirements, labels);
}

/** A `spec.selector` as Deployments and ReplicaSets carry it. */
export function labelSelectorMatcher(selector: LabelSelector | undefined): Selector {
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    requirements.push({ key, op: 'in', values: [value] });
  }
  for (const e of selector?.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === 'in' || op === 'notin')
      requirements.push({ key: e.key, op, values: e.values ?? [] });
    else if (op === 'exists' || op === 'doesnotexist') requirements.push({ key: e.key, op });
  }
  // An empty selector selects nothing for workloads, everything for list calls; workloads are
  // validated to carry one, so here it only guards against matching every pod by accident.
  if (requirements.length === 0) return () => false;
  return (labels) => matches(requirements, labels);
}

/** `a=b,c=d` for a selector's matchLabels, as tables and the scale subresource print it. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === 'exists') parts.push(e.key);
    else if (op === 'doesnotexist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${op} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',');
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  let current: unknown = obj;
  for (const part of path.split('.')) {
    if (!isPlainObject(current)) return undefined;
    current = current[part];
  }
  if (current === undefined || current === null) return undefined;
  return typeof current === 'string' ? current : JSON.stringify(current);
}

/** The `fieldSelector` query parameter: `metadata.name=x`, `involvedObject.uid!=y`, ... */
export function parseFieldSelector(text: string | null): (obj: KubeObject) => boolean {
  if (!text) return () => true;
  const terms = splitTerms(text).map((term) => {
    const m = term.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    return { path: m[1] ?? '', negate: m[2] === '!=', value: m[3] ?? '' };
  });
  return (obj) =>
    terms.every((t) => {
      const actual = fieldValue(obj, t.path) ?? '';
      return t.negate ? actual !== t.value : actual === t.value;
    });
}
