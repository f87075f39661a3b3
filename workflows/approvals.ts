/**
 * Answers to approve and reject, by signal (no answer to the sender: the record is all there
 * is) or by update (a synchronous validator refuses at once, with the reason). Each lifecycle
 * hands in its own rules for who may approve and reject.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../src/core/errors';
import type { RefusedAttempt } from '../src/core/lifecycle/status';
import { quorumStatus, type ApprovalRecord, type Verdict } from '../src/core/policy/approvals';
import { notReady, refusal } from './failures';
import type { ApprovalInput, MessageAck, RejectionInput } from './messages';
import { now, type ChangeRecord } from './record';

export interface ApprovalRules {
  mayApprove: (by: string) => Verdict;
  mayReject: (by: string) => Verdict;
  /** Runs after an accepted approval is on the record. */
  onApproved?: (approval: ApprovalRecord) => void;
}

export type Via = 'signal' | 'update';

/** What an accepted message answers: the state and what approvals are still missing. */
export function ack(record: ChangeRecord): MessageAck {
  return { state: record.state, summary: approvalSummary(record) };
}

export function approvalSummary(record: ChangeRecord): string {
  if (!record.policy) return 'policy not loaded yet';
  const { required, received } = record.status.approvals;
  return quorumStatus(record.policy, required, received).summary;
}

/** Keeps a refused attempt on the record; by update the caller also gets the reason. */
export function refuse(
  record: ChangeRecord,
  by: string,
  action: RefusedAttempt['action'],
  reason: string,
  via: Via,
): MessageAck {
  record.addRefusal(by, action, reason, via);
  if (via === 'update') throw refusal(reason);
  return ack(record);
}

export class ApprovalAnswers {
  constructor(
    private readonly record: ChangeRecord,
    private readonly rules: ApprovalRules,
  ) {}

  approve(input: ApprovalInput, via: Via): MessageAck {
    const verdict = this.rules.mayApprove(input.actor);
    if (!verdict.ok) return refuse(this.record, input.actor, 'approve', verdict.reason, via);
    const approval: ApprovalRecord = {
      by: input.actor,
      at: now(),
      ...(input.comment ? { comment: input.comment } : {}),
    };
    this.record.addApproval(approval);
    this.record.record(input.actor, 'approved', input.comment);
    this.rules.onApproved?.(approval);
    return ack(this.record);
  }

  reject(input: RejectionInput, via: Via): MessageAck {
    const verdict = this.rules.mayReject(input.actor);
    if (!verdict.ok) return refuse(this.record, input.actor, 'reject', verdict.reason, via);
    this.record.setRejected(input.actor, input.reason);
    this.record.record(input.actor, 'rejected', input.reason);
    return ack(this.record);
  }

  validateApproval(input: ApprovalInput): void {
    refuseUnless(this.rules.mayApprove(input.actor));
  }

  validateRejection(input: RejectionInput): void {
    if (!input.reason?.trim()) {
      throw ApplicationFailure.create({
        type: FailureType.InvalidRequest,
        message: 'a rejection needs a reason',
        nonRetryable: true,
      });
    }
    refuseUnless(this.rules.mayReject(input.actor));
  }
}

/** A validator's answer to a verdict: refused, or (policy still loading) not ready yet. */
function refuseUnless(verdict: Verdict): void {
  if (verdict.ok) return;
  throw verdict.notReady ? notReady(verdict.reason) : refusal(verdict.reason);
}
