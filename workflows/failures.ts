/** How a change ends from inside a step, and how refusals and activity failures read. */
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../src/core/errors';
import type { EndState } from '../src/core/lifecycle/status';

/** How a change ends: its end state and the outcome the change log and notifications give. */
export interface Ending {
  state: EndState;
  outcome: string;
}

/** Raised inside a step to end the change; caught once, by `conclude`. */
export class ChangeEnded extends Error {
  constructor(
    readonly state: EndState,
    readonly outcome: string,
  ) {
    super(outcome);
    this.name = 'ChangeEnded';
  }
}

/** Ends the change from inside a step. */
export function endChange(state: EndState, outcome: string): never {
  throw new ChangeEnded(state, outcome);
}

/** The root cause's message: activity failures wrap the ApplicationFailure the activity threw. */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** Why a change refuses every decision until its policy is loaded: the moment, not the person. */
export const policyLoading = {
  ok: false,
  reason: 'the change is still loading its policy; try again in a moment',
  notReady: true,
} as const;

/** How a refused message is refused to an update's caller: never retried, reason as message. */
export function refusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.Refused,
    message: reason,
    nonRetryable: true,
  });
}

/** How a validator answers before the change can decide: the CLI sends the same message again. */
export function notReady(reason: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.NotReady,
    message: reason,
    nonRetryable: true,
  });
}
