/**
 * blueGreen: the Service's selector chooses the colour that serves. A change applies the other
 * colour beside it, waits until it is ready, and switches the selector; rollback switches back.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type {
  CleanupResult,
  DryRunResult,
  RollbackInput,
  RollbackResult,
  RolloutPlan,
  RolloutResult,
  RolloutTarget,
} from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import type { ClusterApi, DryRun } from './client';
import {
  Annotation,
  derivedDeployment,
  imagesOf,
  objectName,
  targetContainer,
} from './deployments';
import { rollbackNotReady } from './errors';
import { planCause, plannedImage } from './plan';
import {
  applyBesideTarget,
  changeAnnotations,
  scaleDeployment,
  waitForRollout,
  type Waiting,
} from './rollout';
import type { Serving, Strategy } from './strategy';

export type Colour = 'blue' | 'green';

export interface BlueGreenNames {
  /** The deployment the Service selects now. */
  active: string;
  /** The deployment the change creates. */
  next: string;
  nextColour: Colour;
}

/**
 * Which colour serves and which the change creates. A Service without a `color` in its selector
 * serves the original, uncoloured deployment, and the first new colour is green.
 */
export function blueGreenNames(base: string, selector: Record<string, string>): BlueGreenNames {
  const colour = selector.color;
  if (colour === undefined) return { active: base, next: `${base}-green`, nextColour: 'green' };
  if (colour === 'blue')
    return { active: `${base}-blue`, next: `${base}-green`, nextColour: 'green' };
  if (colour === 'green')
    return { active: `${base}-green`, next: `${base}-blue`, nextColour: 'blue' };
  throw ApplicationFailure.nonRetryable(
    `the Service selects color '${colour}'; blue/green rollouts switch between 'blue' and 'green'`,
    FailureType.InvalidRequest,
  );
}

/** A merge patch that turns selector `from` into selector `to` (null removes a key). */
export function selectorPatch(
  from: Record<string, string>,
  to: Record<string, string>,
): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...to };
  for (const key of Object.keys(from)) {
    if (!(key in to)) patch[key] = null;
  }
  return patch;
}

function serviceOf(plan: RolloutTarget): string {
  return plan.service ?? plan.deployment;
}

/** What a switch recorded on the Service, when this change made it. */
function switchRecord(
  service: V1Service,
  changeId: string,
): { selector: Record<string, string>; deployment: string } | undefined {
  const annotations = service.metadata?.annotations ?? {};
  const recorded = annotations[Annotation.previousSelector];
  const deployment = annotations[Annotation.previousDeployment];
  if (annotations[Annotation.changeId] !== changeId || !recorded || !deployment) return undefined;
  return { selector: JSON.parse(recorded) as Record<string, string>, deployment };
}

/**
 * Deletes the colours an earlier change scaled to zero (the original deployment included), so the
 * new colour starts clean and old colours do not pile up.
 */
async function deleteRetiredColours(
  waiting: Waiting,
  plan: RolloutPlan,
  active: string,
): Promise<string[]> {
  const { api } = waiting;
  const deleted: string[] = [];
  for (const name of [plan.deployment, `${plan.deployment}-blue`, `${plan.deployment}-green`]) {
    if (name === active) continue;
    const deployment = await api.findDeployment(plan.namespace, name);
    const retiredBy = deployment?.metadata?.annotations?.[Annotation.scaledDownBy];
    if (!deployment || !retiredBy || retiredBy === plan.changeId) continue;
    if ((deployment.spec?.replicas ?? 0) !== 0) continue;
    await api.deleteDeployment(plan.namespace, name);
    while (await api.findDeployment(plan.namespace, name)) {
      waiting.progress.report('delete', `waiting for ${plan.namespace}/${name} to be deleted`);
      await waiting.progress.pause(waiting.pollIntervalMs);
    }
    deleted.push(name);
  }
  return deleted;
}

interface ColourPlan {
  service: V1Service;
  selector: Record<string, string>;
  active: V1Deployment;
  next: string;
  nextColour: Colour;
  container: string;
  image: string;
  previousImage: string;
}

async function planColours(waiting: Waiting, plan: RolloutPlan): Promise<ColourPlan> {
  const service = await waiting.api.readService(plan.namespace, serviceOf(plan));
  const selector = service.spec?.selector ?? {};
  const names = blueGreenNames(plan.deployment, selector);
  const active = await waiting.api.readDeployment(plan.namespace, names.active);
  const container = targetContainer(active, plan.container);
  const previousImage = imagesOf(active.spec?.template)[container] ?? '';
  return {
    service,
    selector,
    active,
    next: names.next,
    nextColour: names.nextColour,
    container,
    image: plannedImage(plan, container, previousImage),
    previousImage,
  };
}

async function applyColour(
  waiting: Waiting,
  plan: RolloutPlan,
  colours: ColourPlan,
  dryRun: DryRun,
): Promise<string[]> {
  const { api } = waiting;
  const written = await applyBesideTarget(api, plan, dryRun);
  const existing = await api.findDeployment(plan.namespace, colours.next);
  const cause = planCause(plan, `blue/green ${colours.nextColour} with ${colours.image}`);
  await api.applyDeployment(
    derivedDeployment(colours.active, {
      name: colours.next,
      label: { color: colours.nextColour },
      replicas: colours.active.spec?.replicas,
      container: colours.container,
      image: colours.image,
      annotations: changeAnnotations(existing, plan.changeId, cause),
    }),
    dryRun,
  );
  written.push(objectName('Deployment', colours.next));
  return written;
}

function switchPatch(colours: ColourPlan, changeId: string): Record<string, unknown> {
  return {
    metadata: {
      annotations: {
        [Annotation.changeId]: changeId,
        [Annotation.previousSelector]: JSON.stringify(colours.selector),
        [Annotation.previousDeployment]: colours.active.metadata?.name ?? '',
      },
    },
    spec: {
      selector: selectorPatch(colours.selector, {
        ...colours.selector,
        color: colours.nextColour,
      }),
    },
  };
}

async function dryRunBlueGreen(waiting: Waiting, plan: RolloutPlan): Promise<DryRunResult> {
  const colours = await planColours(waiting, plan);
  const objects = await applyColour(waiting, plan, colours, 'All');
  const serviceName = serviceOf(plan);
  await waiting.api.patchService(
    plan.namespace,
    serviceName,
    switchPatch(colours, plan.changeId),
    'All',
  );
  return { objects: [...objects, objectName('Service', serviceName)] };
}

async function startBlueGreen(waiting: Waiting, plan: RolloutPlan): Promise<RolloutResult> {
  const { api } = waiting;
  const serviceName = serviceOf(plan);
  const service = await api.readService(plan.namespace, serviceName);
  const switched = switchRecord(service, plan.changeId);
  if (switched) {
    // An earlier attempt of this change switched already: report what it did, making sure the
    // Service carries the stamp that attempt may not have lived to write.
    await api.stampService(service);
    const active = blueGreenNames(plan.deployment, service.spec?.selector ?? {}).active;
    const serving = await waitForRollout(waiting, plan.namespace, active);
    const previous = await api.findDeployment(plan.namespace, switched.deployment);
    const container = targetContainer(serving, plan.container);
    return {
      strategy: 'blueGreen',
      activeDeployment: active,
      previousDeployment: switched.deployment,
      previousSelector: switched.selector,
      image: imagesOf(serving.spec?.template)[container] ?? '',
      previousImage: imagesOf(previous?.spec?.template)[container] ?? '',
      appliedObjects: [objectName('Deployment', active), objectName('Service', serviceName)],
      message: `Service ${plan.namespace}/${serviceName} already switched to ${active}`,
    };
  }

  const colours = await planColours(waiting, plan);
  const deleted = await deleteRetiredColours(waiting, plan, colours.active.metadata?.name ?? '');
  const written = await applyColour(waiting, plan, colours, undefined);
  waiting.progress.report('rollout', `waiting for ${colours.next} to be ready`);
  await waitForRollout(waiting, plan.namespace, colours.next);
  await api.patchService(plan.namespace, serviceName, switchPatch(colours, plan.changeId));
  const activeName = colours.active.metadata?.name ?? '';
  return {
    strategy: 'blueGreen',
    activeDeployment: colours.next,
    previousDeployment: activeName,
    previousSelector: colours.selector,
    image: colours.image,
    previousImage: colours.previousImage,
    appliedObjects: [...written, objectName('Service', serviceName)],
    message:
      `Service ${plan.namespace}/${serviceName} switched from ${activeName} to ${colours.next}` +
      (deleted.length ? `; deleted retired ${deleted.join(', ')}` : ''),
  };
}

/** The colour this change created, when the rollout did not report it. */
async function colourOfChange(
  waiting: Waiting,
  plan: RolloutPlan,
  serving: string,
): Promise<string | undefined> {
  for (const name of [`${plan.deployment}-blue`, `${plan.deployment}-green`]) {
    if (name === serving) continue;
    const deployment = await waiting.api.findDeployment(plan.namespace, name);
    if (deployment?.metadata?.annotations?.[Annotation.changeId] === plan.changeId) return name;
  }
  return undefined;
}

async function rollbackBlueGreen(waiting: Waiting, input: RollbackInput): Promise<RollbackResult> {
  const { api } = waiting;
  const { plan, rollout } = input;
  const serviceName = serviceOf(plan);
  const service = await api.readService(plan.namespace, serviceName);
  const selector = service.spec?.selector ?? {};
  const recorded = switchRecord(service, plan.changeId);
  const previousSelector = rollout?.previousSelector ?? recorded?.selector;
  const previous = rollout?.previousDeployment ?? recorded?.deployment ?? input.before.name;
  const created =
    rollout?.activeDeployment ??
    (recorded
      ? blueGreenNames(plan.deployment, recorded.selector).next
      : await colourOfChange(waiting, plan, blueGreenNames(plan.deployment, selector).active));

  // Capacity first: the colour that will serve again must be up before traffic returns to it.
  const previousDeployment = await api.readDeployment(plan.namespace, previous);
  if ((previousDeployment.spec?.replicas ?? 0) === 0 && input.before.replicas > 0) {
    await scaleDeployment(api, previousDeployment, input.before.replicas, plan.changeId);
  }
  const ready = await waitForRollout(waiting, plan.namespace, previous);

  let message = `${plan.namespace}/${previous} serves`;
  if (previousSelector) {
    await api.patchService(plan.namespace, serviceName, {
      metadata: { annotations: { [Annotation.changeId]: plan.changeId } },
      spec: { selector: selectorPatch(selector, previousSelector) },
    });
    message = `Service ${plan.namespace}/${serviceName} switched back to ${previous}`;
  }
  if (created && created !== previous) {
    const colour = await api.findDeployment(plan.namespace, created);
    if (colour && (colour.spec?.replicas ?? 0) > 0) {
      await scaleDeployment(api, colour, 0, plan.changeId, new Date().toISOString());
    }
    if (colour) {
      await waitForRollout(waiting, plan.namespace, created);
      message += `; ${created} scaled to zero`;
    }
  }
  return { images: imagesOf(ready.spec?.template), message };
}

/** After a successful watch: the old colour goes to zero, kept for a quick manual switch back. */
async function finalizeBlueGreen(
  waiting: Waiting,
  input: { plan: RolloutPlan; rollout: RolloutResult },
): Promise<void> {
  const { plan, rollout } = input;
  const old = rollout.previousDeployment;
  if (!old || old === rollout.activeDeployment) return;
  const deployment = await waiting.api.findDeployment(plan.namespace, old);
  if (!deployment) return;
  if ((deployment.spec?.replicas ?? 0) > 0) {
    await scaleDeployment(waiting.api, deployment, 0, plan.changeId, new Date().toISOString());
  }
  await waitForRollout(waiting, plan.namespace, old);
}

/**
 * The seed's cleanup, after its delay: deletes the old colour the watch's end scaled to zero.
 * Only that one: a colour scaled up again (a rollback), selected by the Service, or retired by
 * another change stays.
 */
async function cleanupBlueGreen(
  waiting: Waiting,
  input: { plan: RolloutPlan; rollout: RolloutResult },
): Promise<CleanupResult> {
  const { api } = waiting;
  const { plan, rollout } = input;
  const old = rollout.previousDeployment;
  if (!old || old === rollout.activeDeployment) {
    return { deleted: [], message: 'no old colour to delete' };
  }
  const service = await api.readService(plan.namespace, serviceOf(plan));
  const serving = blueGreenNames(plan.deployment, service.spec?.selector ?? {}).active;
  const deployment = await api.findDeployment(plan.namespace, old);
  if (!deployment) return { deleted: [], message: `${plan.namespace}/${old} is already gone` };
  const retiredBy = deployment.metadata?.annotations?.[Annotation.scaledDownBy];
  if (serving === old || retiredBy !== plan.changeId || (deployment.spec?.replicas ?? 0) !== 0) {
    return {
      deleted: [],
      message: `${plan.namespace}/${old} kept: ${serving === old ? 'the Service selects it' : 'it is no longer the colour this change scaled to zero'}`,
    };
  }
  await api.deleteDeployment(plan.namespace, old);
  while (await api.findDeployment(plan.namespace, old)) {
    waiting.progress.report('delete', `waiting for ${plan.namespace}/${old} to be deleted`);
    await waiting.progress.pause(waiting.pollIntervalMs);
  }
  return { deleted: [objectName('Deployment', old)], message: `deleted ${plan.namespace}/${old}` };
}

/** The colour the Service selects now serves; undoing by hand puts its selector back. */
async function servingColour(api: ClusterApi, target: RolloutTarget): Promise<Serving> {
  const { namespace } = target;
  const serviceName = serviceOf(target);
  const service = await api.findService(namespace, serviceName);
  if (!service) {
    throw rollbackNotReady(
      `service ${namespace}/${serviceName} not found: blue/green switches its selector`,
    );
  }
  const selector = service.spec?.selector ?? {};
  const patch = JSON.stringify([{ op: 'replace', path: '/spec/selector', value: selector }]);
  return {
    deployment: blueGreenNames(target.deployment, selector).active,
    rollbackCommand: () =>
      `kubectl patch service/${serviceName} -n ${namespace} --type=json -p '${patch}'`,
  };
}

export const blueGreen: Strategy = {
  status: servingColour,
  dryRun: dryRunBlueGreen,
  apply: startBlueGreen,
  finalize: finalizeBlueGreen,
  cleanup: cleanupBlueGreen,
  rollback: rollbackBlueGreen,
};
