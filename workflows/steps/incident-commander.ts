import { condition } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import {
  checkIncidentCommanderApproval,
  incidentCommanders,
  type Verdict,
} from '../../src/core/policy/approvals';
import type { Policy } from '../../src/core/policy/schema';
import type { ApprovalRules } from '../approvals';
import { endChange, policyLoading } from '../failures';
import { notify } from '../notify';
import type { Run } from '../profile';
import type { ChangeRecord } from '../record';
import { breakGlassText, emergencyApprovalNeededText } from '../../src/core/lifecycle/messages';

/**
 * Who may approve and reject an emergency: one incident commander, not the requester; a
 * rejection only while the change still waits. The first approval names the commander and
 * settles an approval owed under break-glass.
 */
export function incidentCommanderRules(record: ChangeRecord): ApprovalRules {
  const icDecision = (): string | undefined => {
    const { approvals, emergency } = record.status;
    if (approvals.rejected) return `rejected by ${approvals.rejected.by}`;
    if (emergency?.incidentCommander) {
      return `approved by incident commander ${emergency.incidentCommander}`;
    }
    return undefined;
  };
  const mayApprove = (by: string): Verdict =>
    record.policy
      ? checkIncidentCommanderApproval(record.policy, record.request, by, icDecision())
      : policyLoading;
  return {
    approveAction: 'ic-approve',
    mayApprove,
    mayReject: (by) => {
      const verdict = mayApprove(by);
      if (!verdict.ok) return verdict;
      if (record.state !== 'awaiting-ic-approval' && record.state !== 'submitted') {
        return {
          ok: false,
          reason: `too late to reject: the change is ${record.state}; ask for a rollback instead`,
        };
      }
      return verdict;
    },
    onApproved: (approval) => {
      const { emergency } = record.status;
      if (!emergency) return;
      emergency.incidentCommander = approval.by;
      if (emergency.approvalOwed) record.record(approval.by, 'owed approval given');
      emergency.approvalOwed = false;
    },
  };
}

/**
 * The incident commander's approval, or break-glass where the policy allows it (going ahead
 * now, the approval owed); rejected, or unanswered within the policy's timeout, the change ends.
 */
export async function awaitIncidentCommander(run: Run, policy: Policy): Promise<void> {
  const { record, operator } = run;
  const emergency = record.status.emergency;
  if (!emergency) return;
  const { metadata, spec } = record.request;
  const commanders = incidentCommanders(policy).filter((p) => p !== metadata.requestedBy);
  record.status.approvals.required = {
    minApprovers: 1,
    teams: [],
    preApproved: false,
    reasons: ['emergency: one incident commander, not the requester'],
    summary: `needs an incident commander (${commanders.join(', ') || 'none listed'})`,
  };
  if (spec.breakGlass) {
    if (policy.spec.emergency.breakGlass) {
      emergency.breakGlass = true;
      emergency.approvalOwed = true;
      record.record(
        metadata.requestedBy,
        'break-glass declared',
        'going ahead now; the incident commander approval is owed',
      );
      await notify(run, 'approval-owed', breakGlassText(record.status, emergency), commanders);
      return;
    }
    record.record(
      'policy',
      'break-glass refused',
      'the policy does not allow break-glass; waiting for an incident commander',
    );
  }
  record.setState('awaiting-ic-approval', record.status.approvals.required.summary);
  await notify(
    run,
    'approval-requested',
    emergencyApprovalNeededText(record.status, emergency),
    commanders,
  );
  const timeout = policy.spec.emergency.approvalTimeout;
  const { approvals } = record.status;
  const answered = await operator.interruptible(() =>
    condition(
      () => approvals.received.length > 0 || approvals.rejected !== undefined,
      parseDuration(timeout) ?? 1_800_000,
      { summary: 'wait for the incident commander' },
    ),
  );
  if (!answered) operator.endIfCancelled();
  const rejected = approvals.rejected;
  if (rejected) endChange('rejected', `rejected by ${rejected.by}: ${rejected.reason}`);
  if (!answered?.value) endChange('rejected', `no incident commander approved within ${timeout}`);
}
