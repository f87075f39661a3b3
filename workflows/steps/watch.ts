import { condition } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import type { MetricSpec } from '../../src/core/change/request';
import type { WatchResult } from '../../src/core/contracts';
import { notify } from '../notify';
import type { LifecycleProfile, Run } from '../profile';
import { SYSTEM } from '../record';
import { runCheckWatch, runWatch, watchAll } from '../watch';
import { decisionNeededText } from '../../src/core/lifecycle/messages';

export type Verdict = { passed: true } | { passed: false; reason: string };

/** A span of verification: when it starts and ends, and the deployments its checks look at. */
export interface VerificationWindow {
  startedAt: number;
  /** Read again whenever a segment ends, so an `extend` is honoured. */
  endsAt: () => number;
  deployments: string[];
}

/**
 * The request's metrics (and checks, when it has any) over a window, within the profile's
 * interval and limits: the watch after a rollout, and a canary step's analysis.
 */
export function verify(
  { record }: Run,
  limits: LifecycleProfile['watch'],
  window: VerificationWindow,
): Promise<WatchResult> {
  const { metadata } = record.request;
  const spec = record.request.spec.verification;
  const argoLimits = {
    failureLimit: limits.failureLimit,
    inconclusiveLimit: limits.inconclusiveLimit,
    consecutiveErrorLimit: spec.consecutiveErrorLimit,
  };
  const watchMetrics = () =>
    runWatch(
      {
        changeId: metadata.id,
        metrics: spec.metrics.map((m: MetricSpec) => ({
          name: m.name,
          query: m.query,
          failWhen: m.failWhen,
        })),
        baseline: record.status.verification.baseline,
        intervalMs: limits.intervalMs,
        startedAt: window.startedAt,
        endsAt: window.endsAt(),
        ...argoLimits,
      },
      window.endsAt,
    );
  const checks = spec.checks ?? [];
  if (checks.length === 0) return watchMetrics();
  const watchChecks = () =>
    runCheckWatch(
      {
        changeId: metadata.id,
        namespace: record.request.spec.namespace,
        deployments: window.deployments,
        checks,
        since: Date.parse(record.status.rollout.startedAt ?? '') || window.startedAt,
        intervalMs: limits.intervalMs,
        startedAt: window.startedAt,
        endsAt: window.endsAt(),
        ...argoLimits,
      },
      window.endsAt,
    );
  return watchAll([watchMetrics, watchChecks]);
}

/**
 * The watch period against the request's metrics, within the profile's limits; an inconclusive
 * verdict rolls back or, where the profile holds, waits for a human decision.
 */
export async function watch(run: Run, profile: LifecycleProfile): Promise<Verdict> {
  const { record, operator } = run;
  const limits = profile.watch;
  record.setState('watching');
  const startedAt = Date.now();
  operator.watchEndsAt = startedAt + limits.watchMs + operator.watchExtensionMs;
  record.startWatch(startedAt, operator.watchEndsAt);
  const { rollout } = record.status;
  const watched = await operator.interruptible(() =>
    verify(run, limits, {
      startedAt,
      endsAt: () => operator.watchEndsAt,
      deployments: [rollout.result?.activeDeployment ?? rollout.deployment],
    }),
  );
  if (!watched) {
    // Cut short, the watch gave no verdict; like a segment that cannot finish, it never passes.
    const reason = operator.rollbackRequest?.reason ?? 'interrupted';
    record.stopWatch(reason);
    return { passed: false, reason };
  }
  const result: WatchResult = watched.value;
  record.setWatchResult(result);
  record.record(SYSTEM, `watch ${result.outcome}`, result.reason);
  if (result.outcome === 'passed') return { passed: true };
  if (result.outcome === 'failed')
    return { passed: false, reason: `verification failed: ${result.reason}` };
  if (profile.inconclusive.action === 'rollback')
    return { passed: false, reason: `verification inconclusive: ${result.reason}` };
  return await holdForDecision(run, result, profile.inconclusive.holdTimeout);
}

/** The decision hold: an inconclusive watch waits for `decide`, and rolls back without one. */
async function holdForDecision(
  run: Run,
  result: WatchResult,
  holdTimeout: string,
): Promise<Verdict> {
  const { record, operator } = run;
  const holdMs = parseDuration(holdTimeout) ?? 1_800_000;
  const until = new Date(Date.now() + holdMs).toISOString();
  record.setDecisionDeadline(until);
  await notify(run, 'needs-decision', decisionNeededText(record.status, result.reason));
  const decided = await operator.interruptible(() =>
    condition(() => operator.decision !== undefined, holdMs, {
      summary: 'wait for a decision on an inconclusive watch',
    }),
  );
  record.setDecisionDeadline(undefined);
  if (!decided) return { passed: false, reason: operator.rollbackRequest?.reason ?? 'interrupted' };
  if (!decided.value)
    return {
      passed: false,
      reason: `verification inconclusive and no decision within ${holdTimeout}`,
    };
  if (operator.decision?.decision === 'proceed') {
    record.setVerificationSummary(
      `${result.reason}; ${operator.decision.actor} decided to proceed`,
    );
    return { passed: true };
  }
  return {
    passed: false,
    reason: `rollback decided by ${operator.decision?.actor}: ${operator.decision?.reason ?? 'inconclusive watch'}`,
  };
}
