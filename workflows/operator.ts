/**
 * What operators asked for while the change runs (cancel, rollback now, extend the watch,
 * reschedule, a decision on an inconclusive watch) and the step they may interrupt. The
 * lifecycles register these as handlers; the steps read the requests.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import { isEndState } from '../src/core/lifecycle/status';
import type { Verdict } from '../src/core/policy/approvals';
import { checkAuthority, type OperatorAction } from '../src/core/policy/authority';
import { recordDecision } from './approvals';
import type { Decision, Decisions } from './decisions';
import { endChange, policyLoading } from './failures';
import { now, type ChangeRecord } from './record';

interface OperatorRequest {
  actor: string;
  reason: string;
  at: string;
}

export class OperatorRequests {
  cancelRequest?: OperatorRequest;
  rollbackRequest?: OperatorRequest & { restoreBackup: boolean };
  decision?: { actor: string; decision: 'proceed' | 'rollback'; reason?: string; at: string };
  rescheduled = false;
  /** Extra watch time asked for before or during the watch. */
  watchExtensionMs = 0;
  /** When the running watch ends (0 before it starts); `extend` moves it. */
  watchEndsAt = 0;
  /** The scope of the step in progress; operator messages cancel it to interrupt the step. */
  private stepScope?: CancellationScope;

  constructor(
    private readonly change: ChangeRecord,
    private readonly decisions: Decisions,
  ) {}

  /** Who may send `action`, by the policy; refused messages are kept on the record. */
  private authorized<A extends OperatorAction>(
    action: A,
    payload: unknown,
  ): Decision<A> | undefined {
    const read = this.decisions.readAuthorized(action, payload, (person) =>
      this.authority(action, person),
    );
    if (!read.ok) {
      this.change.addRefusal(read.by, action, read.reason, 'signal');
      return undefined;
    }
    this.decisions.accept(read.decision);
    return read.decision;
  }

  private authority(action: OperatorAction, person: string): Verdict {
    const parties = this.change.parties();
    return parties ? checkAuthority(parties, action, person) : policyLoading;
  }

  /** The timeline entry of a decision, UNVERIFIED when taken on the stated name alone. */
  private note(person: string, event: string, detail?: string): void {
    recordDecision(this.change, this.decisions, { person }, event, detail);
  }

  /** Rolling out, watching or cleaning up: from here a cancel is a rollback. */
  get rolledOut(): boolean {
    const state = this.change.state;
    return state === 'rolling-out' || state === 'watching' || state === 'cleaning-up';
  }

  cancel(payload: unknown): void {
    const decision = this.authorized('cancel', payload);
    if (!decision) return;
    const actor = decision.person;
    const { reason } = decision.args;
    const state = this.change.state;
    if (isEndState(state) || state === 'awaiting-documentation') {
      this.note(actor, 'cancel ignored', `the change is ${state}`);
      return;
    }
    if (this.cancelRequest) return;
    this.cancelRequest = { actor, reason, at: now() };
    this.note(actor, 'cancel requested', reason);
    if (this.rolledOut) {
      this.rollbackRequest = {
        actor,
        reason: `cancelled by ${actor}: ${reason}`,
        at: now(),
        restoreBackup: false,
      };
    }
    this.stepScope?.cancel();
  }

  rollback(payload: unknown): void {
    const decision = this.authorized('rollback', payload);
    if (!decision) return;
    const input = { actor: decision.person, ...decision.args };
    const state = this.change.state;
    if (!this.rolledOut) {
      this.note(
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
    this.note(
      input.actor,
      'rollback requested',
      input.reason + (input.restoreBackup ? ' (with backup restore)' : ''),
    );
    this.stepScope?.cancel();
  }

  extend(payload: unknown): void {
    const decision = this.authorized('extend', payload);
    if (!decision) return;
    const input = { actor: decision.person, ...decision.args };
    const ms = parseDuration(input.duration);
    if (ms === undefined || ms <= 0) {
      this.note(input.actor, 'extend ignored', `not a duration: ${JSON.stringify(input.duration)}`);
      return;
    }
    if (isEndState(this.change.state)) {
      this.note(input.actor, 'extend ignored', `the change already ended as ${this.change.state}`);
      return;
    }
    this.watchExtensionMs += ms;
    if (this.watchEndsAt > 0) {
      this.watchEndsAt += ms;
      this.change.moveWatchEnd(this.watchEndsAt);
    }
    this.note(input.actor, 'watch extended', `by ${input.duration}`);
  }

  reschedule(payload: unknown): void {
    const decision = this.authorized('reschedule', payload);
    if (!decision) return;
    const input = { actor: decision.person, ...decision.args };
    const at = Date.parse(input.notBefore);
    if (Number.isNaN(at)) {
      this.note(
        input.actor,
        'reschedule ignored',
        `not a timestamp: ${JSON.stringify(input.notBefore)}`,
      );
      return;
    }
    const state = this.change.state;
    if (!['submitted', 'awaiting-approval', 'awaiting-ic-approval', 'scheduled'].includes(state)) {
      this.note(input.actor, 'reschedule ignored', `the change is ${state}; too late to move it`);
      return;
    }
    this.change.status.window.notBefore = new Date(at).toISOString();
    this.rescheduled = true;
    this.note(input.actor, 'rescheduled', `not before ${this.change.status.window.notBefore}`);
  }

  decide(payload: unknown): void {
    const decision = this.authorized('decide', payload);
    if (!decision) return;
    const input = { actor: decision.person, ...decision.args };
    if (!this.change.status.verification.awaitingDecisionUntil) {
      this.note(input.actor, 'decision ignored', 'no decision is pending');
      return;
    }
    this.decision = { ...input, at: now() };
    this.note(input.actor, `decided: ${input.decision}`, input.reason);
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
