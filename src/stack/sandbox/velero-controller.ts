import { parseDuration } from '../../core/change/duration';
import { clone, isPlainObject, timestamp, type KubeObject } from './objects';
import {
  backups,
  configMaps,
  deployments,
  namespaces,
  restores,
  services,
  type ResourceType,
} from './resources';
import type { Store } from './store';

/** Label or annotation that makes a backup fail, to exercise a change stopped by its backup. */
export const failBackupKey = 'sandbox.changectl.dev/fail';

/** What a backup captures: the workload objects changectl changes. */
const backedUp: readonly ResourceType[] = [deployments, services, configMaps];

const defaultTtlMs = 720 * 3_600_000;

interface Snapshot {
  resource: ResourceType;
  object: KubeObject;
}

interface Running {
  startedAt: number;
  snapshot?: Snapshot[];
}

function specOf(o: KubeObject): Record<string, unknown> {
  return isPlainObject(o.spec) ? o.spec : {};
}

function phaseOf(o: KubeObject): string {
  return isPlainObject(o.status) && typeof o.status.phase === 'string' ? o.status.phase : '';
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Velero's server, reduced to its phases: backups copy objects, restores put them back. */
export class VeleroController {
  private readonly running = new Map<string, Running>();
  /** Backup contents by `<namespace>/<backup name>`, the sandbox's object storage. */
  private readonly stored = new Map<string, Snapshot[]>();

  constructor(
    private readonly store: Store,
    private readonly durationMs: number,
  ) {}

  tick(now: number = Date.now()): void {
    const all = [
      ...this.store
        .list(backups)
        .map((o) => ({ o, sync: () => this.syncBackup(o, now), kind: 'backup' })),
      ...this.store
        .list(restores)
        .map((o) => ({ o, sync: () => this.syncRestore(o, now), kind: 'restore' })),
    ];
    const live = new Set(all.map(({ o, kind }) => `${kind}:${this.key(o)}`));
    for (const key of this.running.keys()) if (!live.has(key)) this.running.delete(key);
    // A deleted Backup takes its contents with it, as Velero's backup deletion does.
    for (const key of this.stored.keys()) if (!live.has(`backup:${key}`)) this.stored.delete(key);
    for (const { sync } of all) sync();
  }

  private key(o: KubeObject): string {
    return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  }

  private setStatus(r: ResourceType, o: KubeObject, status: Record<string, unknown>): void {
    const current = this.store.get(r, o.metadata.namespace, o.metadata.name);
    if (!current) return;
    const before = isPlainObject(current.status) ? current.status : {};
    this.store.update(r, { ...current, status: { ...before, ...status } });
  }

  private syncBackup(backup: KubeObject, now: number): void {
    const phase = phaseOf(backup);
    const key = `backup:${this.key(backup)}`;
    if (phase === '' || phase === 'New') {
      const spec = specOf(backup);
      const ttl =
        typeof spec.ttl === 'string' ? (parseDuration(spec.ttl) ?? defaultTtlMs) : defaultTtlMs;
      const snapshot = this.capture(
        stringList(spec.includedNamespaces),
        stringList(spec.excludedNamespaces),
      );
      this.running.set(key, { startedAt: now, snapshot });
      this.setStatus(backups, backup, {
        version: 1,
        formatVersion: '1.1.0',
        phase: 'InProgress',
        startTimestamp: timestamp(now),
        expiration: timestamp(now + ttl),
        progress: { totalItems: snapshot.length, itemsBackedUp: 0 },
      });
      return;
    }
    if (phase !== 'InProgress') return;
    const run = this.running.get(key) ?? { startedAt: now };
    this.running.set(key, run);
    if (now - run.startedAt < this.durationMs) return;
    this.running.delete(key);
    const snapshot = run.snapshot ?? [];
    const done = { completionTimestamp: timestamp(now) };
    const labels = backup.metadata.labels ?? {};
    const annotations = backup.metadata.annotations ?? {};
    if (labels[failBackupKey] === 'true' || annotations[failBackupKey] === 'true') {
      this.setStatus(backups, backup, {
        ...done,
        phase: 'Failed',
        failureReason: `backup failed on request (${failBackupKey}=true)`,
      });
      return;
    }
    this.stored.set(this.key(backup), snapshot);
    const missing = stringList(specOf(backup).includedNamespaces).filter(
      (ns) => ns !== '*' && !this.store.has(namespaces, undefined, ns),
    );
    const progress = { totalItems: snapshot.length, itemsBackedUp: snapshot.length };
    if (missing.length > 0) {
      this.setStatus(backups, backup, {
        ...done,
        phase: 'PartiallyFailed',
        progress,
        errors: missing.length,
        failureReason: `included namespaces not found: ${missing.join(', ')}`,
      });
      return;
    }
    this.setStatus(backups, backup, { ...done, phase: 'Completed', progress });
  }

  private capture(included: string[], excluded: string[]): Snapshot[] {
    const all = included.length === 0 || included.includes('*');
    const snapshot: Snapshot[] = [];
    for (const resource of backedUp) {
      for (const object of this.store.list(resource)) {
        const ns = object.metadata.namespace ?? '';
        if (excluded.includes(ns) || ns === 'velero') continue;
        if (!all && !included.includes(ns)) continue;
        snapshot.push({ resource, object: clone(object) });
      }
    }
    return snapshot;
  }

  private syncRestore(restore: KubeObject, now: number): void {
    const phase = phaseOf(restore);
    const key = `restore:${this.key(restore)}`;
    if (phase === '' || phase === 'New') {
      this.running.set(key, { startedAt: now });
      this.setStatus(restores, restore, { phase: 'InProgress', startTimestamp: timestamp(now) });
      return;
    }
    if (phase !== 'InProgress') return;
    const run = this.running.get(key) ?? { startedAt: now };
    this.running.set(key, run);
    if (now - run.startedAt < this.durationMs) return;
    this.running.delete(key);
    const done = { completionTimestamp: timestamp(now) };
    const backupName = specOf(restore).backupName;
    const backup =
      typeof backupName === 'string'
        ? this.store.get(backups, restore.metadata.namespace, backupName)
        : undefined;
    if (!backup) {
      this.setStatus(restores, restore, {
        ...done,
        phase: 'Failed',
        failureReason: `backup "${String(backupName)}" not found`,
      });
      return;
    }
    const snapshot = this.stored.get(this.key(backup));
    if (!snapshot || !['Completed', 'PartiallyFailed'].includes(phaseOf(backup))) {
      this.setStatus(restores, restore, {
        ...done,
        phase: 'Failed',
        failureReason: `backup "${backup.metadata.name}" has phase ${phaseOf(backup) || 'New'}, not Completed`,
      });
      return;
    }
    const included = stringList(specOf(restore).includedNamespaces);
    const chosen = snapshot.filter(
      (s) =>
        included.length === 0 ||
        included.includes('*') ||
        included.includes(s.object.metadata.namespace ?? ''),
    );
    const marks = {
      'velero.io/backup-name': backup.metadata.name,
      'velero.io/restore-name': restore.metadata.name,
    };
    for (const item of chosen) this.putBack(item, marks);
    this.setStatus(restores, restore, {
      ...done,
      phase: 'Completed',
      progress: { totalItems: chosen.length, itemsRestored: chosen.length },
    });
  }

  /**
   * Restores one object: its spec, labels and annotations replace the live ones (so a restored
   * Deployment rolls back to the saved template); status is left to the controllers.
   */
  private putBack({ resource, object }: Snapshot, marks: Record<string, string>): void {
    const ns = object.metadata.namespace ?? '';
    if (!this.store.has(namespaces, undefined, ns)) {
      this.store.create(namespaces, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: ns,
          uid: '',
          resourceVersion: '',
          creationTimestamp: '',
          labels: { 'kubernetes.io/metadata.name': ns },
        },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      });
    }
    const saved = clone(object);
    const { metadata: _m, status: _s, ...body } = saved;
    const live = this.store.get(resource, ns, object.metadata.name);
    if (live) {
      this.store.update(resource, {
        ...live,
        ...body,
        metadata: {
          ...live.metadata,
          labels: { ...saved.metadata.labels, ...marks },
          annotations: saved.metadata.annotations,
        },
      });
      return;
    }
    this.store.create(resource, {
      ...body,
      apiVersion: saved.apiVersion,
      kind: saved.kind,
      metadata: {
        name: saved.metadata.name,
        namespace: ns,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: { ...saved.metadata.labels, ...marks },
        ...(saved.metadata.annotations ? { annotations: saved.metadata.annotations } : {}),
      },
    });
  }
}
