/**
 * Kubernetes activities: pre-flight, rollout per strategy, rollback, history and events, through
 * the API (no kubectl). Every write is idempotent, so a retried activity converges on the same
 * cluster state: server-side apply, images set to a value, scale to a count, undo marked by the
 * change id, restarts stamped with the change id. What differs per strategy is in strategy.ts
 * and one file per strategy; this file does the rest the same way for all of them.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type {
  CheckWatchInput,
  CleanupResult,
  DryRunResult,
  KubernetesActivities,
  RollbackInput,
  RollbackReadiness,
  RollbackResult,
  RolloutPlan,
  RolloutResult,
  RolloutTarget,
} from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import { promoteCanary, setCanaryWeight } from './canary';
import { createCheckMeasurer } from './checks';
import { ClusterApi } from './client';
import { deploymentState, rolloutStatus } from './deployments';
import { rollbackNotReady } from './errors';
import { readRecentEvents, readRolloutHistory } from './history';
import { Progress } from './progress';
import type { Waiting } from './rollout';
import { strategyFor } from './strategy';
import { runWatchLoop } from '../watch-loop';

export interface KubernetesActivityOptions {
  /** How often waits poll the API server (default 2s). */
  pollIntervalMs?: number;
}

export function createKubernetesActivities(
  kubeConfig: KubeConfig,
  options: KubernetesActivityOptions = {},
): KubernetesActivities {
  const api = new ClusterApi(kubeConfig);
  const checks = createCheckMeasurer(kubeConfig);
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;

  const waiting = (timeoutMs: number): Waiting => ({
    api,
    progress: new Progress(),
    pollIntervalMs,
    timeoutMs,
  });

  return {
    async checkRollbackReadiness(target: RolloutTarget): Promise<RollbackReadiness> {
      const { namespace } = target;
      const serving = await strategyFor(target.strategy).status(api, target);
      const name = serving.deployment;
      const deployment = await api.findDeployment(namespace, name);
      if (!deployment) throw rollbackNotReady(`deployment ${namespace}/${name} not found`);
      if (deployment.spec?.paused) {
        throw rollbackNotReady(
          `deployment ${namespace}/${name} is paused; rollout undo refuses paused deployments`,
        );
      }
      const status = rolloutStatus(deployment);
      if (status.phase === 'failed')
        throw rollbackNotReady(`deployment ${namespace}/${name}: ${status.message}`);
      if (status.phase === 'progressing') {
        // Usually settles within seconds (a rollout ending, the controller catching up): retried.
        throw ApplicationFailure.retryable(
          `deployment ${namespace}/${name} is mid-rollout: ${status.message}`,
          FailureType.RollbackNotReady,
        );
      }
      const current = deploymentState(deployment);
      if (current.revision === 0) {
        throw rollbackNotReady(`deployment ${namespace}/${name} has no revision to return to`);
      }
      return { current, rollbackCommand: serving.rollbackCommand(current) };
    },

    async dryRunRollout(plan: RolloutPlan): Promise<DryRunResult> {
      checkPlan(plan);
      return strategyFor(plan.strategy).dryRun(waiting(plan.timeoutMs), plan);
    },

    async startRollout(plan: RolloutPlan): Promise<RolloutResult> {
      checkPlan(plan);
      return strategyFor(plan.strategy).apply(waiting(plan.timeoutMs), plan);
    },

    setCanaryWeight: (input) => setCanaryWeight(waiting(input.plan.timeoutMs), input),

    promoteCanary: (input) => promoteCanary(waiting(input.plan.timeoutMs), input),

    async rollbackRollout(input: RollbackInput): Promise<RollbackResult> {
      return strategyFor(input.plan.strategy).rollback(waiting(input.plan.timeoutMs), input);
    },

    async finalizeRollout(input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<void> {
      return strategyFor(input.plan.strategy).finalize(waiting(input.plan.timeoutMs), input);
    },

    async cleanupRollout(input: {
      plan: RolloutPlan;
      rollout: RolloutResult;
    }): Promise<CleanupResult> {
      const strategy = strategyFor(input.plan.strategy);
      if (!strategy.cleanup) return { deleted: [], message: 'nothing to clean up' };
      return strategy.cleanup(waiting(input.plan.timeoutMs), input);
    },

    watchChecks: (input: CheckWatchInput) =>
      runWatchLoop(input, (at) => checks.measureRound(input, at)),

    rolloutHistory: (input) => readRolloutHistory(api, input),

    recentEvents: (input) => readRecentEvents(api, input),
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
