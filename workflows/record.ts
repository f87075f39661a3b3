/**
 * The change record: the status the `status` query shows and its timeline. Steps and handlers
 * change it through the mutators here; what the change does next is decided elsewhere.
 */
import {
  ApplicationFailure,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { changeRequestSchema, type ChangeRequest } from '../src/core/change/request';
import { validateWith, ValidationError } from '../src/core/change/validation';
import { FailureType } from '../src/core/errors';
import type { DecisionEvidence } from '../src/core/identity/evidence';
import { requestDigest, type SignedStatement } from '../src/core/identity/statement';
import type {
  DeploymentState,
  RestoreResult,
  RollbackResult,
  RolloutResult,
  WatchResult,
} from '../src/core/contracts';
import type {
  ChangeInput,
  ChangeState,
  ChangeStatus,
  PreflightCheck,
  RefusedAttempt,
} from '../src/core/lifecycle/status';
import { MAX_REFUSED_KEPT } from '../src/core/lifecycle/status';
import type { ApprovalRecord } from '../src/core/policy/approvals';
import type { ChangeParties } from '../src/core/policy/authority';
import { identityModeOf, type Policy } from '../src/core/policy/schema';
import { changeStateKey, riskLevelKey } from '../src/core/search-attributes';
import type { RiskAssessment } from '../src/core/policy/risk';

/** What the status, the UI and notifications say of a change whose policy trusts names. */
export const UNVERIFIED_NOTE =
  'UNVERIFIED: decisions on this change are taken on the stated name (policy identity.mode: names)';

/** The actor of the workflow's own entries. */
export const SYSTEM = 'changectl';

export function now(): string {
  return new Date().toISOString();
}

/** The request validated again inside the workflow, by the same rules as the CLI's loader. */
export function validateChangeInput(input: ChangeInput): ChangeRequest {
  try {
    return validateWith(changeRequestSchema, input?.request, 'change request');
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw ApplicationFailure.create({
      type: FailureType.InvalidRequest,
      nonRetryable: true,
      message: `change request is invalid: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      details: [err.issues],
    });
  }
}

const refusedEvent: Record<RefusedAttempt['action'], string> = {
  submit: 'submission refused',
  approve: 'approve refused',
  'ic-approve': 'approve refused',
  reject: 'reject refused',
  cancel: 'cancel refused',
  rollback: 'rollback refused',
  extend: 'extend refused',
  reschedule: 'reschedule refused',
  decide: 'decision refused',
  document: 'documentation refused',
};

export class ChangeRecord {
  readonly request: ChangeRequest;
  readonly status: ChangeStatus;
  /** The policy, once loaded; handlers refuse what needs it until then. */
  policy?: Policy;
  /** How an operator undoes the rollout by hand; from the readiness check. */
  rollbackCommand = '';
  /** The failed rollback already paged people; the end must not page them a second time. */
  rollbackFailureAnnounced = false;
  /** The requester's signed submission, as the change was started with it (checked later). */
  readonly submission?: SignedStatement;

  constructor(input: ChangeInput) {
    this.request = validateChangeInput(input);
    this.submission = input.submission;
    const { metadata, spec } = this.request;
    this.status = {
      id: metadata.id,
      workflowId: workflowInfo().workflowId,
      type: spec.type,
      title: metadata.title,
      requestedBy: metadata.requestedBy,
      state: 'submitted',
      environment: spec.environment,
      namespace: spec.namespace,
      services: [...spec.services],
      description: spec.description,
      reason: spec.reason,
      impact: spec.impact,
      risk: spec.risk,
      riskDeclared: spec.risk,
      riskRaisedBy: [],
      submittedAt: now(),
      requestDigest: requestDigest(this.request),
      request: this.request,
      decisions: [],
      approvals: {
        required: { minApprovers: 0, teams: [], preApproved: false, reasons: [], summary: '' },
        received: [],
        refused: [],
        refusedCount: 0,
      },
      window: { notBefore: spec.window?.notBefore, windowNames: [], bypassed: [] },
      preflight: { checks: [] },
      backup: {},
      rollout: {
        strategy: spec.rollout.strategy,
        deployment: spec.rollout.target.name,
        image: spec.rollout.image,
      },
      verification: { outcome: 'not-run', baseline: {}, evaluations: [] },
      timeline: [],
    };
    this.record(metadata.requestedBy, 'submitted', `${spec.type} change: ${metadata.title}`);
  }

  get id(): string {
    return this.status.id;
  }

  get state(): ChangeState {
    return this.status.state;
  }

  /** What the `status` query answers: a copy, so no caller sees or keeps the live record. */
  summary(): ChangeStatus {
    return JSON.parse(JSON.stringify(this.status)) as ChangeStatus;
  }

  record(actor: string, event: string, detail?: string): void {
    this.status.timeline.push({ at: now(), actor, event, ...(detail ? { detail } : {}) });
  }

  /** A decision taken on the stated name alone: marked `unverified` (the CLI shows UNVERIFIED). */
  recordUnverified(actor: string, event: string, detail?: string): void {
    this.status.timeline.push({
      at: now(),
      actor,
      event,
      ...(detail ? { detail } : {}),
      unverified: true,
    });
  }

  setState(state: ChangeState, detail?: string): void {
    if (this.status.state === state) return;
    this.status.state = state;
    this.record(SYSTEM, `state: ${state}`, detail);
    upsertSearchAttributes([{ key: changeStateKey, value: state }]);
    this.refreshDetails();
  }

  /** The current details the Temporal UI shows for the run. */
  refreshDetails(): void {
    const s = this.status;
    const lines = [`**${s.state}** — ${s.id}: ${s.title}`];
    if (s.state === 'awaiting-approval') lines.push(s.approvals.required.summary);
    if (s.window.waitingFor) lines.push(s.window.waitingFor);
    if (s.backup.name) lines.push(`Backup: ${s.backup.name} (${s.backup.restoreCommand ?? ''})`);
    if (s.verification.summary) lines.push(`Verification: ${s.verification.summary}`);
    if (s.outcome) lines.push(s.outcome);
    if (s.identityMode === 'names') lines.push(UNVERIFIED_NOTE);
    setCurrentDetails(lines.join('\n\n'));
  }

  setPolicy(policy: Policy, risk: RiskAssessment): void {
    this.policy = policy;
    this.status.identityMode = identityModeOf(policy);
    this.status.risk = risk.level;
    this.status.riskRaisedBy = risk.raisedBy;
    upsertSearchAttributes([{ key: riskLevelKey, value: risk.level }]);
  }

  addApproval(approval: ApprovalRecord): void {
    this.status.approvals.received.push(approval);
  }

  setRejected(by: string, reason: string): void {
    this.status.approvals.rejected = { by, at: now(), reason };
  }

  /** Who the policy lets act on this change, for `checkAuthority`; undefined until it is loaded. */
  parties(): ChangeParties | undefined {
    if (!this.policy) return undefined;
    const { required, received } = this.status.approvals;
    return { policy: this.policy, request: this.request, requiredTeams: required.teams, received };
  }

  /** Keeps an accepted decision's proof for the change log. */
  addDecision(evidence: DecisionEvidence): void {
    this.status.decisions.push(evidence);
  }

  /**
   * Keeps a refused message on the record: the latest MAX_REFUSED_KEPT itemised (and in the
   * timeline), all of them counted, so a flood of bad messages cannot grow the record.
   */
  addRefusal(
    by: string,
    action: RefusedAttempt['action'],
    reason: string,
    via: 'signal' | 'update',
  ): void {
    const { approvals } = this.status;
    approvals.refusedCount += 1;
    approvals.refused.push({ by, at: now(), reason, action, via });
    if (approvals.refused.length > MAX_REFUSED_KEPT) approvals.refused.shift();
    if (approvals.refusedCount <= MAX_REFUSED_KEPT) {
      this.record(by, refusedEvent[action], reason);
    } else if (approvals.refusedCount === MAX_REFUSED_KEPT + 1) {
      this.record(
        SYSTEM,
        'refusals no longer itemised here',
        `more than ${MAX_REFUSED_KEPT} refused messages; approvals.refused keeps the latest ${MAX_REFUSED_KEPT} and approvals.refusedCount counts them all`,
      );
    }
  }

  setWaitingFor(waitingFor: string | undefined): void {
    this.status.window.waitingFor = waitingFor;
  }

  setOutcome(outcome: string): void {
    this.status.outcome = outcome;
    this.status.endedAt = now();
  }

  // Pre-flight

  addCheck(check: PreflightCheck): void {
    this.status.preflight.checks.push(check);
  }

  /** Marks the latest check failed (it ran, but what it found stops the change). */
  failLastCheck(): void {
    const checks = this.status.preflight.checks;
    const last = checks[checks.length - 1];
    if (last) last.ok = false;
  }

  /** The deployment before the change and how to undo the rollout by hand. */
  setBefore(before: DeploymentState, rollbackCommand: string): void {
    this.status.rollout.before = before;
    this.rollbackCommand = rollbackCommand;
  }

  setBaseline(baseline: Record<string, number | null>): void {
    this.status.verification.baseline = baseline;
  }

  // Backup

  setBackup(backup: { name: string; restoreCommand: string; phase: string }): void {
    this.status.backup = {
      name: backup.name,
      restoreCommand: backup.restoreCommand,
      phase: backup.phase,
    };
  }

  setBackupError(message: string): void {
    this.status.backup.error = message;
  }

  setRestore(restore: RestoreResult): void {
    this.status.backup.restore = restore;
  }

  // Rollout and rollback

  setRolloutResult(result: RolloutResult): void {
    this.status.rollout.result = result;
  }

  setCanaryWeight(weight: number): void {
    this.status.rollout.canaryWeight = weight;
  }

  setRollback(rollback: RollbackResult & { reason: string; at: string }): void {
    this.status.rollout.rollback = rollback;
  }

  // Watch

  startWatch(startedAt: number, endsAt: number): void {
    const verification = this.status.verification;
    verification.outcome = 'pending';
    verification.watchStartedAt = new Date(startedAt).toISOString();
    verification.watchEndsAt = new Date(endsAt).toISOString();
  }

  /** An `extend` moved the running watch's end. */
  moveWatchEnd(endsAt: number): void {
    this.status.verification.watchEndsAt = new Date(endsAt).toISOString();
  }

  /** The watch was cut short: no verdict, so it never passes. */
  stopWatch(reason: string): void {
    this.status.verification.outcome = 'inconclusive';
    this.status.verification.summary = `watch stopped early: ${reason}`;
  }

  setWatchResult(result: WatchResult): void {
    const verification = this.status.verification;
    verification.outcome = result.outcome;
    verification.summary = result.reason;
    verification.evaluations = result.state.recent;
  }

  setVerificationSummary(summary: string): void {
    this.status.verification.summary = summary;
  }

  /** Until when an inconclusive watch waits for a `decide`; undefined once it stops waiting. */
  setDecisionDeadline(until: string | undefined): void {
    this.status.verification.awaitingDecisionUntil = until;
  }
}
