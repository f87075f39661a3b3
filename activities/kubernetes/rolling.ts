/**
 * rolling: the Deployment's own rolling update. A change sets the image (or applies the
 * manifests, restarting when only config changed) and waits for rollout status; rollback is
 * `kubectl rollout undo` to the revision before the change.
 */
import type {
  DryRunResult,
  RollbackInput,
  RollbackResult,
  RolloutPlan,
  RolloutResult,
  RolloutTarget,
} from '../../src/core/contracts';
import type { ClusterApi } from './client';
import { Annotation, imagesOf, objectName, revisionOf, targetContainer } from './deployments';
import { manifestName, planCause, preparedManifest } from './plan';
import {
  changeAnnotations,
  replicaSetForRevision,
  revisionBeforeChange,
  setImage,
  undoChange,
  undoCommand,
  waitForRollout,
  waitUntilObserved,
  type Waiting,
} from './rollout';
import type { Serving, Strategy } from './strategy';

async function imageAtRevision(
  api: ClusterApi,
  namespace: string,
  name: string,
  revision: number,
  container: string,
): Promise<string | undefined> {
  const deployment = await api.readDeployment(namespace, name);
  if (revisionOf(deployment) === revision) return imagesOf(deployment.spec?.template)[container];
  const replicaSet = await replicaSetForRevision(api, deployment, revision);
  return replicaSet ? imagesOf(replicaSet.spec?.template)[container] : undefined;
}

async function dryRunRolling({ api }: Waiting, plan: RolloutPlan): Promise<DryRunResult> {
  const objects: string[] = [];
  if (plan.image !== undefined) {
    const deployment = await api.readDeployment(plan.namespace, plan.deployment);
    const container = targetContainer(deployment, plan.container);
    const cause = planCause(plan, `set image ${container}=${plan.image}`);
    await api.applyDeployment(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: plan.deployment,
          namespace: plan.namespace,
          annotations: changeAnnotations(deployment, plan.changeId, cause),
        },
        spec: {
          template: { spec: { containers: [{ name: container, image: plan.image }] } },
        },
      },
      'All',
    );
    objects.push(objectName('Deployment', plan.deployment));
  }
  for (const manifest of plan.manifests ?? []) {
    const prepared = preparedManifest(manifest, plan);
    await api.applyManifest(prepared, 'All');
    objects.push(manifestName(prepared));
  }
  return { objects };
}

async function startRolling(w: Waiting, plan: RolloutPlan): Promise<RolloutResult> {
  const { api } = w;
  const { namespace, deployment: name, changeId } = plan;
  const before = await api.readDeployment(namespace, name);
  const container = targetContainer(before, plan.container);
  const previousRevision = revisionBeforeChange(before, changeId);
  const previousImage =
    (await imageAtRevision(api, namespace, name, previousRevision, container)) ??
    imagesOf(before.spec?.template)[container];
  const applied: string[] = [];

  if (plan.image !== undefined) {
    const cause = planCause(plan, `set image ${container}=${plan.image}`);
    await setImage(api, before, { changeId, cause, container, image: plan.image });
  } else {
    const written = (plan.manifests ?? []).map((m) => preparedManifest(m, plan));
    const cause = planCause(plan, `apply ${written.map(manifestName).join(', ')}`);
    // Before the manifests, so that a new ReplicaSet is created with the change's annotations.
    await api.patchDeployment(namespace, name, 'merge', {
      metadata: { annotations: changeAnnotations(before, changeId, cause) },
    });
    for (const manifest of written) {
      await api.applyManifest(manifest);
      applied.push(manifestName(manifest));
    }
    const observed = await waitUntilObserved(w, namespace, name);
    if (revisionOf(observed) === previousRevision) {
      // Config only: restart as `kubectl rollout restart` does so the pods read the new
      // config, stamped with the change id rather than the time so a retry does not restart again.
      await api.patchDeployment(namespace, name, 'strategic', {
        spec: { template: { metadata: { annotations: { [Annotation.restartedAt]: changeId } } } },
      });
    }
  }
  const target = objectName('Deployment', name);
  if (!applied.includes(target)) applied.push(target);

  const after = await waitForRollout(w, namespace, name);
  const revision = revisionOf(after);
  const image = imagesOf(after.spec?.template)[container];
  return {
    strategy: 'rolling',
    previousRevision,
    revision,
    ...(previousImage !== undefined ? { previousImage } : {}),
    ...(image !== undefined ? { image } : {}),
    appliedObjects: applied,
    message:
      revision === previousRevision
        ? `${namespace}/${name} already at revision ${revision}; nothing to roll out`
        : `${namespace}/${name} rolled out: revision ${previousRevision} → ${revision}`,
  };
}

async function rollbackRolling(w: Waiting, input: RollbackInput): Promise<RollbackResult> {
  const { plan } = input;
  const undo = await undoChange(w.api, input);
  const restored = await waitForRollout(w, plan.namespace, plan.deployment);
  return {
    revision: revisionOf(restored),
    images: imagesOf(restored.spec?.template),
    message: undo.message,
  };
}

/** The target Deployment serves; undoing by hand is `kubectl rollout undo` to its revision. */
function servingDeployment(_api: ClusterApi, target: RolloutTarget): Promise<Serving> {
  const { namespace, deployment } = target;
  return Promise.resolve({
    deployment,
    rollbackCommand: (current) => undoCommand(namespace, deployment, current.revision),
  });
}

export const rolling: Strategy = {
  status: servingDeployment,
  dryRun: dryRunRolling,
  apply: startRolling,
  // The rollout replaced the old pods already: nothing is left to do.
  finalize: () => Promise.resolve(),
  rollback: rollbackRolling,
};
