/**
 * canary: a `<deployment>-canary` Deployment beside the stable one, its pods labelled
 * `track: canary` but keeping the stable labels the Service selects, so traffic splits by replica
 * count. Weights move replicas between the two; promotion moves the stable to the new image.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type {
  CanaryWeightInput,
  CanaryWeightResult,
  DryRunResult,
  RollbackInput,
  RollbackResult,
  RolloutPlan,
  RolloutResult,
} from '../../src/core/contracts';
import type { DryRun } from './client';
import {
  Annotation,
  canarySplit,
  imagesOf,
  objectName,
  revisionOf,
  targetContainer,
} from './deployments';
import {
  isTargetDeployment,
  manifestName,
  planCause,
  plannedImage,
  preparedManifest,
} from './plan';
import {
  changeAnnotations,
  revisionBeforeChange,
  scaleDeployment,
  setImage,
  undoToRevision,
  waitForRollout,
  type Waiting,
} from './rollout';

export function canaryName(plan: { deployment: string }): string {
  return `${plan.deployment}-canary`;
}

/** A copy of the stable deployment with the new image, at the given replicas, track=canary. */
function canaryDeployment(
  stable: V1Deployment,
  name: string,
  change: {
    container: string;
    image: string;
    replicas: number;
    annotations: Record<string, string>;
  },
): V1Deployment {
  const spec = stable.spec;
  const template = spec?.template;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: stable.metadata?.namespace,
      labels: { ...stable.metadata?.labels, track: 'canary' },
      annotations: change.annotations,
    },
    spec: {
      replicas: change.replicas,
      selector: {
        ...spec?.selector,
        matchLabels: { ...spec?.selector?.matchLabels, track: 'canary' },
      },
      template: {
        metadata: {
          labels: { ...template?.metadata?.labels, track: 'canary' },
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

/** The stable replica count before the change: recorded on the canary, so retries agree. */
function recordedStableReplicas(
  canary: V1Deployment | undefined,
  changeId: string,
): number | undefined {
  const annotations = canary?.metadata?.annotations ?? {};
  if (annotations[Annotation.changeId] !== changeId) return undefined;
  const replicas = Number(annotations[Annotation.stableReplicas]);
  return Number.isInteger(replicas) && replicas >= 0 ? replicas : undefined;
}

async function applyCanary(
  waiting: Waiting,
  plan: RolloutPlan,
  dryRun: DryRun,
): Promise<RolloutResult> {
  const { api } = waiting;
  const stable = await api.readDeployment(plan.namespace, plan.deployment);
  const container = targetContainer(stable, plan.container);
  const previousImage = imagesOf(stable.spec?.template)[container] ?? '';
  const image = plannedImage(plan, container, previousImage);
  const name = canaryName(plan);
  const existing = await api.findDeployment(plan.namespace, name);
  const stableReplicas =
    recordedStableReplicas(existing, plan.changeId) ?? stable.spec?.replicas ?? 1;

  const written: string[] = [];
  for (const manifest of plan.manifests ?? []) {
    const prepared = preparedManifest(manifest, plan);
    if (isTargetDeployment(prepared, plan)) continue;
    await api.applyManifest(prepared, dryRun);
    written.push(manifestName(prepared));
  }
  await api.applyDeployment(
    canaryDeployment(stable, name, {
      container,
      image,
      replicas: 0,
      annotations: {
        ...changeAnnotations(existing, plan.changeId, planCause(plan, `canary with ${image}`)),
        [Annotation.stableReplicas]: String(stableReplicas),
      },
    }),
    dryRun,
  );
  written.push(objectName('Deployment', name));
  const revision = revisionBeforeChange(stable, plan.changeId);
  return {
    strategy: 'canary',
    canaryDeployment: name,
    stableReplicas,
    previousRevision: revision,
    revision,
    previousImage,
    image,
    appliedObjects: written,
    message: `canary ${plan.namespace}/${name} created at 0 of ${stableReplicas} replicas`,
  };
}

export async function dryRunCanary(waiting: Waiting, plan: RolloutPlan): Promise<DryRunResult> {
  const result = await applyCanary(waiting, plan, 'All');
  return { objects: result.appliedObjects };
}

export async function startCanary(waiting: Waiting, plan: RolloutPlan): Promise<RolloutResult> {
  const result = await applyCanary(waiting, plan, undefined);
  await waitForRollout(waiting, plan.namespace, canaryName(plan));
  return result;
}

async function stableReplicasOf(waiting: Waiting, plan: RolloutPlan, rollout?: RolloutResult) {
  if (rollout?.stableReplicas !== undefined) return rollout.stableReplicas;
  const canary = await waiting.api.findDeployment(plan.namespace, canaryName(plan));
  return recordedStableReplicas(canary, plan.changeId);
}

/** Scales only when the count differs, so repeating a weight writes nothing. */
async function scaleTo(
  waiting: Waiting,
  deployment: V1Deployment,
  replicas: number,
  changeId: string,
): Promise<void> {
  if ((deployment.spec?.replicas ?? 1) === replicas) return;
  await scaleDeployment(
    waiting.api,
    deployment,
    replicas,
    changeId,
    replicas === 0 ? new Date().toISOString() : undefined,
  );
}

export async function setCanaryWeight(
  waiting: Waiting,
  input: CanaryWeightInput,
): Promise<CanaryWeightResult> {
  const { plan, rollout, weight } = input;
  const { api } = waiting;
  const total = (await stableReplicasOf(waiting, plan, rollout)) ?? 1;
  const split = canarySplit(total, weight);
  const canary = await api.readDeployment(plan.namespace, canaryName(plan));
  const stable = await api.readDeployment(plan.namespace, plan.deployment);
  // Whichever side grows goes first, so serving capacity never dips below the total.
  if (split.canary >= (canary.spec?.replicas ?? 0)) {
    await scaleTo(waiting, canary, split.canary, plan.changeId);
    await scaleTo(waiting, stable, split.stable, plan.changeId);
  } else {
    await scaleTo(waiting, stable, split.stable, plan.changeId);
    await scaleTo(waiting, canary, split.canary, plan.changeId);
  }
  await waitForRollout(waiting, plan.namespace, canaryName(plan));
  await waitForRollout(waiting, plan.namespace, plan.deployment);
  return { weight, canaryReplicas: split.canary, stableReplicas: split.stable };
}

export async function promoteCanary(
  waiting: Waiting,
  input: { plan: RolloutPlan; rollout: RolloutResult },
): Promise<RolloutResult> {
  const { plan, rollout } = input;
  const { api } = waiting;
  const total = (await stableReplicasOf(waiting, plan, rollout)) ?? 1;
  const stable = await api.readDeployment(plan.namespace, plan.deployment);
  const container = targetContainer(stable, plan.container);
  const image = rollout.image ?? plannedImage(plan, container, '');
  await setImage(
    api,
    stable,
    {
      changeId: plan.changeId,
      cause: planCause(plan, `promote canary: set image ${container}=${image}`),
      container,
      image,
    },
    { replicas: total },
  );
  const promoted = await waitForRollout(waiting, plan.namespace, plan.deployment);
  const canary = await api.readDeployment(plan.namespace, canaryName(plan));
  await scaleTo(waiting, canary, 0, plan.changeId);
  await waitForRollout(waiting, plan.namespace, canaryName(plan));
  return {
    ...rollout,
    previousRevision: revisionBeforeChange(promoted, plan.changeId),
    revision: revisionOf(promoted),
    image,
    appliedObjects: [
      ...new Set([...rollout.appliedObjects, objectName('Deployment', plan.deployment)]),
    ],
    message: `promoted ${plan.namespace}/${plan.deployment} to ${image} at ${total} replicas; canary scaled to zero`,
  };
}

/**
 * Canary to zero and stable back to its replica count; a stable already promoted is undone to
 * the revision before the change (kubectl skips the undo when its template still matches).
 */
export async function rollbackCanary(
  waiting: Waiting,
  input: RollbackInput,
): Promise<RollbackResult> {
  const { plan, rollout, before } = input;
  const { api } = waiting;
  const total = (await stableReplicasOf(waiting, plan, rollout)) ?? before.replicas;
  const undo = await undoToRevision(
    api,
    plan.namespace,
    plan.deployment,
    rollout?.previousRevision ?? before.revision,
    { changeId: plan.changeId, reason: input.reason, beforeImages: before.images },
  );
  const stable = await api.readDeployment(plan.namespace, plan.deployment);
  await scaleTo(waiting, stable, total, plan.changeId);
  const canary = await api.findDeployment(plan.namespace, canaryName(plan));
  if (canary && canary.metadata?.annotations?.[Annotation.changeId] === plan.changeId) {
    await scaleTo(waiting, canary, 0, plan.changeId);
    await waitForRollout(waiting, plan.namespace, canaryName(plan));
  }
  const restored = await waitForRollout(waiting, plan.namespace, plan.deployment);
  return {
    revision: revisionOf(restored),
    images: imagesOf(restored.spec?.template),
    message: `${undo.message}; ${plan.namespace}/${plan.deployment} at ${total} replicas, canary at zero`,
  };
}
