/**
 * The watch loop the Prometheus and Kubernetes watches share: one round of measurements every
 * interval until the watch's end or a verdict, heartbeating the state after every round so a
 * retried activity resumes where the last attempt was.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Measurement, WatchResult, WatchState } from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import {
  initialWatchState,
  isWatchState,
  recordRound,
  summarizeWatch,
  type WatchLimits,
} from '../src/core/verification/engine';

/** The longest the watch sleeps between checks for cancellation and heartbeats. */
const SLEEP_SLICE_MS = 1_000;

export interface WatchClock extends WatchLimits {
  intervalMs: number;
  /** Absolute epoch ms, so retries and resumes never restart the clock. */
  startedAt: number;
  endsAt: number;
  /** The state a previous segment of the same watch ended with. */
  state?: WatchState;
}

async function sleepUntil(target: number, state: WatchState): Promise<void> {
  const context = Context.current();
  for (let now = Date.now(); now < target; now = Date.now()) {
    context.heartbeat(state);
    await context.sleep(Math.min(SLEEP_SLICE_MS, target - now));
  }
}

/** Measures with `measureRound` every interval until `endsAt` or a verdict. */
export async function runWatchLoop(
  input: WatchClock,
  measureRound: (at: string) => Promise<Measurement[]>,
): Promise<WatchResult> {
  if (!(input.intervalMs > 0)) {
    throw ApplicationFailure.nonRetryable(
      `the watch interval must be positive, not ${input.intervalMs} ms`,
      FailureType.InvalidRequest,
    );
  }
  const context = Context.current();
  const details: unknown = context.info.heartbeatDetails;
  let state = isWatchState(details) ? details : (input.state ?? initialWatchState());
  const limits: WatchLimits = {
    failureLimit: input.failureLimit,
    inconclusiveLimit: input.inconclusiveLimit,
    consecutiveErrorLimit: input.consecutiveErrorLimit,
  };
  context.heartbeat(state);
  for (;;) {
    const now = Date.now();
    const due =
      state.lastRoundAt === undefined ? input.startedAt : state.lastRoundAt + input.intervalMs;
    // A watch never passes unmeasured: one that has not measured yet, or missed its last
    // rounds while no worker ran it, measures once more before it concludes.
    const missedEnd = state.lastRoundAt === undefined || due < input.endsAt;
    if (now >= input.endsAt && !missedEnd) {
      return {
        outcome: 'passed',
        reason: `no metric crossed a limit by ${new Date(input.endsAt).toISOString()}: ${summarizeWatch(state)}`,
        state,
        endedAt: Date.now(),
      };
    }
    if (now < due) {
      await sleepUntil(Math.min(due, input.endsAt), state);
      continue;
    }
    // Keep the cadence when a round is a little late; after a long gap, start afresh from now.
    const roundAt = now - due < input.intervalMs ? due : now;
    const measurements = await measureRound(new Date(now).toISOString());
    const { state: next, verdict } = recordRound(state, measurements, limits, roundAt);
    state = next;
    context.heartbeat(state);
    if (verdict) return { ...verdict, state, endedAt: Date.now() };
  }
}
