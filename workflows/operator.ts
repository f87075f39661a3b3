/**
 * What operators asked for while the change runs (cancel, rollback now, extend the watch,
 * reschedule, a decision on an inconclusive watch) and the step they may interrupt. The
 * lifecycles register these as handlers; the steps read the requests.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import { isEndState } from '../src/core/lifecycle/status';
import { endChange } from './failures';
import type {
  CancelInput,
  DecisionInput,
  ExtendInput,
  RescheduleInput,
  RollbackRequest,
} from './messages';
import { now, type ChangeRecord } from './record';

interface OperatorRequest {
  actor: string;
  reason: string;
  at: string;
}

export class OperatorRequests {
  cancelRequest?: OperatorRequest;
  rollbackRequest?: OperatorRequest & { restoreBackup: boolean };
  decision?: DecisionInput & { at: string };
  rescheduled = false;
  /** Extra watch time asked for before or during the watch. */
  watchExtensionMs = 0;
  /** When the running watch ends (0 before it starts); `extend` moves it. */
  watchEndsAt = 0;
  /** The scope of the step in progress; operator messages cancel it to interrupt the step. */
  private stepScope?: CancellationScope;

  constructor(private readonly change: ChangeRecord) {}

  /** Rolling out, watching or cleaning up: from here a cancel is a rollback. */
  get rolledOut(): boolean {
    const state = this.change.state;
    return state === 'rolling-out' || state === 'watching' || state === 'cleaning-up';
  }

  cancel(input: CancelInput): void {
    const state = this.change.state;
    if (isEndState(state) || state === 'awaiting-documentation') {
      this.change.record(input.actor, 'cancel ignored', `the change is ${state}`);
      return;
    }
    if (this.cancelRequest) return;
    this.cancelRequest = { actor: input.actor, reason: input.reason, at: now() };
    this.change.record(input.actor, 'cancel requested', input.reason);
    if (this.rolledOut) {
      this.rollbackRequest = {
        actor: input.actor,
        reason: `cancelled by ${input.actor}: ${input.reason}`,
        at: now(),
        restoreBackup: false,
      };
    }
    this.stepScope?.cancel();
  }

  rollback(input: RollbackRequest): void {
    const state = this.change.state;
    if (!this.rolledOut) {
      this.change.record(
        input.actor,
        'rollback ignored',
        isEndState(state)
          ? `the change already ended as ${state}`
          : `nothing rolled out yet (${state}); cancel the change instead`,
      );
      return;
    }
    if (this.rollbackRequest) return;
    this.rollbackRequest = {
      actor: input.actor,
      reason: `rollback requested by ${input.actor}: ${input.reason}`,
      at: now(),
      restoreBackup: input.restoreBackup ?? false,
    };
    this.change.record(
      input.actor,
      'rollback requested',
      input.reason + (input.restoreBackup ? ' (with backup restore)' : ''),
    );
    this.stepScope?.cancel();
  }

  extend(input: ExtendInput): void {
    const ms = parseDuration(input.duration);
    if (ms === undefined || ms <= 0) {
      this.change.record(
        input.actor,
        'extend ignored',
        `not a duration: ${JSON.stringify(input.duration)}`,
      );
      return;
    }
    if (isEndState(this.change.state)) {
      this.change.record(
        input.actor,
        'extend ignored',
        `the change already ended as ${this.change.state}`,
      );
      return;
    }
    this.watchExtensionMs += ms;
    if (this.watchEndsAt > 0) {
      this.watchEndsAt += ms;
      this.change.moveWatchEnd(this.watchEndsAt);
    }
    this.change.record(input.actor, 'watch extended', `by ${input.duration}`);
  }

  reschedule(input: RescheduleInput): void {
    const at = Date.parse(input.notBefore);
    if (Number.isNaN(at)) {
      this.change.record(
        input.actor,
        'reschedule ignored',
        `not a timestamp: ${JSON.stringify(input.notBefore)}`,
      );
      return;
    }
    const state = this.change.state;
    if (!['submitted', 'awaiting-approval', 'awaiting-ic-approval', 'scheduled'].includes(state)) {
      this.change.record(
        input.actor,
        'reschedule ignored',
        `the change is ${state}; too late to move it`,
      );
      return;
    }
    this.change.status.window.notBefore = new Date(at).toISOString();
    this.rescheduled = true;
    this.change.record(
      input.actor,
      'rescheduled',
      `not before ${this.change.status.window.notBefore}`,
    );
  }

  decide(input: DecisionInput): void {
    if (!this.change.status.verification.awaitingDecisionUntil) {
      this.change.record(input.actor, 'decision ignored', 'no decision is pending');
      return;
    }
    this.decision = { ...input, at: now() };
    this.change.record(input.actor, `decided: ${input.decision}`, input.reason);
  }

  /** Runs a step that operator messages may interrupt; returns undefined when interrupted. */
  async interruptible<T>(step: () => Promise<T>): Promise<{ value: T } | undefined> {
    const scope = new CancellationScope();
    this.stepScope = scope;
    try {
      return { value: await scope.run(step) };
    } catch (err) {
      if (isCancellation(err) && (this.cancelRequest || this.rollbackRequest)) return undefined;
      throw err;
    } finally {
      this.stepScope = undefined;
    }
  }

  /** Ends as cancelled when an operator cancelled before anything changed. */
  endIfCancelled(): void {
    if (this.cancelRequest && !this.rolledOut) {
      endChange(
        'cancelled',
        `cancelled by ${this.cancelRequest.actor}: ${this.cancelRequest.reason}`,
      );
    }
  }
}
