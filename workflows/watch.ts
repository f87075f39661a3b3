/**
 * The post-rollout watch as the planned and emergency workflows run it: one long activity per
 * segment, which heartbeats its state instead of writing history, so a watch of a day costs
 * as many history events as a watch of a minute. An extended watch is a further segment that
 * starts from the previous one's state.
 */
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  TimeoutFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
import type {
  CheckWatchInput,
  KubernetesActivities,
  PrometheusActivities,
  WatchInput,
  WatchResult,
  WatchState,
} from '../src/core/contracts';
import { formatDuration } from '../src/core/change/duration';
import { FailureType } from '../src/core/errors';
import {
  initialWatchState,
  isWatchState,
  mergeWatchResults,
} from '../src/core/verification/engine';

/**
 * Time a segment may take beyond its end: the last round's queries, a worker restart, retries.
 * A worker that is away longer than this leaves the watch inconclusive, since nobody watched.
 */
export const WATCH_SLACK_MS = 10 * 60_000;

/** Heartbeat timeout of the watch: two intervals, at least 30 s (queries may take 10 s). */
export function watchHeartbeatTimeoutMs(intervalMs: number): number {
  return Math.max(2 * intervalMs, 30_000);
}

/** A watch segment's activity options: it may run to the watch's end, and heartbeats each round. */
function segmentOptions(
  intervalMs: number,
  endsAt: number,
  nonRetryable: string,
  summary: string,
): ActivityOptions {
  const remaining = Math.max(0, endsAt - Date.now());
  return {
    startToCloseTimeout: remaining + WATCH_SLACK_MS,
    scheduleToCloseTimeout: remaining + WATCH_SLACK_MS,
    heartbeatTimeout: watchHeartbeatTimeoutMs(intervalMs),
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      nonRetryableErrorTypes: [nonRetryable],
    },
    summary,
  };
}

function watchActivity(input: Omit<WatchInput, 'state'>, endsAt: number) {
  return proxyActivities<PrometheusActivities>(
    segmentOptions(
      input.intervalMs,
      endsAt,
      FailureType.QueryInvalid,
      `verify ${input.metrics.map((m) => m.name).join(', ')} every ${formatDuration(input.intervalMs)} until ${new Date(endsAt).toISOString()}`,
    ),
  ).watchMetrics;
}

function checkActivity(input: Omit<CheckWatchInput, 'state'>, endsAt: number) {
  return proxyActivities<KubernetesActivities>(
    segmentOptions(
      input.intervalMs,
      endsAt,
      FailureType.InvalidRequest,
      `check ${input.checks.map((c) => c.name).join(', ')} on ${input.deployments.join(', ')} every ${formatDuration(input.intervalMs)} until ${new Date(endsAt).toISOString()}`,
    ),
  ).watchChecks;
}

type Segment = (state: WatchState | undefined, endsAt: number) => Promise<WatchResult>;

/**
 * Watches until `endsAt()` (read again whenever a segment ends, so an `extend` signal that
 * moved it later is honoured) or a failed / inconclusive verdict. A segment that cannot finish
 * (its timeouts pass, or it fails in a way retries do not cure) ends the watch inconclusive:
 * a watch that did not run to its end never passes. Cancellation propagates to the caller.
 */
async function runSegments(segment: Segment, endsAt: () => number): Promise<WatchResult> {
  let state: WatchState | undefined;
  for (;;) {
    const segmentEndsAt = endsAt();
    let result: WatchResult;
    try {
      result = await segment(state, segmentEndsAt);
    } catch (error) {
      if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
      const details: unknown =
        error.cause instanceof TimeoutFailure ? error.cause.lastHeartbeatDetails : undefined;
      return {
        outcome: 'inconclusive',
        reason: `the watch could not run to its end: ${error.cause?.message ?? error.message}`,
        state: isWatchState(details) ? details : (state ?? initialWatchState()),
        endedAt: Date.now(),
      };
    }
    // Not extended: done, even if this workflow's clock lags the worker's a little.
    if (result.outcome !== 'passed' || endsAt() <= Math.max(segmentEndsAt, Date.now())) {
      return result;
    }
    state = result.state;
  }
}

/** The watch of the request's metrics against Prometheus. */
export function runWatch(
  input: Omit<WatchInput, 'state'>,
  endsAt: () => number,
): Promise<WatchResult> {
  return runSegments(
    (state, segmentEndsAt) =>
      watchActivity(input, segmentEndsAt)({ ...input, endsAt: segmentEndsAt, state }),
    endsAt,
  );
}

/** The watch of the request's checks (pods, restarts, http, logs) against the cluster. */
export function runCheckWatch(
  input: Omit<CheckWatchInput, 'state'>,
  endsAt: () => number,
): Promise<WatchResult> {
  return runSegments(
    (state, segmentEndsAt) =>
      checkActivity(input, segmentEndsAt)({ ...input, endsAt: segmentEndsAt, state }),
    endsAt,
  );
}

/**
 * Runs several watches of one period side by side; the first that does not pass ends the
 * others (cancelled) and decides, with every state seen so far. An outside cancellation (an
 * operator interrupting the watch) propagates.
 */
export async function watchAll(watches: (() => Promise<WatchResult>)[]): Promise<WatchResult> {
  const scope = new CancellationScope();
  let decided: WatchResult | undefined;
  const settled = await scope.run(() =>
    Promise.allSettled(
      watches.map(async (watch) => {
        const result = await watch();
        if (result.outcome !== 'passed' && !decided) {
          decided = result;
          scope.cancel();
        }
        return result;
      }),
    ),
  );
  const results: WatchResult[] = [];
  for (const outcome of settled) {
    if (outcome.status === 'fulfilled') results.push(outcome.value);
    else if (!decided || !isCancellation(outcome.reason)) throw outcome.reason;
  }
  return mergeWatchResults(results);
}
