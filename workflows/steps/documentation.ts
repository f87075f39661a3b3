import { condition } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import { validateDocumentation } from '../../src/core/lifecycle/documentation';
import type { ChangeStatus } from '../../src/core/lifecycle/status';
import type { ActionArgs } from '../../src/core/identity/statement';
import { incidentCommanders, type Verdict } from '../../src/core/policy/approvals';
import { checkAuthority } from '../../src/core/policy/authority';
import type { Policy } from '../../src/core/policy/schema';
import { ack, recordDecision, refuse, type Via } from '../approvals';
import { throwRefusal, type Decisions, type ReadResult } from '../decisions';
import type { Ending } from '../failures';
import type { MessageAck } from '../messages';
import { notify } from '../notify';
import type { Run } from '../profile';
import type { ChangeRecord } from '../record';
import {
  documentationEscalationText,
  documentationReminderText,
} from '../../src/core/lifecycle/messages';

const DAY_MS = 86_400_000;

type EmergencyRecord = NonNullable<ChangeStatus['emergency']>;

/** The retroactive change record of an emergency, as the `document` signal and update give it. */
export class DocumentationAnswers {
  constructor(
    private readonly record: ChangeRecord,
    private readonly emergency: EmergencyRecord,
    private readonly decisions: Decisions,
  ) {}

  private check(person: string, doc: ActionArgs<'document'>): Verdict {
    const { emergency, record } = this;
    if (emergency.documentation)
      return {
        ok: false,
        reason: `already documented by ${emergency.documentation.by} at ${emergency.documentation.at}`,
      };
    if (record.state === 'rejected' || record.state === 'failed' || record.state === 'cancelled') {
      return { ok: false, reason: `the change ended as ${record.state}; nothing to document` };
    }
    const parties = record.parties();
    if (parties) {
      const authority = checkAuthority(parties, 'document', person);
      if (!authority.ok) return authority;
    }
    return validateDocumentation(doc);
  }

  private read(payload: unknown): ReadResult<'document'> {
    return this.decisions.readAuthorized('document', payload, (person, doc) =>
      this.check(person, doc),
    );
  }

  document(payload: unknown, via: Via): MessageAck {
    const read = this.read(payload);
    if (!read.ok) return refuse(this.record, read.by, 'document', read.reason, via);
    const { decision } = read;
    const doc = decision.args;
    this.decisions.accept(decision);
    const { emergency } = this;
    const at = new Date().toISOString();
    const late = emergency.documentationDueAt !== undefined && at > emergency.documentationDueAt;
    emergency.documentation = {
      rootCause: doc.rootCause.trim(),
      changed: doc.changed.trim(),
      postIncidentReview: doc.pir.trim(),
      by: decision.person,
      at,
      late,
    };
    recordDecision(
      this.record,
      this.decisions,
      decision,
      late ? 'documented (late)' : 'documented',
      doc.pir,
    );
    return ack(this.record);
  }

  validate(payload: unknown): void {
    const read = this.read(payload);
    if (!read.ok) throwRefusal(read);
  }
}

/**
 * The retroactive record: reminders at the policy's times after the change, an escalation at
 * the deadline and then every day up to the policy's limit; break-glass approvals still owed are
 * chased alongside. At the limit the change ends flagged undocumented.
 */
export async function awaitDocumentation(
  run: Run,
  policy: Policy,
  result: Ending,
): Promise<Ending> {
  const { record } = run;
  const emergency = record.status.emergency;
  if (!emergency) return result;
  const requester = record.request.metadata.requestedBy;
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
      emergency.approvalOwed && !record.status.emergency?.incidentCommander
        ? 'the incident commander approval'
        : '',
    ]
      .filter(Boolean)
      .join(' and ');
  const settled = () => missing() === '';
  emergency.approvalOwed = emergency.approvalOwed && !emergency.incidentCommander;
  if (settled()) return result;

  record.setState(
    'awaiting-documentation',
    `owed: ${missing()}; due ${emergency.documentationDueAt}`,
  );
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
      record.record('policy', 'documentation reminder', `owed: ${owed}`);
      await notify(
        run,
        'documentation-reminder',
        documentationReminderText(record.status, emergency, owed),
        [requester],
      );
    } else {
      emergency.escalations += 1;
      record.record(
        'policy',
        'documentation escalation',
        `owed: ${owed} (escalation ${emergency.escalations})`,
      );
      await notify(
        run,
        'documentation-escalation',
        documentationEscalationText(record.status, emergency, owed),
        [requester, ...incidentCommanders(policy)],
      );
    }
  }
  if (!settled())
    await condition(settled, Math.max(1, limitAt - Date.now()), { summary: 'documentation limit' });

  if (!emergency.documentation) {
    emergency.undocumented = true;
    record.record(
      'policy',
      'flagged undocumented',
      `no change record within ${rules.maxDays} days`,
    );
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
