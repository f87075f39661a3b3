import { setHandler } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import type { ChangeInput, ChangeLog } from '../src/core/lifecycle/status';
import type { Policy } from '../src/core/policy/schema';
import { changeActivities } from './activities';
import { ApprovalAnswers } from './approvals';
import { Decisions, signedDecisionsEnforced } from './decisions';
import type { Ending } from './failures';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  decideSignal,
  documentSignal,
  documentUpdate,
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
import { admit } from './steps/admission';
import { backup } from './steps/backup';
import { complete, conclude } from './steps/conclude';
import { awaitDocumentation, DocumentationAnswers } from './steps/documentation';
import { awaitIncidentCommander, incidentCommanderRules } from './steps/incident-commander';
import { acquireLocks, releaseLocks, ServiceLocks } from './steps/locks';
import { preflight } from './steps/preflight';
import { assessRiskUnderPolicy } from './steps/risk';
import { rollBack } from './steps/rollback';
import { rollOut } from './steps/rollout';
import { watch } from './steps/watch';
import { recordBypasses } from './steps/window';

/**
 * An emergency change, as the seed's emergency workflow has it: declare the incident, get the
 * incident commander's approval (or go ahead under break-glass with the approval owed), execute
 * with a short pre-flight and a best-effort backup, watch closely with the same automatic
 * rollback, and then chase the retroactive change record until it exists.
 */
export async function emergencyChange(input: ChangeInput): Promise<ChangeLog> {
  const record = new ChangeRecord(input);
  const emergency = {
    incident: record.request.spec.incident ?? 'unknown',
    breakGlass: false,
    approvalOwed: false,
    reminders: 0,
    escalations: 0,
    undocumented: false,
  };
  record.status.emergency = emergency;
  const decisions = new Decisions(record, signedDecisionsEnforced());
  const operator = new OperatorRequests(record, decisions);
  const locks = new ServiceLocks(record, decisions.enforced);
  const approvals = new ApprovalAnswers(record, incidentCommanderRules(record), decisions);
  const documentation = new DocumentationAnswers(record, emergency, decisions);
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
  setHandler(documentSignal, (doc) => void documentation.document(doc, 'signal'));
  setHandler(documentUpdate, (doc) => documentation.document(doc, 'update'), {
    validator: (doc: unknown) => documentation.validate(doc),
  });

  return await conclude(run, async () => {
    const policy = await assessRiskUnderPolicy(run);
    admit(run, policy);
    const profile = emergencyProfile(record, policy);
    recordBypasses(record, profile, policy);
    await awaitIncidentCommander(run, policy);
    await acquireLocks(run, profile);
    operator.endIfCancelled();
    await preflight(run, profile);
    await backup(run, profile);
    const rollout = await rollOut(run, profile);
    let failure = rollout.failure;
    let ending: Ending | undefined;
    if (rollout.rolledOut) {
      const verdict = await watch(run, profile);
      if (verdict.passed) ending = await complete(run, rollout);
      else failure = verdict.reason;
    }
    ending ??= await rollBack(
      run,
      operator.rollbackRequest?.reason ?? failure ?? 'rollback',
      rollout.result,
    );
    await releaseLocks(run);
    return await awaitDocumentation(run, policy, ending);
  });
}

/**
 * An emergency records firing alerts instead of stopping on them (they are why it runs), goes
 * on without a baseline, bypasses windows, backs up within the policy's time (required only if
 * the policy says so), watches more tightly, and rolls back on an inconclusive watch.
 */
function emergencyProfile(record: ChangeRecord, policy: Policy): LifecycleProfile {
  const requested = record.request.spec.verification;
  const rules = policy.spec.emergency;
  const tight = rules.watch;
  return {
    emergency: true,
    preflight: { alerts: 'record', baseline: 'record', window: 'bypass' },
    backup: {
      mode: rules.backupRequired ? 'required' : 'best-effort',
      timeoutMs: parseDuration(rules.backupTimeout) ?? 120_000,
    },
    watch: {
      watchMs: longestMs(
        requested.watch,
        policy.spec.risk.requires[record.status.risk]?.minWatch,
        tight.watch,
      ),
      intervalMs: Math.min(
        parseDuration(requested.interval) ?? 30_000,
        parseDuration(tight.interval) ?? 10_000,
      ),
      failureLimit: Math.min(requested.failureLimit, tight.failureLimit),
      inconclusiveLimit: Math.min(requested.inconclusiveLimit, tight.inconclusiveLimit),
    },
    inconclusive: { action: 'rollback' },
  };
}
