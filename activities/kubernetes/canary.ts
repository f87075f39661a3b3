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
  RolloutTarget,
} from '../../src/core/contracts';
import type { ClusterApi, DryRun } from './client';
import {
  Annotation,
  derivedDeployment,
  imagesOf,
  objectName,
  revisionOf,
  targetContainer,
} from './deployments';
import { planCause, plannedImage } from './plan';
import {
  applyBesideTarget,
  changeAnnotations,
  revisionBeforeChange,
  scaleDeployment,
  setImage,
  undoChange,
  undoCommand,
  waitForRollout,
  type Waiting,
} from './rollout';
import type { Serving, Strategy } from './strategy';

export function canaryName(plan: { deployment: string }): string {
  return `${plan.deployment}-canary`;
}

/** canary: replicas per weight out of the stable deployment's original count. */
export function canarySplit(
  stableReplicas: number,
  weight: number,
): { canary: number; stable: number } {
  const canary = weight <= 0 ? 0 : Math.ceil((stableReplicas * weight) / 100);
  const stable = weight >= 100 ? 0 : Math.max(1, stableReplicas - canary);
  return { canary, stable };
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

  const written = await applyBesideTarget(api, plan, dryRun);
  await api.applyDeployment(
    derivedDeployment(stable, {
      name,
      label: { track: 'canary' },
      replicas: 0,
      container,
      image,
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

async function dryRunCanary(waiting: Waiting, plan: RolloutPlan): Promise<DryRunResult> {
  const result = await applyCanary(waiting, plan, 'All');
  return { objects: result.appliedObjects };
}

async function startCanary(waiting: Waiting, plan: RolloutPlan): Promise<RolloutResult> {
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
async function rollbackCanary(waiting: Waiting, input: RollbackInput): Promise<RollbackResult> {
  const { plan, rollout, before } = input;
  const { api } = waiting;
  const total = (await stableReplicasOf(waiting, plan, rollout)) ?? before.replicas;
  const undo = await undoChange(api, input);
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

/**
 * The stable deployment serves; undoing by hand takes the canary to zero, the stable back to its
 * replicas, and the stable back to its revision.
 */
function servingStable(_api: ClusterApi, target: RolloutTarget): Promise<Serving> {
  const { namespace, deployment: name } = target;
  return Promise.resolve({
    deployment: name,
    rollbackCommand: (current) =>
      [
        `kubectl scale deployment/${canaryName(target)} -n ${namespace} --replicas=0`,
        `kubectl scale deployment/${name} -n ${namespace} --replicas=${current.replicas}`,
        undoCommand(namespace, name, current.revision),
      ].join(' && '),
  });
}

export const canary: Strategy = {
  status: servingStable,
  dryRun: dryRunCanary,
  apply: startCanary,
  // Promotion (promoteCanary) already scaled the canary to zero: nothing is left to do.
  finalize: () => Promise.resolve(),
  rollback: rollbackCanary,
};
