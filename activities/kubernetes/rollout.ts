/**
 * Rollout mechanics shared by the strategies: waiting for rollout status, history, undo with
 * kubectl's semantics, setting an image and scaling, each safe to repeat.
 */
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { formatDuration } from '../../src/core/change/duration';
import type { RollbackInput, RolloutPlan } from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import type { ClusterApi, DryRun } from './client';
import {
  Annotation,
  imagesOf,
  revisionOf,
  rolloutStatus,
  sameTemplate,
  undoPatch,
} from './deployments';
import { isTransient, transientReadLimit } from './errors';
import { isTargetDeployment, manifestName, preparedManifest } from './plan';
import type { Progress } from './progress';

/** What every wait of one activity shares: the cluster, the heartbeat clock and the deadline. */
export interface Waiting {
  api: ClusterApi;
  progress: Progress;
  pollIntervalMs: number;
  /** The request's rollout timeout, counted from the activity's first attempt. */
  timeoutMs: number;
}

/** Reads the deployment, riding out a few transient failures the way a poll should. */
async function poll(waiting: Waiting, namespace: string, name: string): Promise<V1Deployment> {
  for (let failures = 0; ; ) {
    try {
      return await waiting.api.readDeployment(namespace, name);
    } catch (error) {
      failures += 1;
      if (!isTransient(error) || failures >= transientReadLimit) throw error;
      waiting.progress.report('poll', error instanceof Error ? error.message : String(error));
      await waiting.progress.pause(waiting.pollIntervalMs);
    }
  }
}

/** Where a deployment stands in one wait: there, or still on its way (and what to say then). */
type Standing = { done: true } | { done: false; progress: string; late: string };

/**
 * Polls the deployment until `standing` says it is there, heartbeating under `step`. Past the
 * request's timeout (counted from the first attempt) the rollout fails for good.
 */
async function waitUntil(
  waiting: Waiting,
  namespace: string,
  name: string,
  step: string,
  standing: (deployment: V1Deployment) => Standing,
): Promise<V1Deployment> {
  for (;;) {
    const deployment = await poll(waiting, namespace, name);
    const now = standing(deployment);
    if (now.done) return deployment;
    if (Date.now() >= waiting.progress.startedAt + waiting.timeoutMs) {
      throw ApplicationFailure.nonRetryable(now.late, FailureType.RolloutFailed);
    }
    waiting.progress.report(step, now.progress);
    await waiting.progress.pause(waiting.pollIntervalMs);
  }
}

/**
 * Waits until the deployment is rolled out as `kubectl rollout status` decides, heartbeating its
 * progress. A progress deadline exceeded or the request's timeout fails the rollout for good.
 */
export function waitForRollout(
  waiting: Waiting,
  namespace: string,
  name: string,
): Promise<V1Deployment> {
  return waitUntil(waiting, namespace, name, 'rollout', (deployment) => {
    const status = rolloutStatus(deployment);
    if (status.phase === 'complete') return { done: true };
    if (status.phase === 'failed') {
      throw ApplicationFailure.nonRetryable(
        `rollout of ${namespace}/${name} failed: ${status.message}`,
        FailureType.RolloutFailed,
      );
    }
    return {
      done: false,
      progress: `${namespace}/${name}: ${status.message}`,
      late: `rollout of ${namespace}/${name} did not complete within ${formatDuration(waiting.timeoutMs)}: ${status.message}`,
    };
  });
}

/** Waits until the controller has seen the deployment's latest spec (its revision is current). */
export function waitUntilObserved(
  waiting: Waiting,
  namespace: string,
  name: string,
): Promise<V1Deployment> {
  return waitUntil(waiting, namespace, name, 'observe', (deployment) =>
    (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0)
      ? { done: true }
      : {
          done: false,
          progress: `${namespace}/${name}: waiting for the controller`,
          late: `the deployment controller did not observe ${namespace}/${name} within ${formatDuration(waiting.timeoutMs)}`,
        },
  );
}

export async function replicaSetForRevision(
  api: ClusterApi,
  deployment: V1Deployment,
  revision: number,
): Promise<V1ReplicaSet | undefined> {
  const replicaSets = await api.replicaSetsOf(deployment);
  return replicaSets.find((rs) => revisionOf(rs) === revision);
}

/**
 * The revision the deployment had before this change first wrote to it. The first write records
 * it on the deployment, so a retry (after the revision moved on) still knows it.
 */
export function revisionBeforeChange(deployment: V1Deployment, changeId: string): number {
  const annotations = deployment.metadata?.annotations ?? {};
  if (annotations[Annotation.changeId] === changeId) {
    const recorded = Number(annotations[Annotation.previousRevision]);
    if (Number.isInteger(recorded) && recorded > 0) return recorded;
  }
  return revisionOf(deployment);
}

/**
 * The annotations every changectl write to a deployment carries: the change id and, with it, the
 * revision to return to (so that the two always belong to the same change), and when given the
 * change cause kubectl shows in `rollout history`.
 */
export function changeAnnotations(
  deployment: V1Deployment | undefined,
  changeId: string,
  cause?: string,
): Record<string, string> {
  const annotations: Record<string, string> = {
    [Annotation.changeId]: changeId,
    [Annotation.previousRevision]: String(
      deployment ? revisionBeforeChange(deployment, changeId) : 0,
    ),
  };
  if (cause !== undefined) annotations[Annotation.changeCause] = cause;
  return annotations;
}

/**
 * `kubectl set image`: a strategic merge patch of one container's image (by name), with the
 * change's annotations in the same write so the new ReplicaSet carries them. Setting the image a
 * deployment already has changes nothing, so a retry makes no second ReplicaSet.
 */
export function setImage(
  api: ClusterApi,
  deployment: V1Deployment,
  change: { changeId: string; cause: string; container: string; image: string },
  extra: { replicas?: number; dryRun?: DryRun } = {},
): Promise<V1Deployment> {
  const namespace = deployment.metadata?.namespace ?? '';
  const name = deployment.metadata?.name ?? '';
  const spec: Record<string, unknown> = {
    template: { spec: { containers: [{ name: change.container, image: change.image }] } },
  };
  if (extra.replicas !== undefined) spec.replicas = extra.replicas;
  return api.patchDeployment(
    namespace,
    name,
    'strategic',
    {
      metadata: { annotations: changeAnnotations(deployment, change.changeId, change.cause) },
      spec,
    },
    extra.dryRun,
  );
}

/** Sets the replica count, recording which change did it (and, at zero, when). */
export function scaleDeployment(
  api: ClusterApi,
  deployment: V1Deployment,
  replicas: number,
  changeId: string,
  scaledDownAt?: string,
): Promise<V1Deployment> {
  const annotations: Record<string, string | null> = changeAnnotations(deployment, changeId);
  if (replicas === 0) {
    annotations[Annotation.scaledDownBy] = changeId;
    if (scaledDownAt !== undefined) annotations[Annotation.scaledDownAt] = scaledDownAt;
  } else {
    annotations[Annotation.scaledDownBy] = null;
    annotations[Annotation.scaledDownAt] = null;
  }
  return api.patchDeployment(
    deployment.metadata?.namespace ?? '',
    deployment.metadata?.name ?? '',
    'merge',
    { metadata: { annotations }, spec: { replicas } },
  );
}

export interface UndoOutcome {
  /** Whether this call patched the deployment (false: already there, or already undone). */
  patched: boolean;
  message: string;
}

/**
 * `kubectl rollout undo --to-revision`: copies the revision's pod template (minus the
 * pod-template-hash label) and annotations back into the deployment. Repeating it is safe: the
 * undo patch marks the deployment with the change id, and a template that already matches the
 * revision is left alone, as kubectl leaves it.
 */
export async function undoToRevision(
  api: ClusterApi,
  namespace: string,
  name: string,
  revision: number,
  change: { changeId: string; reason: string; beforeImages: Record<string, string> },
): Promise<UndoOutcome> {
  const deployment = await api.readDeployment(namespace, name);
  if (deployment.metadata?.annotations?.[Annotation.rollbackOf] === change.changeId) {
    // The stamp after the undo may be what an earlier attempt did not live to write.
    await api.stampDeployment(deployment);
    return { patched: false, message: `${namespace}/${name} was already rolled back` };
  }
  if (deployment.spec?.paused) {
    throw ApplicationFailure.nonRetryable(
      `cannot roll back ${namespace}/${name}: the deployment is paused (kubectl rollout resume first)`,
      FailureType.RolloutFailed,
    );
  }
  const target = await replicaSetForRevision(api, deployment, revision);
  if (!target) {
    const current = imagesOf(deployment.spec?.template);
    if (Object.entries(change.beforeImages).every(([c, image]) => current[c] === image)) {
      return {
        patched: false,
        message: `${namespace}/${name} already runs the images from before the change`,
      };
    }
    throw ApplicationFailure.nonRetryable(
      `cannot roll back ${namespace}/${name}: revision ${revision} is no longer in its history`,
      FailureType.RolloutFailed,
    );
  }
  if (sameTemplate(target.spec?.template, deployment.spec?.template)) {
    return {
      patched: false,
      message: `skipped rollback of ${namespace}/${name} (current template already matches revision ${revision})`,
    };
  }
  await api.patchDeployment(
    namespace,
    name,
    'json',
    undoPatch(deployment, target, {
      ...changeAnnotations(deployment, change.changeId),
      [Annotation.rollbackOf]: change.changeId,
      [Annotation.changeCause]: `${change.changeId}: rollback to revision ${revision}: ${change.reason}`,
    }),
  );
  return { patched: true, message: `rolled back ${namespace}/${name} to revision ${revision}` };
}

/** The revision a rollback returns to: the one the rollout started from, else the one before it. */
export function undoChange(api: ClusterApi, input: RollbackInput): Promise<UndoOutcome> {
  const { plan, rollout, before } = input;
  return undoToRevision(
    api,
    plan.namespace,
    plan.deployment,
    rollout?.previousRevision ?? before.revision,
    { changeId: plan.changeId, reason: input.reason, beforeImages: before.images },
  );
}

/** The `kubectl rollout undo` an operator would type to return to `revision`. */
export function undoCommand(namespace: string, name: string, revision: number): string {
  return `kubectl rollout undo deployment/${name} -n ${namespace} --to-revision=${revision}`;
}

/**
 * blueGreen and canary: applies the plan's manifests other than the target Deployment (config,
 * services beside it), whose changes the new Deployment carries instead. Returns what it wrote.
 */
export async function applyBesideTarget(
  api: ClusterApi,
  plan: RolloutPlan,
  dryRun: DryRun,
): Promise<string[]> {
  const written: string[] = [];
  for (const manifest of plan.manifests ?? []) {
    const prepared = preparedManifest(manifest, plan);
    if (isTargetDeployment(prepared, plan)) continue;
    await api.applyManifest(prepared, dryRun);
    written.push(manifestName(prepared));
  }
  return written;
}
