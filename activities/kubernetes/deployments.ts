/**
 * Pure reading of Deployments and ReplicaSets the way kubectl reads them: rollout status,
 * revisions, images, and the template comparison behind `rollout undo`.
 */
import type {
  V1Deployment,
  V1ObjectMeta,
  V1PodTemplateSpec,
  V1ReplicaSet,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { DeploymentState, RevisionInfo } from '../../src/core/contracts';
import { CHANGE_ID_PATTERN } from '../../src/core/change/request';
import { DriftAnnotation, CHANGECTL_MANAGER } from '../../src/core/drift/index';
import { FailureType } from '../../src/core/errors';

export const FIELD_MANAGER = CHANGECTL_MANAGER;

export const Annotation = {
  /** On every object changectl writes. */
  changeId: DriftAnnotation.changeId,
  /** With the change id after every write: the workflow run that wrote, and the spec it left. */
  runId: DriftAnnotation.runId,
  specHash: DriftAnnotation.specHash,
  /** The deployment's revision before the change first touched it; survives retries. */
  previousRevision: 'changectl.dev/previous-revision',
  /** Set by the undo patch, so a retried rollback knows it already happened. */
  rollbackOf: 'changectl.dev/rollback-of',
  /** blueGreen: on the Service, the selector before the switch (JSON). */
  previousSelector: 'changectl.dev/previous-selector',
  previousDeployment: 'changectl.dev/previous-deployment',
  /** canary: the stable deployment's replica count before the change. */
  stableReplicas: 'changectl.dev/stable-replicas',
  /** A deployment scaled to zero by a change, kept for a quick manual switch back. */
  scaledDownBy: 'changectl.dev/scaled-down-by',
  scaledDownAt: 'changectl.dev/scaled-down-at',
  changeCause: 'kubernetes.io/change-cause',
  revision: 'deployment.kubernetes.io/revision',
  restartedAt: 'kubectl.kubernetes.io/restartedAt',
} as const;

export const POD_TEMPLATE_HASH = 'pod-template-hash';

/** Deployment annotations kubectl's undo keeps from the deployment rather than the ReplicaSet. */
const annotationsToSkip = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  Annotation.revision,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export function objectName(kind: string, name: string): string {
  return `${kind}/${name}`;
}

export function revisionOf(object: { metadata?: V1ObjectMeta }): number {
  const text = object.metadata?.annotations?.[Annotation.revision];
  const revision = text === undefined ? NaN : Number(text);
  return Number.isInteger(revision) && revision > 0 ? revision : 0;
}

/** container name → image, from a pod template. */
export function imagesOf(template: V1PodTemplateSpec | undefined): Record<string, string> {
  const images: Record<string, string> = {};
  for (const container of template?.spec?.containers ?? []) {
    images[container.name] = container.image ?? '';
  }
  return images;
}

export function deploymentState(deployment: V1Deployment): DeploymentState {
  return {
    namespace: deployment.metadata?.namespace ?? '',
    name: deployment.metadata?.name ?? '',
    revision: revisionOf(deployment),
    images: imagesOf(deployment.spec?.template),
    replicas: deployment.spec?.replicas ?? 1,
    readyReplicas: deployment.status?.readyReplicas ?? 0,
  };
}

/**
 * The container a change sets the image of: the one named, or the first. A name the template
 * does not have is the request's mistake, so it fails for good.
 */
export function targetContainer(deployment: V1Deployment, wanted: string | undefined): string {
  const names = (deployment.spec?.template?.spec?.containers ?? []).map((c) => c.name);
  const name = wanted ?? names[0];
  if (name === undefined || !names.includes(name)) {
    throw ApplicationFailure.nonRetryable(
      `deployment ${deployment.metadata?.namespace}/${deployment.metadata?.name} has no container '${wanted ?? ''}' (containers: ${names.join(', ') || 'none'})`,
      FailureType.InvalidRequest,
    );
  }
  return name;
}

export type RolloutPhase = 'progressing' | 'complete' | 'failed';

export interface RolloutStatus {
  phase: RolloutPhase;
  /** kubectl's own wording, e.g. "2 of 3 updated replicas are available". */
  message: string;
}

/** `kubectl rollout status` for one Deployment, as a pure function of its status. */
export function rolloutStatus(deployment: V1Deployment): RolloutStatus {
  const name = deployment.metadata?.name ?? '';
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) {
    return { phase: 'progressing', message: 'waiting for deployment spec update to be observed' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      phase: 'failed',
      message: `deployment "${name}" exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}`,
    };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) {
    return {
      phase: 'progressing',
      message: `${updated} out of ${desired} new replicas have been updated`,
    };
  }
  if (total > updated) {
    return {
      phase: 'progressing',
      message: `${total - updated} old replicas are pending termination`,
    };
  }
  if (available < updated) {
    return {
      phase: 'progressing',
      message: `${available} of ${updated} updated replicas are available`,
    };
  }
  return { phase: 'complete', message: `deployment "${name}" successfully rolled out` };
}

/** Whether a ReplicaSet belongs to the deployment (its controller reference). */
export function ownedBy(replicaSet: V1ReplicaSet, deployment: V1Deployment): boolean {
  const uid = deployment.metadata?.uid;
  return (replicaSet.metadata?.ownerReferences ?? []).some(
    (owner) => owner.controller === true && owner.uid === uid,
  );
}

function changeIdOf(annotations: Record<string, string> | undefined): string | undefined {
  const explicit = annotations?.[Annotation.changeId];
  if (explicit) return explicit;
  const prefix = annotations?.[Annotation.changeCause]?.split(':')[0]?.trim();
  return prefix && CHANGE_ID_PATTERN.test(prefix) ? prefix : undefined;
}

/** `kubectl rollout history`, oldest first. */
export function revisionHistory(replicaSets: V1ReplicaSet[]): RevisionInfo[] {
  return replicaSets
    .filter((rs) => revisionOf(rs) > 0)
    .map((rs) => {
      const annotations = rs.metadata?.annotations;
      const info: RevisionInfo = {
        revision: revisionOf(rs),
        images: imagesOf(rs.spec?.template),
      };
      const changeCause = annotations?.[Annotation.changeCause];
      if (changeCause !== undefined) info.changeCause = changeCause;
      const changeId = changeIdOf(annotations);
      if (changeId !== undefined) info.changeId = changeId;
      const created = rs.metadata?.creationTimestamp;
      if (created !== undefined) info.createdAt = new Date(created).toISOString();
      return info;
    })
    .sort((a, b) => a.revision - b.revision);
}

/** JSON with object keys sorted, so equal values print equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const item = (v as Record<string, unknown>)[key];
        if (item !== undefined) sorted[key] = item;
      }
      return sorted;
    }
    return v;
  });
}

/** A ReplicaSet's pod template as a Deployment holds it: without the pod-template-hash label. */
export function templateWithoutHash(template: V1PodTemplateSpec | undefined): V1PodTemplateSpec {
  const copy = JSON.parse(canonicalJson(template ?? {})) as V1PodTemplateSpec;
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH];
  }
  return copy;
}

export function sameTemplate(
  a: V1PodTemplateSpec | undefined,
  b: V1PodTemplateSpec | undefined,
): boolean {
  return canonicalJson(templateWithoutHash(a)) === canonicalJson(templateWithoutHash(b));
}

export type JsonPatchOperation = { op: 'replace' | 'add'; path: string; value: unknown };

/**
 * The patch `kubectl rollout undo` sends: the ReplicaSet's template (minus its hash label) and
 * the ReplicaSet's annotations, keeping the deployment's own bookkeeping annotations; plus
 * changectl's record of who rolled back and why.
 */
export function undoPatch(
  deployment: V1Deployment,
  replicaSet: V1ReplicaSet,
  extraAnnotations: Record<string, string>,
): JsonPatchOperation[] {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(deployment.metadata?.annotations ?? {})) {
    if (annotationsToSkip.has(key)) annotations[key] = value;
  }
  for (const [key, value] of Object.entries(replicaSet.metadata?.annotations ?? {})) {
    if (!annotationsToSkip.has(key)) annotations[key] = value;
  }
  Object.assign(annotations, extraAnnotations);
  return [
    {
      op: 'replace',
      path: '/spec/template',
      value: templateWithoutHash(replicaSet.spec?.template),
    },
    { op: 'replace', path: '/metadata/annotations', value: annotations },
  ];
}

/** The summary kubectl shows in `rollout history` (CHANGE-CAUSE). */
export function changeCause(changeId: string, summary: string): string {
  return `${changeId}: ${summary}`;
}

/**
 * A Deployment beside `source` (a blue/green colour, a canary): a copy of it under another name,
 * with `label` added to its labels, its selector and its pods' labels so that it owns its own
 * pods, and the chosen container running the new image.
 */
export function derivedDeployment(
  source: V1Deployment,
  change: {
    name: string;
    label: Record<string, string>;
    replicas: number | undefined;
    container: string;
    image: string;
    annotations: Record<string, string>;
  },
): V1Deployment {
  const spec = source.spec;
  const template = spec?.template;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: change.name,
      namespace: source.metadata?.namespace,
      labels: { ...source.metadata?.labels, ...change.label },
      annotations: change.annotations,
    },
    spec: {
      replicas: change.replicas,
      selector: {
        ...spec?.selector,
        matchLabels: { ...spec?.selector?.matchLabels, ...change.label },
      },
      template: {
        metadata: {
          labels: { ...template?.metadata?.labels, ...change.label },
          annotations: template?.metadata?.annotations,
        },
        spec: {
          ...template?.spec,
          containers: (template?.spec?.containers ?? []).map((c) =>
            c.name === change.container ? { ...c, image: change.image } : c,
          ),
        },
      },
      strategy: spec?.strategy,
      minReadySeconds: spec?.minReadySeconds,
      revisionHistoryLimit: spec?.revisionHistoryLimit,
      progressDeadlineSeconds: spec?.progressDeadlineSeconds,
    },
  };
}
