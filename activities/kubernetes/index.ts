/**
 * Kubernetes activities: pre-flight, rollout per strategy, rollback, history and events, through
 * the API (no kubectl). Every write is idempotent, so a retried activity converges on the same
 * cluster state: server-side apply, images set to a value, scale to a count, undo marked by the
 * change id, restarts stamped with the change id.
 */
import type { CoreV1Event, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type {
  DryRunResult,
  EventInfo,
  KubernetesActivities,
  RollbackReadiness,
  RolloutPlan,
  RolloutResult,
  RolloutTarget,
  RollbackInput,
  RollbackResult,
} from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import {
  dryRunBlueGreen,
  finalizeBlueGreen,
  rollbackBlueGreen,
  startBlueGreen,
} from './blue-green';
import {
  canaryName,
  dryRunCanary,
  promoteCanary,
  rollbackCanary,
  setCanaryWeight,
  startCanary,
} from './canary';
import { ClusterApi } from './client';
import {
  Annotation,
  blueGreenNames,
  deploymentState,
  imagesOf,
  objectName,
  revisionHistory,
  revisionOf,
  rolloutStatus,
  targetContainer,
} from './deployments';
import { manifestName, planCause, preparedManifest } from './plan';
import { Progress } from './progress';
import {
  changeAnnotations,
  replicaSetForRevision,
  revisionBeforeChange,
  setImage,
  undoToRevision,
  waitForRollout,
  waitUntilObserved,
  type Waiting,
} from './rollout';

export interface KubernetesActivityOptions {
  /** How often waits poll the API server (default 2s). */
  pollIntervalMs?: number;
}

// Values below a year are a look-back window rather than an instant (see recentEvents).
const yearMs = 365 * 24 * 3600 * 1000;

export function createKubernetesActivities(
  kubeConfig: KubeConfig,
  options: KubernetesActivityOptions = {},
): KubernetesActivities {
  const api = new ClusterApi(kubeConfig);
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;

  const waiting = (timeoutMs: number): Waiting => ({
    api,
    progress: new Progress(),
    pollIntervalMs,
    timeoutMs,
  });

  const notReady = (message: string) =>
    ApplicationFailure.nonRetryable(message, FailureType.RollbackNotReady);

  async function imageAtRevision(
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

  async function dryRunRolling(plan: RolloutPlan): Promise<DryRunResult> {
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
    const { namespace, deployment: name, changeId } = plan;
    const before = await api.readDeployment(namespace, name);
    const container = targetContainer(before, plan.container);
    const previousRevision = revisionBeforeChange(before, changeId);
    const previousImage =
      (await imageAtRevision(namespace, name, previousRevision, container)) ??
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
    const { plan, rollout, before } = input;
    const undo = await undoToRevision(
      api,
      plan.namespace,
      plan.deployment,
      rollout?.previousRevision ?? before.revision,
      { changeId: plan.changeId, reason: input.reason, beforeImages: before.images },
    );
    const restored = await waitForRollout(w, plan.namespace, plan.deployment);
    return {
      revision: revisionOf(restored),
      images: imagesOf(restored.spec?.template),
      message: undo.message,
    };
  }

  return {
    async checkRollbackReadiness(target: RolloutTarget): Promise<RollbackReadiness> {
      const { namespace, strategy } = target;
      let name = target.deployment;
      let selector: Record<string, string> | undefined;
      const serviceName = target.service ?? target.deployment;
      if (strategy === 'blueGreen') {
        const service = await api.findService(namespace, serviceName);
        if (!service) {
          throw notReady(
            `service ${namespace}/${serviceName} not found: blue/green switches its selector`,
          );
        }
        selector = service.spec?.selector ?? {};
        name = blueGreenNames(target.deployment, selector).active;
      }
      const deployment = await api.findDeployment(namespace, name);
      if (!deployment) throw notReady(`deployment ${namespace}/${name} not found`);
      if (deployment.spec?.paused) {
        throw notReady(
          `deployment ${namespace}/${name} is paused; rollout undo refuses paused deployments`,
        );
      }
      const status = rolloutStatus(deployment);
      if (status.phase === 'failed')
        throw notReady(`deployment ${namespace}/${name}: ${status.message}`);
      if (status.phase === 'progressing') {
        // Usually settles within seconds (a rollout ending, the controller catching up): retried.
        throw ApplicationFailure.retryable(
          `deployment ${namespace}/${name} is mid-rollout: ${status.message}`,
          FailureType.RollbackNotReady,
        );
      }
      const current = deploymentState(deployment);
      if (current.revision === 0) {
        throw notReady(`deployment ${namespace}/${name} has no revision to return to`);
      }
      const undo = `kubectl rollout undo deployment/${name} -n ${namespace} --to-revision=${current.revision}`;
      let rollbackCommand = undo;
      if (selector) {
        const patch = JSON.stringify([{ op: 'replace', path: '/spec/selector', value: selector }]);
        rollbackCommand = `kubectl patch service/${serviceName} -n ${namespace} --type=json -p '${patch}'`;
      } else if (strategy === 'canary') {
        rollbackCommand = [
          `kubectl scale deployment/${canaryName(target)} -n ${namespace} --replicas=0`,
          `kubectl scale deployment/${name} -n ${namespace} --replicas=${current.replicas}`,
          undo,
        ].join(' && ');
      }
      return { current, rollbackCommand };
    },

    async dryRunRollout(plan: RolloutPlan): Promise<DryRunResult> {
      checkPlan(plan);
      const w = waiting(plan.timeoutMs);
      if (plan.strategy === 'blueGreen') return dryRunBlueGreen(w, plan);
      if (plan.strategy === 'canary') return dryRunCanary(w, plan);
      return dryRunRolling(plan);
    },

    async startRollout(plan: RolloutPlan): Promise<RolloutResult> {
      checkPlan(plan);
      const w = waiting(plan.timeoutMs);
      if (plan.strategy === 'blueGreen') return startBlueGreen(w, plan);
      if (plan.strategy === 'canary') return startCanary(w, plan);
      return startRolling(w, plan);
    },

    setCanaryWeight: (input) => setCanaryWeight(waiting(input.plan.timeoutMs), input),

    promoteCanary: (input) => promoteCanary(waiting(input.plan.timeoutMs), input),

    async rollbackRollout(input: RollbackInput): Promise<RollbackResult> {
      const w = waiting(input.plan.timeoutMs);
      if (input.plan.strategy === 'blueGreen') return rollbackBlueGreen(w, input);
      if (input.plan.strategy === 'canary') return rollbackCanary(w, input);
      return rollbackRolling(w, input);
    },

    async finalizeRollout(input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<void> {
      if (input.plan.strategy === 'blueGreen') {
        await finalizeBlueGreen(waiting(input.plan.timeoutMs), input);
      }
    },

    async rolloutHistory(input: { namespace: string; deployment: string }) {
      const deployment = await api.readDeployment(input.namespace, input.deployment);
      return revisionHistory(await api.replicaSetsOf(deployment));
    },

    /**
     * Events in the namespace since `sinceMs` (epoch ms), oldest first; a value under a year is
     * taken as a window back from now. `names` narrows to those objects and the ReplicaSets and
     * pods named after them.
     */
    async recentEvents(input: { namespace: string; sinceMs: number; names?: string[] }) {
      const since = input.sinceMs < yearMs ? Date.now() - input.sinceMs : input.sinceMs;
      const names = input.names;
      const concerns = (object: string) =>
        !names || names.some((n) => object === n || object.startsWith(`${n}-`));
      return (await api.listEvents(input.namespace))
        .map((event) => ({ event, at: eventTime(event) }))
        .filter(({ event, at }) => at >= since && concerns(event.involvedObject?.name ?? ''))
        .sort((a, b) => a.at - b.at)
        .map(
          ({ event, at }): EventInfo => ({
            at: new Date(at).toISOString(),
            type: event.type ?? 'Normal',
            reason: event.reason ?? '',
            object: objectName(event.involvedObject?.kind ?? '', event.involvedObject?.name ?? ''),
            message: event.message ?? '',
          }),
        );
    },
  };
}

function checkPlan(plan: RolloutPlan): void {
  if ((plan.image === undefined) === (plan.manifests === undefined)) {
    throw ApplicationFailure.nonRetryable(
      `change ${plan.changeId}: a rollout needs exactly one of image and manifests`,
      FailureType.InvalidRequest,
    );
  }
}

function eventTime(event: CoreV1Event): number {
  const at =
    event.lastTimestamp ??
    event.eventTime ??
    event.firstTimestamp ??
    event.metadata?.creationTimestamp;
  return at === undefined ? 0 : new Date(at).getTime();
}
