import { setHandler } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import type { ChangeInput, ChangeLog } from '../src/core/lifecycle/status';
import type { Policy } from '../src/core/policy/schema';
import { changeActivities } from './activities';
import { ApprovalAnswers } from './approvals';
import { Decisions, signedDecisionsEnforced } from './decisions';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  decideSignal,
  extendSignal,
  lockGrantedSignal,
  rejectSignal,
  rejectUpdate,
  rescheduleSignal,
  rollbackSignal,
  statusQuery,
} from './messages';
import { OperatorRequests } from './operator';
import { longestMs, type LifecycleProfile, type Run } from './profile';
import { ChangeRecord } from './record';
import { awaitApprovals, plannedApprovalRules } from './steps/approvals';
import { admit } from './steps/admission';
import { backup } from './steps/backup';
import { complete, conclude } from './steps/conclude';
import { ServiceLocks } from './steps/locks';
import { preflight } from './steps/preflight';
import { assessRiskUnderPolicy } from './steps/risk';
import { rollBack } from './steps/rollback';
import { rollOut } from './steps/rollout';
import { watch } from './steps/watch';
import { awaitWindowAndLock } from './steps/window';

/**
 * A planned change (standard or normal), as the runbook has it: request, risk assessment,
 * approvals, wait for the maintenance window, one change per service at a time, pre-flight,
 * backup, rollout, watch, and completed or rolled back.
 */
export async function plannedChange(input: ChangeInput): Promise<ChangeLog> {
  const record = new ChangeRecord(input);
  const decisions = new Decisions(record, signedDecisionsEnforced());
  const operator = new OperatorRequests(record, decisions);
  const locks = new ServiceLocks(record, decisions.enforced);
  const approvals = new ApprovalAnswers(record, plannedApprovalRules(record), decisions);
  const run: Run = { record, decisions, operator, locks, activities: changeActivities };

  setHandler(statusQuery, () => record.summary());
  setHandler(approveSignal, (approval) => void approvals.approve(approval, 'signal'));
  setHandler(approveUpdate, (approval) => approvals.approve(approval, 'update'), {
    validator: (approval: unknown) => approvals.validateApproval(approval),
  });
  setHandler(rejectSignal, (rejection) => void approvals.reject(rejection, 'signal'));
  setHandler(rejectUpdate, (rejection) => approvals.reject(rejection, 'update'), {
    validator: (rejection: unknown) => approvals.validateRejection(rejection),
  });
  setHandler(cancelSignal, (request) => operator.cancel(request));
  setHandler(rollbackSignal, (request) => operator.rollback(request));
  setHandler(extendSignal, (request) => operator.extend(request));
  setHandler(rescheduleSignal, (request) => operator.reschedule(request));
  setHandler(decideSignal, (decision) => operator.decide(decision));
  setHandler(lockGrantedSignal, (grant) => locks.grant(grant));

  return await conclude(run, async () => {
    const policy = await assessRiskUnderPolicy(run);
    admit(run, policy);
    const profile = plannedProfile(record, policy);
    await awaitApprovals(run, policy);
    await awaitWindowAndLock(run, profile, policy);
    await preflight(run, profile);
    await backup(run, profile);
    const rollout = await rollOut(run, profile);
    let failure = rollout.failure;
    if (rollout.rolledOut) {
      const verdict = await watch(run, profile);
      if (verdict.passed) return await complete(run, rollout);
      failure = verdict.reason;
    }
    const reason = operator.rollbackRequest?.reason ?? failure ?? 'rollback';
    return await rollBack(run, reason, rollout.result);
  });
}

/**
 * A planned change stops at any failed pre-flight check and outside its window, needs its
 * backup, watches as the request asks (no shorter than its risk's minimum) and, on an
 * inconclusive watch, does what the policy says.
 */
function plannedProfile(record: ChangeRecord, policy: Policy): LifecycleProfile {
  const { verification } = record.request.spec;
  const { onInconclusive, holdTimeout } = policy.spec.verification;
  return {
    emergency: false,
    preflight: { alerts: 'block', baseline: 'block', window: 'check' },
    backup: { mode: 'required' },
    watch: {
      watchMs: longestMs(
        verification.watch,
        policy.spec.risk.requires[record.status.risk]?.minWatch,
      ),
      intervalMs: parseDuration(verification.interval) ?? 30_000,
      failureLimit: verification.failureLimit,
      inconclusiveLimit: verification.inconclusiveLimit,
    },
    inconclusive:
      onInconclusive === 'hold' ? { action: 'hold', holdTimeout } : { action: 'rollback' },
  };
}
