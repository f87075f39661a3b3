import { isCancellation, patched, sleep } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import type { RolloutPlan, RolloutResult } from '../../src/core/contracts';
import { deployingText } from '../../src/core/lifecycle/messages';
import { rootMessage } from '../failures';
import { notify } from '../notify';
import type { LifecycleProfile, Run } from '../profile';
import { now, SYSTEM, type ChangeRecord } from '../record';
import { askGate } from './gates';
import { verify } from './watch';

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
export async function rollOut(run: Run, profile: LifecycleProfile): Promise<RolloutOutcome> {
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
        outcome.result = await canarySteps(run, profile, plan, outcome.result, steps);
      }
      record.record(SYSTEM, 'rollout complete', outcome.result.message);
      return true;
    } catch (err) {
      if (isCancellation(err) && operator.rollbackRequest) throw err;
      outcome.failure =
        err instanceof CanaryAnalysisFailed ? err.message : `rollout failed: ${rootMessage(err)}`;
      record.record(SYSTEM, 'rollout failed', rootMessage(err));
      return false;
    }
  });
  outcome.rolledOut = rolled?.value === true;
  return outcome;
}

type CanaryStep = NonNullable<ChangeRecord['request']['spec']['rollout']['steps']>[number];

/** A canary step's analysis did not pass: the rollout fails at that step and is rolled back. */
class CanaryAnalysisFailed extends Error {}

/** The pause's duration: `{pause: 2m}` or `{pause: {duration: 2m}}`. */
function pauseMs(step: Extract<CanaryStep, { pause: unknown }>): number {
  const duration = typeof step.pause === 'string' ? step.pause : step.pause.duration;
  return parseDuration(duration ?? '0s') ?? 0;
}

/**
 * The canary's steps in order, then its promotion; returns the promoted rollout. Each pause
 * runs the request's metrics and checks (on the canary's pods) for its duration, so a bad
 * canary is rolled back at the weight it first showed at, before any promotion.
 */
async function canarySteps(
  run: Run,
  profile: LifecycleProfile,
  plan: RolloutPlan,
  rollout: RolloutResult,
  steps: CanaryStep[],
): Promise<RolloutResult> {
  const { record, activities } = run;
  record.record(SYSTEM, 'canary deployed', rollout.message);
  const analysed = patched('canary-step-analysis');
  let weight = 0;
  const promotionGates = record.request.spec.promotion?.gates ?? [];
  for (const [index, step] of steps.entries()) {
    const position = { step: index + 1, of: steps.length, weight };
    // Flagger's confirm-promotion: every gate passes before the last step goes ahead.
    if (index === steps.length - 1) {
      for (const gate of promotionGates) {
        const answer = await askGate(run, gate, 'confirm-promotion', position.step);
        if (!answer.passed) {
          throw new CanaryAnalysisFailed(
            `promotion gate ${gate.name} failed before step ${position.step}/${position.of}: ${answer.message}`,
          );
        }
      }
    }
    if ('setWeight' in step) {
      record.status.rollout.canaryStep = { ...position, weight: step.setWeight };
      const split = await activities.kubernetesRollouts.setCanaryWeight.executeWithOptions(
        {
          startToCloseTimeout: plan.timeoutMs + 120_000,
          heartbeatTimeout: '30s',
          summary: `canary weight ${step.setWeight}%`,
        },
        [{ plan, rollout, weight: step.setWeight }],
      );
      weight = split.weight;
      record.setCanaryWeight(split.weight);
      record.record(
        SYSTEM,
        `canary at ${split.weight}%`,
        `${split.canaryReplicas} canary / ${split.stableReplicas} stable replicas`,
      );
    } else if (!analysed) {
      const text = typeof step.pause === 'string' ? step.pause : step.pause.duration;
      await sleep(pauseMs(step), { summary: `canary pause ${text}` });
    } else {
      await analyseStep(run, profile, rollout, position, pauseMs(step));
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

/** One pause of a canary: the analysis over its duration; throws when it does not pass. */
async function analyseStep(
  run: Run,
  profile: LifecycleProfile,
  rollout: RolloutResult,
  position: { step: number; of: number; weight: number },
  durationMs: number,
): Promise<void> {
  const { record } = run;
  const where = `step ${position.step}/${position.of} at ${position.weight}%`;
  record.status.rollout.canaryStep = { ...position, analysis: 'running' };
  const startedAt = Date.now();
  const endsAt = startedAt + durationMs;
  record.record(SYSTEM, `canary analysis ${where}`, `until ${new Date(endsAt).toISOString()}`);
  const result = await verify(run, profile.watch, {
    startedAt,
    endsAt: () => endsAt,
    deployments: [rollout.canaryDeployment ?? `${record.request.spec.rollout.target.name}-canary`],
  });
  record.status.rollout.canaryStep = { ...position, analysis: result.outcome };
  record.record(SYSTEM, `canary analysis ${result.outcome}`, `${where}: ${result.reason}`);
  if (result.outcome !== 'passed') {
    record.setWatchResult(result);
    throw new CanaryAnalysisFailed(
      `canary analysis ${result.outcome} at ${where}: ${result.reason}`,
    );
  }
}
