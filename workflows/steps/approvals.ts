import { condition } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import {
  checkApproval,
  checkRejection,
  quorumStatus,
  requiredApprovals,
} from '../../src/core/policy/approvals';
import type { Policy } from '../../src/core/policy/schema';
import { approvalSummary, type ApprovalRules } from '../approvals';
import { endChange, policyLoading } from '../failures';
import { notify } from '../notify';
import type { Run } from '../profile';
import type { ChangeRecord } from '../record';
import { approvalNeededText, approvalReminderText } from '../../src/core/lifecycle/messages';

/** The decision, once made: approvals complete, rejected, or the change moved on or ended. */
function decidedAlready(record: ChangeRecord): string | undefined {
  const { approvals, state } = record.status;
  if (approvals.rejected) return `rejected by ${approvals.rejected.by}`;
  if (state !== 'awaiting-approval' && state !== 'submitted') return `the change is ${state}`;
  if (record.policy && quorumStatus(record.policy, approvals.required, approvals.received).met) {
    return 'approvals are complete';
  }
  return undefined;
}

/** Who may approve and reject a planned change: the policy's approvers, until it is decided. */
export function plannedApprovalRules(record: ChangeRecord): ApprovalRules {
  return {
    approveAction: 'approve',
    mayApprove: (by) =>
      record.policy
        ? checkApproval(
            record.policy,
            record.request,
            record.status.approvals.required,
            record.status.approvals.received,
            by,
            decidedAlready(record),
          )
        : policyLoading,
    mayReject: (by) =>
      record.policy
        ? checkRejection(record.policy, record.request, by, decidedAlready(record))
        : policyLoading,
    // The status shows what is still missing as soon as an approval lands, not when the
    // approval loop next wakes (which is only at quorum, a reminder or expiry).
    onApproved: () => {
      record.status.approvals.required.summary = approvalSummary(record);
    },
  };
}

/**
 * Approval flow: the quorum the policy asks for (distinct approvers, a member of each required
 * team, no self-approval), with reminders, until approved, rejected, cancelled or expired.
 */
export async function awaitApprovals(run: Run, policy: Policy): Promise<void> {
  const { record, operator } = run;
  const { approvals } = record.status;
  const required = requiredApprovals(policy, record.request, record.status.risk);
  approvals.required = { ...required, summary: quorumStatus(policy, required, []).summary };
  if (required.preApproved) {
    approvals.required.summary = 'pre-approved';
    record.record('policy', 'pre-approved', required.reasons.join('; '));
    return;
  }
  record.setState('awaiting-approval', approvals.required.summary);
  const expiryMs =
    policy.spec.approvals.expiry === 'never'
      ? undefined
      : parseDuration(policy.spec.approvals.expiry);
  const reminderMs = policy.spec.approvals.reminderEvery
    ? parseDuration(policy.spec.approvals.reminderEvery)
    : undefined;
  const expiresAt = expiryMs === undefined ? undefined : Date.now() + expiryMs;
  if (expiresAt !== undefined) approvals.expiresAt = new Date(expiresAt).toISOString();
  const quorum = () => quorumStatus(policy, approvals.required, approvals.received);
  await notify(run, 'approval-requested', approvalNeededText(record.status));

  for (;;) {
    const decided = () =>
      quorum().met || approvals.rejected !== undefined || operator.cancelRequest !== undefined;
    const untilExpiry = expiresAt === undefined ? undefined : Math.max(0, expiresAt - Date.now());
    const wait = [untilExpiry, reminderMs].filter((x): x is number => x !== undefined);
    if (wait.length === 0) await condition(decided);
    else
      await condition(decided, Math.min(...wait), {
        summary:
          untilExpiry !== undefined && untilExpiry <= (reminderMs ?? Infinity)
            ? 'approval expiry'
            : 'approval reminder',
      });

    approvals.required.summary = quorum().summary;
    operator.endIfCancelled();
    const rejected = approvals.rejected;
    if (rejected) endChange('rejected', `rejected by ${rejected.by}: ${rejected.reason}`);
    if (quorum().met) {
      record.record('policy', 'approvals complete', approvals.received.map((a) => a.by).join(', '));
      return;
    }
    if (expiresAt !== undefined && Date.now() >= expiresAt) {
      endChange(
        'rejected',
        `approvals expired after ${policy.spec.approvals.expiry}: ${quorum().summary}`,
      );
    }
    record.record('policy', 'approval reminder', quorum().summary);
    await notify(run, 'approval-reminder', approvalReminderText(record.status, quorum().summary));
  }
}
