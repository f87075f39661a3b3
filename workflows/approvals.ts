/**
 * Answers to approve and reject, by signal (no answer to the sender: the record is all there
 * is) or by update (a synchronous validator refuses at once, with the reason). Who sends each
 * is proved by `Decisions`; each lifecycle hands in its own rules for who may approve and reject.
 */
import type { RefusedAttempt } from '../src/core/lifecycle/status';
import { quorumStatus, type ApprovalRecord, type Verdict } from '../src/core/policy/approvals';
import { refusal } from './failures';
import { throwRefusal, type Decisions, type ReadResult } from './decisions';
import type { MessageAck } from './messages';
import { now, type ChangeRecord } from './record';

export interface ApprovalRules {
  /** The statement action an approval is: `approve`, or an incident commander's `ic-approve`. */
  approveAction: 'approve' | 'ic-approve';
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

/** Records an accepted decision in the timeline, marked UNVERIFIED when taken on a name alone. */
export function recordDecision(
  record: ChangeRecord,
  decisions: Decisions,
  decision: { person: string },
  event: string,
  detail?: string,
): void {
  if (decisions.unverified) record.recordUnverified(decision.person, event, detail);
  else record.record(decision.person, event, detail);
}

export class ApprovalAnswers {
  constructor(
    private readonly record: ChangeRecord,
    private readonly rules: ApprovalRules,
    private readonly decisions: Decisions,
  ) {}

  private readApproval(payload: unknown): ReadResult<'approve' | 'ic-approve'> {
    return this.decisions.readAuthorized(this.rules.approveAction, payload, (person) =>
      this.rules.mayApprove(person),
    );
  }

  private readRejection(payload: unknown): ReadResult<'reject'> {
    return this.decisions.readAuthorized('reject', payload, (person) =>
      this.rules.mayReject(person),
    );
  }

  approve(payload: unknown, via: Via): MessageAck {
    const read = this.readApproval(payload);
    if (!read.ok) return refuse(this.record, read.by, 'approve', read.reason, via);
    const { decision } = read;
    const { comment } = decision.args;
    this.decisions.accept(decision);
    const approval: ApprovalRecord = {
      by: decision.person,
      at: now(),
      ...(comment ? { comment } : {}),
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
      ...(this.decisions.unverified ? { unverified: true as const } : {}),
    };
    this.record.addApproval(approval);
    recordDecision(this.record, this.decisions, decision, 'approved', comment);
    this.rules.onApproved?.(approval);
    return ack(this.record);
  }

  reject(payload: unknown, via: Via): MessageAck {
    const read = this.readRejection(payload);
    if (!read.ok) return refuse(this.record, read.by, 'reject', read.reason, via);
    const { decision } = read;
    this.decisions.accept(decision);
    this.record.setRejected(decision.person, decision.args.reason);
    recordDecision(this.record, this.decisions, decision, 'rejected', decision.args.reason);
    return ack(this.record);
  }

  validateApproval(payload: unknown): void {
    const read = this.readApproval(payload);
    if (!read.ok) throwRefusal(read);
  }

  validateRejection(payload: unknown): void {
    const read = this.readRejection(payload);
    if (!read.ok) throwRefusal(read);
  }
}
