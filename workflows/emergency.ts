import { condition, setHandler } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import { validateDocumentation } from '../src/core/lifecycle/documentation';
import type { ChangeInput, ChangeLog, ChangeStatus, EndState } from '../src/core/lifecycle/status';
import {
  checkIncidentCommanderApproval,
  checkKnownPerson,
  incidentCommanders,
  type Verdict,
} from '../src/core/policy/approvals';
import type { Policy } from '../src/core/policy/schema';
import { blockersAt } from '../src/core/policy/windows';
import { ChangeRun, refusal } from './change-run';
import { documentSignal, documentUpdate, type DocumentationInput } from './messages';

const DAY_MS = 86_400_000;

/**
 * An emergency change, as the seed's emergency workflow has it: declare the incident, get the
 * incident commander's approval (or go ahead under break-glass with the approval owed), execute
 * with a short pre-flight and a best-effort backup, watch closely with the same automatic
 * rollback, and then chase the retroactive change record until it exists.
 */
export async function emergencyChange(input: ChangeInput): Promise<ChangeLog> {
  const run = new ChangeRun(input, 'emergency');
  const { spec } = run.request;
  const emergency: NonNullable<ChangeStatus['emergency']> = {
    incident: spec.incident ?? 'unknown',
    breakGlass: false,
    approvalOwed: false,
    reminders: 0,
    escalations: 0,
    undocumented: false,
  };
  run.status.emergency = emergency;

  const icDecision = (): string | undefined => {
    if (run.status.approvals.rejected) return `rejected by ${run.status.approvals.rejected.by}`;
    if (run.status.emergency?.incidentCommander) {
      return `approved by incident commander ${run.status.emergency.incidentCommander}`;
    }
    return undefined;
  };
  const approvalCheck = (by: string): Verdict =>
    run.policy
      ? checkIncidentCommanderApproval(run.policy, run.request, by, icDecision())
      : { ok: false, reason: 'the change is still loading its policy; try again in a moment' };
  const rejectionCheck = (by: string): Verdict => {
    const verdict = approvalCheck(by);
    if (!verdict.ok) return verdict;
    if (run.status.state !== 'awaiting-ic-approval' && run.status.state !== 'submitted') {
      return {
        ok: false,
        reason: `too late to reject: the change is ${run.status.state}; ask for a rollback instead`,
      };
    }
    return verdict;
  };
  run.registerHandlers(approvalCheck, rejectionCheck, (approval) => {
    emergency.incidentCommander = approval.by;
    if (emergency.approvalOwed) run.record(approval.by, 'owed approval given');
    emergency.approvalOwed = false;
  });

  const documentationCheck = (doc: DocumentationInput): Verdict => {
    if (emergency.documentation)
      return {
        ok: false,
        reason: `already documented by ${emergency.documentation.by} at ${emergency.documentation.at}`,
      };
    if (
      run.status.state === 'rejected' ||
      run.status.state === 'failed' ||
      run.status.state === 'cancelled'
    ) {
      return { ok: false, reason: `the change ended as ${run.status.state}; nothing to document` };
    }
    if (run.policy) {
      const known = checkKnownPerson(run.policy, doc.actor);
      if (!known.ok) return known;
    }
    return validateDocumentation(doc);
  };
  const document = (doc: DocumentationInput, via: 'signal' | 'update') => {
    const verdict = documentationCheck(doc);
    if (!verdict.ok) return run.refuse(doc.actor, 'document', verdict.reason, via);
    const at = new Date().toISOString();
    const late = emergency.documentationDueAt !== undefined && at > emergency.documentationDueAt;
    emergency.documentation = {
      rootCause: doc.rootCause.trim(),
      changed: doc.changed.trim(),
      postIncidentReview: doc.pir.trim(),
      by: doc.actor,
      at,
      late,
    };
    run.record(doc.actor, late ? 'documented (late)' : 'documented', doc.pir);
    return run.ack();
  };
  setHandler(documentSignal, (doc) => void document(doc, 'signal'));
  setHandler(documentUpdate, (doc) => document(doc, 'update'), {
    validator: (doc: DocumentationInput) => {
      const verdict = documentationCheck(doc);
      if (!verdict.ok) throw refusal(verdict.reason);
    },
  });

  return await run.execute(async () => {
    const policy = await run.loadPolicy();
    recordBypasses(run, policy);
    await awaitIncidentCommander(run, policy);
    await run.acquireLocks();
    run.endIfCancelled();
    await run.preflight();
    await run.backup({
      bestEffort: true,
      required: policy.spec.emergency.backupRequired,
      timeoutMs: parseDuration(policy.spec.emergency.backupTimeout) ?? 120_000,
    });
    const tight = policy.spec.emergency.watch;
    const requested = run.request.spec.verification;
    const result = await run.rolloutAndWatch({
      intervalMs: Math.min(
        parseDuration(requested.interval) ?? 30_000,
        parseDuration(tight.interval) ?? 10_000,
      ),
      failureLimit: Math.min(requested.failureLimit, tight.failureLimit),
      inconclusiveLimit: Math.min(requested.inconclusiveLimit, tight.inconclusiveLimit),
    });
    await run.releaseLocks();
    return await awaitDocumentation(run, policy, result);
  });
}

/** Emergencies go ahead through windows and freezes; each one bypassed is on the record. */
function recordBypasses(run: ChangeRun, policy: Policy): void {
  const blockers = blockersAt(policy, run.target, Date.now(), run.neededMs);
  run.status.window.bypassed = blockers;
  run.status.window.scheduledFor = new Date().toISOString();
  for (const blocker of blockers) run.record('policy', `bypassed ${blocker.kind}`, blocker.reason);
}

async function awaitIncidentCommander(run: ChangeRun, policy: Policy): Promise<void> {
  const emergency = run.status.emergency;
  if (!emergency) return;
  const commanders = incidentCommanders(policy).filter(
    (p) => p !== run.request.metadata.requestedBy,
  );
  run.status.approvals.required = {
    minApprovers: 1,
    teams: [],
    preApproved: false,
    reasons: ['emergency: one incident commander, not the requester'],
    summary: `needs an incident commander (${commanders.join(', ') || 'none listed'})`,
  };
  if (run.request.spec.breakGlass) {
    if (policy.spec.emergency.breakGlass) {
      emergency.breakGlass = true;
      emergency.approvalOwed = true;
      run.record(
        run.request.metadata.requestedBy,
        'break-glass declared',
        'going ahead now; the incident commander approval is owed',
      );
      await run.notify(
        'approval-owed',
        `🔓 BREAK-GLASS: ${run.status.id} (${emergency.incident}) went ahead without approval. Incident commander approval owed: changectl approve ${run.status.id}`,
        commanders,
      );
      return;
    }
    run.record(
      'policy',
      'break-glass refused',
      'the policy does not allow break-glass; waiting for an incident commander',
    );
  }
  run.setState('awaiting-ic-approval', run.status.approvals.required.summary);
  await run.notify(
    'approval-requested',
    `🚨 EMERGENCY APPROVAL NEEDED: ${run.status.id} ${run.status.title} (${emergency.incident})\nIncident commander: changectl approve ${run.status.id}`,
    commanders,
  );
  const timeout = policy.spec.emergency.approvalTimeout;
  const answered = await run.interruptible(() =>
    condition(
      () => run.status.approvals.received.length > 0 || run.status.approvals.rejected !== undefined,
      parseDuration(timeout) ?? 1_800_000,
      { summary: 'wait for the incident commander' },
    ),
  );
  if (!answered) run.endIfCancelled();
  const rejected = run.status.approvals.rejected;
  if (rejected) run.end('rejected', `rejected by ${rejected.by}: ${rejected.reason}`);
  if (!answered?.value) run.end('rejected', `no incident commander approved within ${timeout}`);
}

/**
 * The retroactive record: reminders at the policy's times after the change, an escalation at
 * the deadline and then every day up to the policy's limit; break-glass approvals still owed are
 * chased alongside. At the limit the change ends flagged undocumented.
 */
async function awaitDocumentation(
  run: ChangeRun,
  policy: Policy,
  result: { state: EndState; outcome: string },
): Promise<{ state: EndState; outcome: string }> {
  const emergency = run.status.emergency;
  if (!emergency) return result;
  const rules = policy.spec.emergency.documentation;
  const endedAt = Date.now();
  const deadlineMs = parseDuration(rules.deadline) ?? DAY_MS;
  const escalateMs = parseDuration(rules.escalateEvery) ?? DAY_MS;
  const limitAt = endedAt + rules.maxDays * DAY_MS;
  emergency.documentationDueAt = new Date(endedAt + deadlineMs).toISOString();
  const missing = () =>
    [
      emergency.documentation
        ? ''
        : 'the change record (root cause, what changed, post-incident review link)',
      emergency.approvalOwed && !run.status.emergency?.incidentCommander
        ? 'the incident commander approval'
        : '',
    ]
      .filter(Boolean)
      .join(' and ');
  const settled = () => missing() === '';
  emergency.approvalOwed = emergency.approvalOwed && !emergency.incidentCommander;
  if (settled()) return result;

  run.setState('awaiting-documentation', `owed: ${missing()}; due ${emergency.documentationDueAt}`);
  const reminders = rules.reminders
    .map((r) => endedAt + (parseDuration(r) ?? 0))
    .filter((t) => t < endedAt + deadlineMs);
  const escalations: number[] = [];
  for (let t = endedAt + deadlineMs; t <= limitAt; t += escalateMs) escalations.push(t);
  const schedule = [
    ...reminders.map((at) => ({ at, kind: 'reminder' as const })),
    ...escalations.map((at) => ({ at, kind: 'escalation' as const })),
  ].sort((a, b) => a.at - b.at);

  for (const next of schedule) {
    const done = await condition(settled, Math.max(1, next.at - Date.now()), {
      summary: `documentation ${next.kind}`,
    });
    if (done) break;
    const owed = missing();
    if (next.kind === 'reminder') {
      emergency.reminders += 1;
      run.record('policy', 'documentation reminder', `owed: ${owed}`);
      await run.notify(
        'documentation-reminder',
        `📝 REMINDER: emergency change ${run.status.id} (${emergency.incident}) still owes ${owed}; due ${emergency.documentationDueAt}.\nchangectl document ${run.status.id} --root-cause ... --changed ... --pir <url>`,
        [run.request.metadata.requestedBy],
      );
    } else {
      emergency.escalations += 1;
      run.record(
        'policy',
        'documentation escalation',
        `owed: ${owed} (escalation ${emergency.escalations})`,
      );
      await run.notify(
        'documentation-escalation',
        `🚨 ESCALATION ${emergency.escalations}: emergency change ${run.status.id} (${emergency.incident}) is past its documentation deadline; still owed: ${owed}.`,
        [run.request.metadata.requestedBy, ...incidentCommanders(policy)],
      );
    }
  }
  if (!settled())
    await condition(settled, Math.max(1, limitAt - Date.now()), { summary: 'documentation limit' });

  if (!emergency.documentation) {
    emergency.undocumented = true;
    run.record('policy', 'flagged undocumented', `no change record within ${rules.maxDays} days`);
    return {
      state: result.state,
      outcome: `${result.outcome}; FLAGGED UNDOCUMENTED after ${rules.maxDays} days`,
    };
  }
  if (emergency.approvalOwed && !emergency.incidentCommander) {
    return {
      state: result.state,
      outcome: `${result.outcome}; incident commander approval never given`,
    };
  }
  return {
    state: result.state,
    outcome: `${result.outcome}; documented${emergency.documentation.late ? ' late' : ''} by ${emergency.documentation.by}`,
  };
}
