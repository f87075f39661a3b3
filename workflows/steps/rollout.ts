import { isCancellation, sleep } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import type { RolloutPlan, RolloutResult } from '../../src/core/contracts';
import { deployingText } from '../../src/core/lifecycle/messages';
import { rootMessage } from '../failures';
import { notify } from '../notify';
import type { Run } from '../profile';
import { now, SYSTEM, type ChangeRecord } from '../record';

/** What the rollout step leaves for the watch, the finalize and a rollback. */
export interface RolloutOutcome {
  /** True when the new version is fully out (for a canary: promoted). */
  rolledOut: boolean;
  /** The latest result from the cluster, also when a later canary step failed. */
  result?: RolloutResult;
  /** Why the rollout did not finish, unless an operator interrupted it. */
  failure?: string;
  startedAt: string;
}

export function rolloutPlan(record: ChangeRecord): RolloutPlan {
  const { spec, metadata } = record.request;
  return {
    changeId: metadata.id,
    namespace: spec.namespace,
    strategy: spec.rollout.strategy,
    deployment: spec.rollout.target.name,
    ...(spec.rollout.target.container ? { container: spec.rollout.target.container } : {}),
    ...(spec.rollout.service ? { service: spec.rollout.service } : {}),
    ...(spec.rollout.image ? { image: spec.rollout.image } : {}),
    ...(spec.rollout.manifests ? { manifests: spec.rollout.manifests } : {}),
    timeoutMs: parseDuration(spec.rollout.timeout) ?? 600_000,
  };
}

/**
 * Rolls out by the request's strategy: rolling and blue/green in one activity; a canary then
 * walks its steps (weights and pauses) and is promoted. A failure is returned, not thrown; an
 * operator's rollback interrupts it.
 */
export async function rollOut(run: Run): Promise<RolloutOutcome> {
  const { record, operator, activities } = run;
  const plan = rolloutPlan(record);
  record.setState('rolling-out');
  const outcome: RolloutOutcome = { rolledOut: false, startedAt: now() };
  record.status.rollout.startedAt = outcome.startedAt;
  await notify(
    run,
    'deploying',
    deployingText(record.status, record.rollbackCommand || 'kubectl rollout undo'),
  );

  const rolled = await operator.interruptible(async () => {
    try {
      record.record(
        SYSTEM,
        'rollout started',
        `${plan.strategy} rollout of ${plan.deployment} to ${plan.image ?? 'manifests'}`,
      );
      outcome.result = await activities.kubernetesRollouts.startRollout.executeWithOptions(
        {
          startToCloseTimeout: plan.timeoutMs + 120_000,
          heartbeatTimeout: '30s',
          retry: { initialInterval: '1s', maximumInterval: '30s' },
          summary: `${plan.strategy} rollout of ${plan.deployment} to ${plan.image ?? 'manifests'}`,
        },
        [plan],
      );
      record.setRolloutResult(outcome.result);
      const steps = record.request.spec.rollout.steps;
      if (plan.strategy === 'canary' && steps) {
        outcome.result = await canarySteps(run, plan, outcome.result, steps);
      }
      record.record(SYSTEM, 'rollout complete', outcome.result.message);
      return true;
    } catch (err) {
      if (isCancellation(err) && operator.rollbackRequest) throw err;
      outcome.failure = `rollout failed: ${rootMessage(err)}`;
      record.record(SYSTEM, 'rollout failed', rootMessage(err));
      return false;
    }
  });
  outcome.rolledOut = rolled?.value === true;
  return outcome;
}

type CanaryStep = NonNullable<ChangeRecord['request']['spec']['rollout']['steps']>[number];

/** The canary's steps in order, then its promotion; returns the promoted rollout. */
async function canarySteps(
  { record, activities }: Run,
  plan: RolloutPlan,
  rollout: RolloutResult,
  steps: CanaryStep[],
): Promise<RolloutResult> {
  record.record(SYSTEM, 'canary deployed', rollout.message);
  for (const step of steps) {
    if ('setWeight' in step) {
      const split = await activities.kubernetesRollouts.setCanaryWeight.executeWithOptions(
        {
          startToCloseTimeout: plan.timeoutMs + 120_000,
          heartbeatTimeout: '30s',
          summary: `canary weight ${step.setWeight}%`,
        },
        [{ plan, rollout, weight: step.setWeight }],
      );
      record.setCanaryWeight(split.weight);
      record.record(
        SYSTEM,
        `canary at ${split.weight}%`,
        `${split.canaryReplicas} canary / ${split.stableReplicas} stable replicas`,
      );
    } else {
      await sleep(parseDuration(step.pause) ?? 0, { summary: `canary pause ${step.pause}` });
    }
  }
  const promoted = await activities.kubernetesRollouts.promoteCanary.executeWithOptions(
    {
      startToCloseTimeout: plan.timeoutMs + 120_000,
      heartbeatTimeout: '30s',
      summary: `promote canary of ${plan.deployment}`,
    },
    [{ plan, rollout }],
  );
  record.setRolloutResult(promoted);
  record.record(SYSTEM, 'canary promoted', promoted.message);
  return promoted;
}
