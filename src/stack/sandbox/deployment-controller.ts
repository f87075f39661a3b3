import { randomBytes } from 'node:crypto';
import type { EventRecorder } from './events';
import {
  canonicalJson,
  clone,
  conditionOf,
  timestamp,
  type Condition,
  type Deployment,
  type DeploymentStatus,
  type KubeObject,
  type Pod,
  type PodTemplate,
  type ReplicaSet,
} from './objects';
import { deployments, pods, replicaSets } from './resources';
import type { Store } from './store';

export const revisionAnnotation = 'deployment.kubernetes.io/revision';
const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
export const podTemplateHashLabel = 'pod-template-hash';

/** Deployment annotations that stay on the Deployment, as the real controller skips them. */
const notCopiedToReplicaSet = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  revisionAnnotation,
  revisionHistoryAnnotation,
  desiredReplicasAnnotation,
  maxReplicasAnnotation,
  'deprecated.deployment.rollback.to',
]);

const component = 'deployment-controller';
const replicaSetComponent = 'replicaset-controller';

/** Condition reasons kubectl and clients look for. */
export const progressReasons = {
  newReplicaSetCreated: 'NewReplicaSetCreated',
  foundNewReplicaSet: 'FoundNewReplicaSet',
  replicaSetUpdated: 'ReplicaSetUpdated',
  newReplicaSetAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
} as const;

/** An image that never becomes ready, to exercise failed rollouts. */
export function isBrokenImage(image: string): boolean {
  return image.endsWith('-broken');
}

function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function withoutHashLabel(template: PodTemplate): PodTemplate {
  const copy = clone(template);
  if (copy.metadata?.labels) delete copy.metadata.labels[podTemplateHashLabel];
  return copy;
}

/**
 * The pod-template-hash: a 32-bit FNV-1a hash of the template, written with the consonant-digit
 * alphabet Kubernetes uses so names never spell words.
 */
export function podTemplateHash(template: PodTemplate, collisionCount = 0): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const hash = fnv32a(
    canonicalJson(withoutHashLabel(template)) + (collisionCount ? String(collisionCount) : ''),
  );
  return [...String(hash)].map((d) => alphabet[d.charCodeAt(0) % alphabet.length]).join('');
}

function sameTemplate(a: PodTemplate, b: PodTemplate): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}

export function revisionOf(o: KubeObject): number {
  const n = Number(o.metadata.annotations?.[revisionAnnotation]);
  return Number.isInteger(n) ? n : 0;
}

/** `25%` of 3 replicas, rounded up for surge and down for unavailability. */
function resolveIntOrPercent(
  value: number | string | undefined,
  total: number,
  roundUp: boolean,
): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)%$/.exec(value ?? '');
  if (!match) return 0;
  const exact = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

function surgeAndUnavailable(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  if (d.spec.strategy.type !== 'RollingUpdate') return { maxSurge: 0, maxUnavailable: 0 };
  const rolling = d.spec.strategy.rollingUpdate ?? {};
  const maxSurge = resolveIntOrPercent(rolling.maxSurge ?? '25%', d.spec.replicas, true);
  let maxUnavailable = resolveIntOrPercent(rolling.maxUnavailable ?? '25%', d.spec.replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, d.spec.replicas) };
}

function ownedBy(o: KubeObject, owner: KubeObject): boolean {
  return (o.metadata.ownerReferences ?? []).some(
    (ref) => ref.controller && ref.uid === owner.metadata.uid,
  );
}

function specReplicas(rs: ReplicaSet): number {
  return rs.spec.replicas;
}

function sum(list: ReplicaSet[], of: (rs: ReplicaSet) => number | undefined): number {
  return list.reduce((n, rs) => n + (of(rs) ?? 0), 0);
}

function byCreation(a: KubeObject, b: KubeObject): number {
  return (
    a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) ||
    a.metadata.name.localeCompare(b.metadata.name)
  );
}

function newCondition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
): Condition {
  const now = timestamp();
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** SetDeploymentCondition's rules: same status and reason is no change; same status keeps the transition time. */
function setCondition(status: DeploymentStatus, condition: Condition): void {
  const current = conditionOf(status.conditions, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  if (current && current.status === condition.status)
    condition.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [
    ...(status.conditions ?? []).filter((c) => c.type !== condition.type),
    condition,
  ];
}

/** Go's omitempty on the status counters: zero counts are left out of the JSON. */
function compactStatus(status: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [key, value] of Object.entries(status) as [keyof DeploymentStatus, unknown][]) {
    if (value === 0 || value === undefined) continue;
    (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

export interface DeploymentControllerOptions {
  podReadyAfterMs: number;
}

/**
 * The Deployment and ReplicaSet controllers and a kubelet that starts pods, in one loop: a
 * template change makes (or reuses) a ReplicaSet with the next revision, rolling updates move
 * replicas within maxSurge/maxUnavailable as pods become ready, and status and conditions follow
 * the upstream controller's rules so `kubectl rollout status/history/undo` read them correctly.
 */
export class DeploymentController {
  private readonly readyAt = new Map<string, number>();
  private podIpCounter = 10;

  constructor(
    private readonly store: Store,
    private readonly recorder: EventRecorder,
    private readonly options: DeploymentControllerOptions,
  ) {}

  /** One pass over every object. `instant` makes new pods ready at once (for seeding). */
  tick(now: number = Date.now(), instant = false): void {
    this.updatePodReadiness(now);
    // Replica set status first, so rollout decisions see pods that just became ready.
    for (const rs of this.store.list(replicaSets) as ReplicaSet[])
      this.syncReplicaSet(rs, now, instant);
    for (const d of this.store.list(deployments) as Deployment[]) this.syncDeployment(d);
    for (const rs of this.store.list(replicaSets) as ReplicaSet[])
      this.syncReplicaSet(rs, now, instant);
    for (const d of this.store.list(deployments) as Deployment[]) this.syncStatus(d, now);
  }

  /** Runs passes until every deployment has settled (seeding). */
  settle(): void {
    for (let i = 0; i < 10; i++) this.tick(Date.now(), true);
  }

  private replicaSetsOf(d: Deployment): ReplicaSet[] {
    return (this.store.list(replicaSets, d.metadata.namespace) as ReplicaSet[]).filter((rs) =>
      ownedBy(rs, d),
    );
  }

  private syncDeployment(d: Deployment): void {
    if (d.metadata.deletionTimestamp) return;
    let all = this.replicaSetsOf(d);
    let newRs = all.find((rs) => sameTemplate(rs.spec.template, d.spec.template));
    const old = () => all.filter((rs) => rs !== newRs);
    const maxOldRevision = Math.max(0, ...old().map(revisionOf));

    if (d.spec.paused) {
      // A paused deployment keeps its replica sets; only a plain scale reaches the current one.
      const active = all.filter((rs) => specReplicas(rs) > 0);
      const target = newRs ?? (active.length === 1 ? active[0] : undefined);
      if (
        target &&
        active.every((rs) => rs === target) &&
        specReplicas(target) !== d.spec.replicas
      ) {
        this.scaleReplicaSet(target, d, d.spec.replicas);
      }
      return;
    }

    const nextRevision = maxOldRevision + 1;
    if (!newRs && d.spec.strategy.type === 'Recreate') {
      // Recreate makes its new replica set only once every old pod is gone.
      const running = old().filter((rs) => rs.spec.replicas > 0 || (rs.status?.replicas ?? 0) > 0);
      for (const rs of running) if (rs.spec.replicas > 0) this.scaleReplicaSet(rs, d, 0);
      if (running.length > 0) return;
    }
    if (!newRs) {
      newRs = this.createReplicaSet(d, all, nextRevision);
      if (!newRs) return;
      all = [...all, newRs];
    } else {
      newRs = this.refreshReplicaSetAnnotations(newRs, d, nextRevision);
      all = all.map((rs) => (rs.metadata.uid === newRs?.metadata.uid ? newRs : rs));
    }
    const revision = String(revisionOf(newRs));
    if (d.metadata.annotations?.[revisionAnnotation] !== revision) {
      this.updateDeployment(d, (fresh) => {
        fresh.metadata.annotations = {
          ...fresh.metadata.annotations,
          [revisionAnnotation]: revision,
        };
      });
    }

    if (d.spec.strategy.type === 'Recreate') {
      this.rolloutRecreate(d, newRs, old());
    } else {
      this.rolloutRolling(d, newRs, old());
    }
  }

  /** Re-reads the deployment before writing, so status and metadata writes never undo each other. */
  private updateDeployment(d: Deployment, change: (fresh: Deployment) => void): void {
    const fresh = this.store.get(deployments, d.metadata.namespace, d.metadata.name) as
      | Deployment
      | undefined;
    if (!fresh) return;
    change(fresh);
    this.store.update(deployments, fresh);
  }

  private createReplicaSet(
    d: Deployment,
    existing: ReplicaSet[],
    revision: number,
  ): ReplicaSet | undefined {
    const collisionCount = d.status?.collisionCount ?? 0;
    const hash = podTemplateHash(d.spec.template, collisionCount);
    const name = `${d.metadata.name}-${hash}`;
    if (this.store.has(replicaSets, d.metadata.namespace, name)) {
      // A replica set of that name holds another template: bump collisionCount, as upstream does.
      this.updateDeployment(d, (fresh) => {
        fresh.status = { ...fresh.status, collisionCount: collisionCount + 1 };
      });
      return undefined;
    }
    const { maxSurge } = surgeAndUnavailable(d);
    const replicas = this.newReplicaSetReplicas(d, existing, 0);
    const template = clone(d.spec.template);
    template.metadata.labels = { ...template.metadata.labels, [podTemplateHashLabel]: hash };
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (!notCopiedToReplicaSet.has(k)) annotations[k] = v;
    }
    annotations[desiredReplicasAnnotation] = String(d.spec.replicas);
    annotations[maxReplicasAnnotation] = String(d.spec.replicas + maxSurge);
    annotations[revisionAnnotation] = String(revision);
    const rs = this.store.create(replicaSets, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: { ...d.spec.template.metadata.labels, [podTemplateHashLabel]: hash },
        annotations,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name,
            uid: d.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas,
        minReadySeconds: d.spec.minReadySeconds ?? 0,
        selector: {
          ...d.spec.selector,
          matchLabels: { ...d.spec.selector.matchLabels, [podTemplateHashLabel]: hash },
        },
        template,
      },
      status: { replicas: 0 },
    }) as ReplicaSet;
    if (replicas > 0) {
      this.recorder.record(
        d,
        deployments,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${name} from 0 to ${replicas}`,
        component,
      );
    }
    this.updateDeployment(d, (fresh) => {
      const status = { ...fresh.status };
      setCondition(
        status,
        newCondition(
          'Progressing',
          'True',
          progressReasons.newReplicaSetCreated,
          `Created new replica set "${name}"`,
        ),
      );
      fresh.status = status;
    });
    return rs;
  }

  /** Reusing a replica set (a rollback): it takes the next revision and the deployment's annotations. */
  private refreshReplicaSetAnnotations(
    rs: ReplicaSet,
    d: Deployment,
    nextRevision: number,
  ): ReplicaSet {
    const annotations = { ...rs.metadata.annotations };
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (!notCopiedToReplicaSet.has(k)) annotations[k] = v;
    }
    const current = revisionOf(rs);
    if (current < nextRevision) {
      if (current > 0) {
        const history = annotations[revisionHistoryAnnotation];
        annotations[revisionHistoryAnnotation] = history
          ? `${history},${current}`
          : String(current);
      }
      annotations[revisionAnnotation] = String(nextRevision);
    }
    if (canonicalJson(annotations) === canonicalJson(rs.metadata.annotations ?? {})) return rs;
    return this.store.update(replicaSets, {
      ...rs,
      metadata: { ...rs.metadata, annotations },
    }) as ReplicaSet;
  }

  private newReplicaSetReplicas(d: Deployment, all: ReplicaSet[], current: number): number {
    if (d.spec.strategy.type === 'Recreate') return d.spec.replicas;
    const { maxSurge } = surgeAndUnavailable(d);
    const podCount = sum(all, specReplicas);
    const maxTotal = d.spec.replicas + maxSurge;
    if (podCount >= maxTotal) return current;
    return current + Math.max(0, Math.min(maxTotal - podCount, d.spec.replicas - current));
  }

  private scaleReplicaSet(rs: ReplicaSet, d: Deployment, replicas: number): ReplicaSet {
    const from = rs.spec.replicas;
    if (from === replicas) return rs;
    const { maxSurge } = surgeAndUnavailable(d);
    const annotations = {
      ...rs.metadata.annotations,
      [desiredReplicasAnnotation]: String(d.spec.replicas),
      [maxReplicasAnnotation]: String(d.spec.replicas + maxSurge),
    };
    const updated = this.store.update(replicaSets, {
      ...rs,
      metadata: { ...rs.metadata, annotations },
      spec: { ...rs.spec, replicas },
    }) as ReplicaSet;
    const direction = replicas > from ? 'up' : 'down';
    this.recorder.record(
      d,
      deployments,
      'Normal',
      'ScalingReplicaSet',
      `Scaled ${direction} replica set ${rs.metadata.name} from ${from} to ${replicas}`,
      component,
    );
    return updated;
  }

  private rolloutRolling(d: Deployment, newRs: ReplicaSet, oldRss: ReplicaSet[]): void {
    const all = [newRs, ...oldRss];
    if (newRs.spec.replicas > d.spec.replicas) {
      newRs = this.scaleReplicaSet(newRs, d, d.spec.replicas);
    } else if (newRs.spec.replicas < d.spec.replicas) {
      const target = this.newReplicaSetReplicas(d, all, newRs.spec.replicas);
      newRs = this.scaleReplicaSet(newRs, d, target);
    }

    const oldPods = sum(oldRss, specReplicas);
    if (oldPods > 0) {
      const { maxUnavailable } = surgeAndUnavailable(d);
      const minAvailable = d.spec.replicas - maxUnavailable;
      const allPods = newRs.spec.replicas + oldPods;
      const newUnavailable = newRs.spec.replicas - (newRs.status?.availableReplicas ?? 0);
      let maxScaledDown = allPods - minAvailable - newUnavailable;
      if (maxScaledDown <= 0) return;
      const remaining = [...oldRss].sort(byCreation);
      // Unhealthy old replicas go first: removing them costs no availability.
      for (let i = 0; i < remaining.length && maxScaledDown > 0; i++) {
        const rs = remaining[i] as ReplicaSet;
        const unhealthy = rs.spec.replicas - (rs.status?.availableReplicas ?? 0);
        if (unhealthy <= 0) continue;
        const down = Math.min(maxScaledDown, unhealthy);
        remaining[i] = this.scaleReplicaSet(rs, d, rs.spec.replicas - down);
        maxScaledDown -= down;
      }
      const available = sum([newRs, ...remaining], (rs) => rs.status?.availableReplicas);
      let scaleDown = available - minAvailable;
      for (let i = 0; i < remaining.length && scaleDown > 0; i++) {
        const rs = remaining[i] as ReplicaSet;
        if (rs.spec.replicas === 0) continue;
        const down = Math.min(rs.spec.replicas, scaleDown);
        remaining[i] = this.scaleReplicaSet(rs, d, rs.spec.replicas - down);
        scaleDown -= down;
      }
    }
    this.cleanupIfComplete(d, newRs, oldRss);
  }

  private rolloutRecreate(d: Deployment, newRs: ReplicaSet, oldRss: ReplicaSet[]): void {
    let oldLeft = false;
    for (const rs of oldRss) {
      if (rs.spec.replicas > 0) this.scaleReplicaSet(rs, d, 0);
      if (rs.spec.replicas > 0 || (rs.status?.replicas ?? 0) > 0) oldLeft = true;
    }
    if (!oldLeft && newRs.spec.replicas !== d.spec.replicas)
      this.scaleReplicaSet(newRs, d, d.spec.replicas);
    this.cleanupIfComplete(d, newRs, oldRss);
  }

  /** Old replica sets beyond revisionHistoryLimit are deleted once a rollout is complete. */
  private cleanupIfComplete(d: Deployment, newRs: ReplicaSet, oldRss: ReplicaSet[]): void {
    if (
      (newRs.status?.availableReplicas ?? 0) < d.spec.replicas ||
      newRs.spec.replicas !== d.spec.replicas
    )
      return;
    const fresh = oldRss
      .map(
        (rs) =>
          this.store.get(replicaSets, rs.metadata.namespace, rs.metadata.name) as
            | ReplicaSet
            | undefined,
      )
      .filter((rs): rs is ReplicaSet => rs !== undefined);
    const excess = fresh.length - d.spec.revisionHistoryLimit;
    if (excess <= 0) return;
    const byRevision = fresh.sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of byRevision.slice(0, excess)) {
      if (rs.spec.replicas !== 0 || (rs.status?.replicas ?? 0) !== 0) continue;
      this.store.delete(replicaSets, rs.metadata.namespace, rs.metadata.name);
      for (const p of this.store.list(pods, rs.metadata.namespace)) {
        if (ownedBy(p, rs)) this.store.delete(pods, p.metadata.namespace, p.metadata.name);
      }
    }
  }

  private syncReplicaSet(rs: ReplicaSet, now: number, instant: boolean): void {
    let owned = (this.store.list(pods, rs.metadata.namespace) as Pod[]).filter((p) =>
      ownedBy(p, rs),
    );
    const diff = owned.length - rs.spec.replicas;
    if (diff < 0) {
      for (let i = 0; i < -diff; i++) {
        const pod = this.createPod(rs, now, instant);
        owned.push(pod);
        this.recorder.record(
          rs,
          replicaSets,
          'Normal',
          'SuccessfulCreate',
          `Created pod: ${pod.metadata.name}`,
          replicaSetComponent,
        );
      }
    } else if (diff > 0) {
      // Not-ready pods go first, then the youngest, as the ReplicaSet controller ranks them.
      const victims = [...owned]
        .sort((a, b) => Number(this.isReady(a)) - Number(this.isReady(b)) || byCreation(b, a))
        .slice(0, diff);
      for (const p of victims) {
        this.store.delete(pods, p.metadata.namespace, p.metadata.name);
        this.readyAt.delete(p.metadata.uid);
        this.recorder.record(
          rs,
          replicaSets,
          'Normal',
          'SuccessfulDelete',
          `Deleted pod: ${p.metadata.name}`,
          replicaSetComponent,
        );
      }
      owned = owned.filter((p) => !victims.includes(p));
    }
    const ready = owned.filter((p) => this.isReady(p)).length;
    const status: Record<string, number> = {
      replicas: owned.length,
      fullyLabeledReplicas: owned.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation ?? 1,
    };
    for (const key of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']) {
      if (status[key] === 0) delete status[key];
    }
    if (canonicalJson(status) !== canonicalJson(rs.status ?? {})) {
      const current = this.store.get(replicaSets, rs.metadata.namespace, rs.metadata.name);
      if (current) this.store.update(replicaSets, { ...current, status });
    }
  }

  private isReady(p: Pod): boolean {
    return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  }

  private createPod(rs: ReplicaSet, now: number, instant: boolean): Pod {
    const template = rs.spec.template;
    const broken = template.spec.containers.some((c) => isBrokenImage(c.image));
    const start = timestamp(now);
    const ip = this.podIpCounter++;
    const pod = this.store.create(pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${rs.metadata.name}-${randomSuffix(5)}`,
        namespace: rs.metadata.namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: start,
        labels: { ...template.metadata.labels },
        ...(template.metadata.annotations
          ? { annotations: { ...template.metadata.annotations } }
          : {}),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name,
            uid: rs.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { ...clone(template.spec), nodeName: 'sandbox-node', serviceAccountName: 'default' },
      status: podStatus(
        template,
        start,
        `10.244.${Math.floor(ip / 250) % 250}.${(ip % 250) + 2}`,
        false,
        broken,
      ),
    }) as Pod;
    this.readyAt.set(
      pod.metadata.uid,
      broken ? Infinity : instant ? now : now + this.options.podReadyAfterMs,
    );
    if (instant && !broken) this.markReady(pod);
    return (
      (this.store.get(pods, pod.metadata.namespace, pod.metadata.name) as Pod | undefined) ?? pod
    );
  }

  private updatePodReadiness(now: number): void {
    const all = this.store.list(pods) as Pod[];
    const live = new Set(all.map((p) => p.metadata.uid));
    for (const uid of this.readyAt.keys()) if (!live.has(uid)) this.readyAt.delete(uid);
    for (const p of all) {
      if (this.isReady(p)) continue;
      const at =
        this.readyAt.get(p.metadata.uid) ??
        Date.parse(p.metadata.creationTimestamp) + this.options.podReadyAfterMs;
      if (at <= now && !p.spec.containers.some((c) => isBrokenImage(c.image))) this.markReady(p);
    }
  }

  private markReady(p: Pod): void {
    const status = p.status ?? {};
    const podIP = typeof status.podIP === 'string' ? status.podIP : '';
    const start = typeof status.startTime === 'string' ? status.startTime : timestamp();
    const template: PodTemplate = { metadata: {}, spec: p.spec };
    this.store.update(pods, { ...p, status: podStatus(template, start, podIP, true, false) });
  }

  private syncStatus(d: Deployment, now: number): void {
    const all = this.replicaSetsOf(d);
    const newRs = all.find((rs) => sameTemplate(rs.spec.template, d.spec.template));
    const previous = d.status ?? {};
    const { maxUnavailable } = surgeAndUnavailable(d);
    const available = sum(all, (rs) => rs.status?.availableReplicas);
    const desiredTotal = sum(all, specReplicas);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: sum(all, (rs) => rs.status?.replicas),
      updatedReplicas: newRs?.status?.replicas ?? 0,
      readyReplicas: sum(all, (rs) => rs.status?.readyReplicas),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desiredTotal - available),
      conditions: clone(previous.conditions ?? []),
      ...(previous.collisionCount ? { collisionCount: previous.collisionCount } : {}),
    };
    if (available >= d.spec.replicas - maxUnavailable) {
      setCondition(
        status,
        newCondition(
          'Available',
          'True',
          'MinimumReplicasAvailable',
          'Deployment has minimum availability.',
        ),
      );
    } else {
      setCondition(
        status,
        newCondition(
          'Available',
          'False',
          'MinimumReplicasUnavailable',
          'Deployment does not have minimum availability.',
        ),
      );
    }
    this.progressCondition(d, newRs, previous, status, now);
    const next = compactStatus(status);
    if (canonicalJson(next) === canonicalJson(d.status ?? {})) return;
    const current = this.store.get(deployments, d.metadata.namespace, d.metadata.name);
    if (current) this.store.update(deployments, { ...current, status: next });
  }

  /** The Progressing condition, by syncRolloutStatus's and checkPausedConditions' rules. */
  private progressCondition(
    d: Deployment,
    newRs: ReplicaSet | undefined,
    previous: DeploymentStatus,
    status: DeploymentStatus,
    now: number,
  ): void {
    const current = conditionOf(status.conditions, 'Progressing');
    if (current?.reason !== progressReasons.timedOut) {
      const pausedShown = current?.reason === progressReasons.paused;
      if (d.spec.paused && !pausedShown) {
        setCondition(
          status,
          newCondition('Progressing', 'Unknown', progressReasons.paused, 'Deployment is paused'),
        );
      } else if (!d.spec.paused && pausedShown) {
        setCondition(
          status,
          newCondition('Progressing', 'Unknown', progressReasons.resumed, 'Deployment is resumed'),
        );
      }
    }
    if (d.spec.paused) return;
    if (newRs && !conditionOf(status.conditions, 'Progressing')) {
      setCondition(
        status,
        newCondition(
          'Progressing',
          'True',
          progressReasons.foundNewReplicaSet,
          `Found new replica set "${newRs.metadata.name}"`,
        ),
      );
    }
    const cond = conditionOf(status.conditions, 'Progressing');
    const complete =
      status.replicas === status.updatedReplicas &&
      cond?.reason === progressReasons.newReplicaSetAvailable;
    if (complete) return;
    const what = newRs ? `ReplicaSet "${newRs.metadata.name}"` : `Deployment "${d.metadata.name}"`;
    const replicas = d.spec.replicas;
    if (
      status.updatedReplicas === replicas &&
      status.replicas === replicas &&
      status.availableReplicas === replicas &&
      (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 1)
    ) {
      setCondition(
        status,
        newCondition(
          'Progressing',
          'True',
          progressReasons.newReplicaSetAvailable,
          `${what} has successfully progressed.`,
        ),
      );
      return;
    }
    const progressed =
      (status.updatedReplicas ?? 0) > (previous.updatedReplicas ?? 0) ||
      (status.replicas ?? 0) < (previous.replicas ?? 0) ||
      (status.readyReplicas ?? 0) > (previous.readyReplicas ?? 0) ||
      (status.availableReplicas ?? 0) > (previous.availableReplicas ?? 0);
    if (progressed) {
      const condition = newCondition(
        'Progressing',
        'True',
        progressReasons.replicaSetUpdated,
        `${what} is progressing.`,
      );
      if (cond?.status === 'True') condition.lastTransitionTime = cond.lastTransitionTime;
      status.conditions = [
        ...(status.conditions ?? []).filter((c) => c.type !== 'Progressing'),
        condition,
      ];
      return;
    }
    if (!cond || cond.reason === progressReasons.newReplicaSetAvailable) return;
    const timedOut =
      cond.reason === progressReasons.timedOut ||
      Date.parse(cond.lastUpdateTime ?? '') + d.spec.progressDeadlineSeconds * 1000 < now;
    if (timedOut) {
      setCondition(
        status,
        newCondition(
          'Progressing',
          'False',
          progressReasons.timedOut,
          `${what} has timed out progressing.`,
        ),
      );
    }
  }
}

function randomSuffix(length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}

function podStatus(
  template: PodTemplate,
  start: string,
  podIP: string,
  ready: boolean,
  broken: boolean,
): Record<string, unknown> {
  const flag = ready ? 'True' : 'False';
  return {
    phase: 'Running',
    conditions: [
      {
        type: 'PodReadyToStartContainers',
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: start,
      },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: start },
      { type: 'Ready', status: flag, lastProbeTime: null, lastTransitionTime: timestamp() },
      {
        type: 'ContainersReady',
        status: flag,
        lastProbeTime: null,
        lastTransitionTime: timestamp(),
      },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: start },
    ],
    hostIP: '10.0.0.10',
    hostIPs: [{ ip: '10.0.0.10' }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: start,
    qosClass: 'BestEffort',
    containerStatuses: template.spec.containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready,
      started: !broken,
      restartCount: 0,
      state: broken
        ? {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off restarting failed container ${c.name}`,
            },
          }
        : { running: { startedAt: start } },
    })),
  };
}
