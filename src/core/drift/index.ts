/**
 * Drift: objects whose live spec is no longer what changectl's last change left, and objects no
 * change ever touched. Pure functions over the objects as the API server returns them, shared by
 * `changectl drift` (in the CLI) and the scheduled scan (an activity and a workflow).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { Policy } from '../policy/schema';
import { ownedByServices } from '../policy/scope';

/** The annotations that tie an object to the change that last wrote it. */
export const DriftAnnotation = {
  changeId: 'changectl.dev/change-id',
  runId: 'changectl.dev/run-id',
  specHash: 'changectl.dev/spec-hash',
} as const;

/** changectl's field manager; every other manager that owns spec fields changed them by hand. */
export const CHANGECTL_MANAGER = 'changectl';

/** The parts of an object drift reads, as the API server (or the client's models) gives them. */
export interface LiveObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    managedFields?: {
      manager?: string;
      operation?: string;
      time?: Date | string;
      subresource?: string;
      fieldsV1?: unknown;
    }[];
  };
  [field: string]: unknown;
}

/** Everything but identity, metadata and status: what a change sets (spec, data, ...). */
export function specOf(object: LiveObject): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata' || key === 'status') continue;
    spec[key] = value;
  }
  return spec;
}

/** JSON with keys sorted, dates as ISO text and absent values (undefined, null) left out. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const item = (v as Record<string, unknown>)[key];
        if (item !== undefined && item !== null) sorted[key] = item;
      }
      return sorted;
    }
    return v;
  });
}

/** `sha256:<hex>` of the object's spec, the same for the write's answer and a later read. */
export function specHash(object: LiveObject): string {
  return `sha256:${bytesToHex(sha256(utf8ToBytes(canonical(specOf(object)))))}`;
}

export type DriftStatus = 'drifted' | 'untracked';

/** A field manager's last write to an object's spec. */
export interface SpecWriter {
  manager: string;
  operation: string;
  at?: string;
}

export interface DriftEvent {
  at: string;
  type: string;
  reason: string;
  message: string;
}

export interface ObjectDrift {
  kind: string;
  namespace: string;
  name: string;
  status: DriftStatus;
  /** The last change that wrote the object, and its run. */
  changeId?: string;
  runId?: string;
  /** The spec hash that change left, and the live one. */
  expectedHash?: string;
  liveHash: string;
  /** When changectl last wrote the object (its field manager's time). */
  changectlAt?: string;
  /** Other managers of spec fields, newest first: since changectl's write when any is. */
  changedBy: SpecWriter[];
  /** The object's events since changectl's write (all known ones when untracked), newest last. */
  events: DriftEvent[];
}

/** Where a scan looks: namespaces, each with its environment, and optionally one service. */
export interface DriftScope {
  environment?: string;
  namespaces: { namespace: string; environment?: string }[];
  service?: string;
}

export interface DriftReport {
  scannedAt: string;
  scope: DriftScope;
  /** How many objects were looked at. */
  scanned: number;
  drifted: ObjectDrift[];
  untracked: ObjectDrift[];
}

export class DriftScopeError extends Error {
  override readonly name = 'DriftScopeError';
}

/**
 * The namespaces a scan covers, from the policy's environments: those of `environment` (or of
 * every environment), narrowed to `namespace` when given, which must belong to an environment.
 */
export function driftScope(
  policy: Pick<Policy, 'spec'>,
  filter: { environment?: string; namespace?: string; service?: string },
): DriftScope {
  const environments = Object.entries(policy.spec.environments);
  if (
    filter.environment !== undefined &&
    !Object.hasOwn(policy.spec.environments, filter.environment)
  ) {
    const known = environments.map(([name]) => name);
    throw new DriftScopeError(
      `environment ${filter.environment} is not in the policy (spec.environments: ${known.join(', ') || 'none'})`,
    );
  }
  const namespaces = environments
    .filter(([name]) => filter.environment === undefined || name === filter.environment)
    .flatMap(([environment, entry]) =>
      entry.namespaces.map((namespace) => ({ namespace, environment })),
    )
    .filter((n) => filter.namespace === undefined || n.namespace === filter.namespace);
  if (namespaces.length === 0) {
    const where =
      filter.environment !== undefined ? `environment ${filter.environment}` : 'any environment';
    throw new DriftScopeError(
      filter.namespace !== undefined
        ? `namespace ${filter.namespace} belongs to no ${where === 'any environment' ? 'environment' : where} in the policy`
        : `the policy gives ${where} no namespace`,
    );
  }
  return {
    ...(filter.environment !== undefined ? { environment: filter.environment } : {}),
    namespaces,
    ...(filter.service !== undefined ? { service: filter.service } : {}),
  };
}

/** Objects the cluster makes for itself in every namespace; no change is expected to own them. */
const clusterMade = new Set(['ConfigMap/kube-root-ca.crt', 'Service/kubernetes']);

/** Whether a listed object is one a change could own: in the service, and not made by a controller. */
export function inDriftScope(
  object: LiveObject,
  kind: string,
  service: string | undefined,
): boolean {
  const name = object.metadata?.name ?? '';
  if (clusterMade.has(`${kind}/${name}`)) return false;
  if ((object.metadata?.ownerReferences ?? []).length > 0) return false;
  return service === undefined || ownedByServices(name, [service]);
}

function timeOf(at: Date | string | undefined): string | undefined {
  if (at === undefined) return undefined;
  const ms = new Date(at).getTime();
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Whether a managedFields entry owns any of the given top-level fields. */
function ownsAny(fieldsV1: unknown, fields: string[]): boolean {
  if (typeof fieldsV1 !== 'object' || fieldsV1 === null) return false;
  return fields.some((field) => Object.hasOwn(fieldsV1, `f:${field}`));
}

/**
 * Where one live object stands: undefined when it is as changectl's last change left it, else
 * drifted (its spec hash differs) or untracked (no change ever stamped it). Events are the
 * object's own, as the namespace's event list gives them.
 */
export function objectDrift(
  object: LiveObject,
  kind: string,
  events: DriftEvent[],
): ObjectDrift | undefined {
  const metadata = object.metadata ?? {};
  const annotations = metadata.annotations ?? {};
  const expectedHash = annotations[DriftAnnotation.specHash];
  const liveHash = specHash(object);
  if (expectedHash !== undefined && expectedHash === liveHash) return undefined;

  const specFields = Object.keys(specOf(object));
  const writers = (metadata.managedFields ?? [])
    .filter((entry) => !entry.subresource && ownsAny(entry.fieldsV1, specFields))
    .map((entry) => ({
      manager: entry.manager ?? 'unknown',
      operation: entry.operation ?? 'Update',
      at: timeOf(entry.time),
    }));
  const changectlAt = (metadata.managedFields ?? [])
    .filter((entry) => entry.manager === CHANGECTL_MANAGER && !entry.subresource)
    .map((entry) => timeOf(entry.time))
    .filter((at): at is string => at !== undefined)
    .sort()
    .at(-1);
  const others = writers
    .filter((w) => w.manager !== CHANGECTL_MANAGER)
    .sort((a, b) => (b.at ?? '').localeCompare(a.at ?? ''));
  const since =
    changectlAt === undefined ? others : others.filter((w) => (w.at ?? '') >= changectlAt);
  const status: DriftStatus = expectedHash === undefined ? 'untracked' : 'drifted';
  return {
    kind,
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    status,
    ...(annotations[DriftAnnotation.changeId] !== undefined
      ? { changeId: annotations[DriftAnnotation.changeId] }
      : {}),
    ...(annotations[DriftAnnotation.runId] !== undefined
      ? { runId: annotations[DriftAnnotation.runId] }
      : {}),
    ...(expectedHash !== undefined ? { expectedHash } : {}),
    liveHash,
    ...(changectlAt !== undefined ? { changectlAt } : {}),
    changedBy: since.length > 0 ? since : others,
    events: events
      .filter((e) => changectlAt === undefined || e.at >= changectlAt)
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(-5),
  };
}

/** An object's identity across scans. */
export function driftKey(o: Pick<ObjectDrift, 'kind' | 'namespace' | 'name'>): string {
  return `${o.namespace}/${o.kind}/${o.name}`;
}

/** What changed between two scans: drift that appeared, and drift that cleared. */
export function driftTransitions(
  previous: Pick<DriftReport, 'drifted'> | undefined,
  current: Pick<DriftReport, 'drifted'>,
): { appeared: ObjectDrift[]; cleared: ObjectDrift[] } {
  const before = new Map((previous?.drifted ?? []).map((o) => [driftKey(o), o]));
  const now = new Set(current.drifted.map(driftKey));
  return {
    appeared: current.drifted.filter((o) => !before.has(driftKey(o))),
    cleared: [...before.values()].filter((o) => !now.has(driftKey(o))),
  };
}

/** One line naming an object, who changed it and when, and the last change. */
export function driftLine(o: ObjectDrift): string {
  const who = o.changedBy[0];
  const by = who ? ` by ${who.manager}${who.at ? ` at ${who.at}` : ''}` : '';
  const last = o.changeId ? ` (last change ${o.changeId})` : ' (never changed through changectl)';
  return `${o.namespace}/${o.kind}/${o.name}${o.status === 'drifted' ? ' changed' : ' untracked'}${by}${last}`;
}

/** The notification text when drift appears. */
export function driftAppearedText(appeared: ObjectDrift[], scope: DriftScope): string {
  return [
    `🔀 DRIFT: ${appeared.length} object${appeared.length === 1 ? '' : 's'} changed outside changectl in ${scopeName(scope)}`,
    ...appeared.map((o) => `- ${driftLine(o)}`),
    `Inspect: changectl drift${scope.environment ? ` --env ${scope.environment}` : ''}`,
  ].join('\n');
}

/** The notification text when drift clears. */
export function driftClearedText(cleared: ObjectDrift[], scope: DriftScope): string {
  return [
    `✅ DRIFT CLEARED: ${cleared.length} object${cleared.length === 1 ? '' : 's'} in ${scopeName(scope)} match their last change again`,
    ...cleared.map((o) => `- ${o.namespace}/${o.kind}/${o.name}`),
  ].join('\n');
}

export function scopeName(scope: DriftScope): string {
  const namespaces = scope.namespaces.map((n) => n.namespace).join(', ');
  const env = scope.environment ?? 'every environment';
  return `${env} (${namespaces})${scope.service ? `, service ${scope.service}` : ''}`;
}
