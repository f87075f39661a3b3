/**
 * The steps every change goes through, shared by the planned and the emergency lifecycle: the
 * state the `status` query shows, the operator messages, pre-flight, backup, rollout, watch and
 * rollback. The lifecycles in planned.ts and emergency.ts put these steps in their order.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import {
  backupSpecOf,
  changeRequestSchema,
  type ChangeRequest,
  type MetricSpec,
} from '../src/core/change/request';
import { validateWith, ValidationError } from '../src/core/change/validation';
import type {
  DeploymentState,
  NotificationKind,
  RolloutPlan,
  RolloutResult,
  WatchResult,
} from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import { buildChangeLog } from '../src/core/lifecycle/changelog';
import {
  completeText,
  deployingText,
  endedText,
  rolledBackText,
} from '../src/core/lifecycle/messages';
import {
  isEndState,
  type ChangeInput,
  type ChangeLog,
  type ChangeState,
  type ChangeStatus,
  type EndState,
  type RefusedAttempt,
} from '../src/core/lifecycle/status';
import { quorumStatus, type ApprovalRecord, type Verdict } from '../src/core/policy/approvals';
import { assessRisk } from '../src/core/policy/risk';
import type { Policy } from '../src/core/policy/schema';
import { blockersAt, type WindowTarget } from '../src/core/policy/windows';
import { changeStateKey, riskLevelKey } from '../src/core/search-attributes';
import { queryLookbackMs } from '../src/core/verification/lookback';
import {
  kubernetesChecks,
  kubernetesRollouts,
  locks,
  notifications,
  policyActivities,
  prometheusChecks,
  velero,
} from './activities';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  decideSignal,
  extendSignal,
  rejectSignal,
  rejectUpdate,
  rescheduleSignal,
  rollbackSignal,
  statusQuery,
  lockGrantedSignal,
  type ApprovalInput,
  type CancelInput,
  type DecisionInput,
  type MessageAck,
  type RejectionInput,
  type RollbackRequest,
} from './messages';
import { runWatch } from './watch';

export type ChangeKind = 'planned' | 'emergency';

/** Raised inside a step to end the change; caught once, by `ChangeRun.execute`. */
class ChangeEnded extends Error {
  constructor(
    readonly state: EndState,
    readonly outcome: string,
  ) {
    super(outcome);
    this.name = 'ChangeEnded';
  }
}

interface OperatorRequest {
  actor: string;
  reason: string;
  at: string;
}

const SYSTEM = 'changectl';
/** How long the rollback's own verification watches the service after a rollback. */
const ROLLBACK_CHECK_ROUNDS = 3;
/** The longest the check waits for its queries' ranges to hold only post-rollback samples. */
const ROLLBACK_SETTLE_MAX_MS = 10 * 60_000;

function now(): string {
  return new Date().toISOString();
}

/** The root cause's message: activity failures wrap the ApplicationFailure the activity threw. */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** How a refused message is refused to an update's caller: never retried, reason as message. */
export function refusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.Refused,
    message: reason,
    nonRetryable: true,
  });
}

const refusedEvent: Record<RefusedAttempt['action'], string> = {
  approve: 'approve refused',
  reject: 'reject refused',
  document: 'documentation refused',
};

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

export class ChangeRun {
  readonly request: ChangeRequest;
  readonly status: ChangeStatus;
  policy?: Policy;

  cancelRequest?: OperatorRequest;
  rollbackRequest?: OperatorRequest & { restoreBackup: boolean };
  decision?: DecisionInput & { at: string };
  rescheduled = false;
  /** Extra watch time asked for before or during the watch. */
  watchExtensionMs = 0;
  watchEndsAt = 0;

  private grantedLocks = new Set<string>();
  private heldLocks: { lockWorkflowId: string; lockId: string }[] = [];
  /** The scope of the step in progress; operator messages cancel it to interrupt the step. */
  private stepScope?: CancellationScope;
  private rolloutStartedAt?: string;
  /** How an operator undoes the rollout by hand; from the readiness check. */
  rollbackCommand = '';
  /** The failed rollback already paged people; the end must not page them a second time. */
  private rollbackFailureAnnounced = false;

  constructor(
    input: ChangeInput,
    readonly kind: ChangeKind,
  ) {
    this.request = validateChangeInput(input);
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
      approvals: {
        required: { minApprovers: 0, teams: [], preApproved: false, reasons: [], summary: '' },
        received: [],
        refused: [],
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

  // ------------------------------------------------------------------ state and timeline

  record(actor: string, event: string, detail?: string): void {
    this.status.timeline.push({ at: now(), actor, event, ...(detail ? { detail } : {}) });
  }

  setState(state: ChangeState, detail?: string): void {
    if (this.status.state === state) return;
    this.status.state = state;
    this.record(SYSTEM, `state: ${state}`, detail);
    upsertSearchAttributes([{ key: changeStateKey, value: state }]);
    setCurrentDetails(this.currentDetails());
  }

  private currentDetails(): string {
    const s = this.status;
    const lines = [`**${s.state}** — ${s.id}: ${s.title}`];
    if (s.state === 'awaiting-approval') lines.push(s.approvals.required.summary);
    if (s.window.waitingFor) lines.push(s.window.waitingFor);
    if (s.backup.name) lines.push(`Backup: ${s.backup.name} (${s.backup.restoreCommand ?? ''})`);
    if (s.verification.summary) lines.push(`Verification: ${s.verification.summary}`);
    if (s.outcome) lines.push(s.outcome);
    return lines.join('\n\n');
  }

  get target(): WindowTarget {
    return {
      environment: this.request.spec.environment,
      services: this.request.spec.services,
      emergency: this.kind === 'emergency',
    };
  }

  get plan(): RolloutPlan {
    const { spec, metadata } = this.request;
    return {
      changeId: metadata.id,
      namespace: spec.namespace,
      strategy: spec.rollout.strategy,
      deployment: spec.rollout.target.name,
      ...(spec.rollout.target.container ? { container: spec.rollout.target.container } : {}),
      ...(spec.rollout.service ? { service: spec.rollout.service } : {}),
      ...(spec.rollout.image ? { image: spec.rollout.image } : {}),
      ...(spec.rollout.manifests ? { manifests: spec.rollout.manifests } : {}),
      timeoutMs: parseDuration(spec.rollout.timeout) ?? 600_000,
    };
  }

  /** Rollout timeout plus watch: the span a window must leave room for. */
  get neededMs(): number {
    const { rollout } = this.request.spec;
    return (parseDuration(rollout.timeout) ?? 0) + this.watchMs();
  }

  /**
   * The watch period: what the request asks for, but never shorter than its risk level's minimum
   * nor, for an emergency, than the policy's emergency watch.
   */
  watchMs(): number {
    const requested = parseDuration(this.request.spec.verification.watch) ?? 0;
    const minWatch = this.policy?.spec.risk.requires[this.status.risk]?.minWatch;
    const emergencyWatch =
      this.kind === 'emergency' ? this.policy?.spec.emergency.watch.watch : undefined;
    return Math.max(
      requested,
      minWatch ? (parseDuration(minWatch) ?? 0) : 0,
      emergencyWatch ? (parseDuration(emergencyWatch) ?? 0) : 0,
    );
  }

  /** Ends the change from inside a step. */
  end(state: EndState, outcome: string): never {
    throw new ChangeEnded(state, outcome);
  }

  async notify(kind: NotificationKind, text: string, audience?: string[]): Promise<void> {
    try {
      await CancellationScope.nonCancellable(() =>
        notifications.notify({
          kind,
          changeId: this.status.id,
          text,
          ...(audience ? { audience } : {}),
        }),
      );
    } catch (err) {
      this.record(SYSTEM, 'notification failed', `${kind}: ${rootMessage(err)}`);
    }
  }

  // ------------------------------------------------------------------ operator messages

  /**
   * Registers every handler; called before the workflow's first await. `approvalCheck` is the
   * lifecycle's rule for who may approve.
   */
  registerHandlers(
    approvalCheck: (by: string) => Verdict,
    rejectionCheck: (by: string) => Verdict,
    onApproved?: (record: ApprovalRecord) => void,
  ): void {
    setHandler(statusQuery, () => this.status);

    const approve = (input: ApprovalInput, via: 'signal' | 'update'): MessageAck => {
      const verdict = approvalCheck(input.actor);
      if (!verdict.ok) {
        return this.refuse(input.actor, 'approve', verdict.reason, via);
      }
      const record: ApprovalRecord = {
        by: input.actor,
        at: now(),
        ...(input.comment ? { comment: input.comment } : {}),
      };
      this.status.approvals.received.push(record);
      this.record(input.actor, 'approved', input.comment);
      onApproved?.(record);
      return this.ack();
    };
    const reject = (input: RejectionInput, via: 'signal' | 'update'): MessageAck => {
      const verdict = rejectionCheck(input.actor);
      if (!verdict.ok) {
        return this.refuse(input.actor, 'reject', verdict.reason, via);
      }
      this.status.approvals.rejected = { by: input.actor, at: now(), reason: input.reason };
      this.record(input.actor, 'rejected', input.reason);
      return this.ack();
    };

    setHandler(approveSignal, (input) => void approve(input, 'signal'));
    setHandler(approveUpdate, (input) => approve(input, 'update'), {
      validator: (input: ApprovalInput) => {
        const verdict = approvalCheck(input.actor);
        if (!verdict.ok) throw refusal(verdict.reason);
      },
    });
    setHandler(rejectSignal, (input) => void reject(input, 'signal'));
    setHandler(rejectUpdate, (input) => reject(input, 'update'), {
      validator: (input: RejectionInput) => {
        if (!input.reason?.trim()) {
          throw ApplicationFailure.create({
            type: FailureType.InvalidRequest,
            message: 'a rejection needs a reason',
            nonRetryable: true,
          });
        }
        const verdict = rejectionCheck(input.actor);
        if (!verdict.ok) throw refusal(verdict.reason);
      },
    });

    setHandler(cancelSignal, (input: CancelInput) => this.onCancel(input));
    setHandler(rollbackSignal, (input: RollbackRequest) => this.onRollback(input));
    setHandler(extendSignal, (input) => {
      const ms = parseDuration(input.duration);
      if (ms === undefined || ms <= 0) {
        this.record(
          input.actor,
          'extend ignored',
          `not a duration: ${JSON.stringify(input.duration)}`,
        );
        return;
      }
      if (isEndState(this.status.state)) {
        this.record(
          input.actor,
          'extend ignored',
          `the change already ended as ${this.status.state}`,
        );
        return;
      }
      this.watchExtensionMs += ms;
      if (this.watchEndsAt > 0) {
        this.watchEndsAt += ms;
        this.status.verification.watchEndsAt = new Date(this.watchEndsAt).toISOString();
      }
      this.record(input.actor, 'watch extended', `by ${input.duration}`);
    });
    setHandler(rescheduleSignal, (input) => {
      const at = Date.parse(input.notBefore);
      if (Number.isNaN(at)) {
        this.record(
          input.actor,
          'reschedule ignored',
          `not a timestamp: ${JSON.stringify(input.notBefore)}`,
        );
        return;
      }
      if (
        !['submitted', 'awaiting-approval', 'awaiting-ic-approval', 'scheduled'].includes(
          this.status.state,
        )
      ) {
        this.record(
          input.actor,
          'reschedule ignored',
          `the change is ${this.status.state}; too late to move it`,
        );
        return;
      }
      this.status.window.notBefore = new Date(at).toISOString();
      this.rescheduled = true;
      this.record(input.actor, 'rescheduled', `not before ${this.status.window.notBefore}`);
    });
    setHandler(decideSignal, (input: DecisionInput) => {
      if (!this.status.verification.awaitingDecisionUntil) {
        this.record(input.actor, 'decision ignored', 'no decision is pending');
        return;
      }
      this.decision = { ...input, at: now() };
      this.record(input.actor, `decided: ${input.decision}`, input.reason);
    });
    setHandler(lockGrantedSignal, ({ lockId }) => {
      this.grantedLocks.add(lockId);
    });
  }

  /**
   * Keeps a refused approval, rejection or documentation on the record. By signal the sender
   * gets no answer, so the record is all there is; by update the caller also gets the reason.
   */
  refuse(
    by: string,
    action: RefusedAttempt['action'],
    reason: string,
    via: 'signal' | 'update',
  ): MessageAck {
    this.status.approvals.refused.push({ by, at: now(), reason, action, via });
    this.record(by, refusedEvent[action], reason);
    if (via === 'update') throw refusal(reason);
    return this.ack();
  }

  ack(): MessageAck {
    return { state: this.status.state, summary: this.approvalSummary() };
  }

  approvalSummary(): string {
    if (!this.policy) return 'policy not loaded yet';
    return quorumStatus(this.policy, this.status.approvals.required, this.status.approvals.received)
      .summary;
  }

  get rolledOut(): boolean {
    return this.status.state === 'rolling-out' || this.status.state === 'watching';
  }

  private onCancel(input: CancelInput): void {
    const state = this.status.state;
    if (isEndState(state) || state === 'awaiting-documentation') {
      this.record(input.actor, 'cancel ignored', `the change is ${state}`);
      return;
    }
    if (this.cancelRequest) return;
    this.cancelRequest = { actor: input.actor, reason: input.reason, at: now() };
    this.record(input.actor, 'cancel requested', input.reason);
    if (this.rolledOut) {
      this.rollbackRequest = {
        actor: input.actor,
        reason: `cancelled by ${input.actor}: ${input.reason}`,
        at: now(),
        restoreBackup: false,
      };
    }
    this.stepScope?.cancel();
  }

  private onRollback(input: RollbackRequest): void {
    if (!this.rolledOut) {
      this.record(
        input.actor,
        'rollback ignored',
        isEndState(this.status.state)
          ? `the change already ended as ${this.status.state}`
          : `nothing rolled out yet (${this.status.state}); cancel the change instead`,
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
    this.record(
      input.actor,
      'rollback requested',
      input.reason + (input.restoreBackup ? ' (with backup restore)' : ''),
    );
    this.stepScope?.cancel();
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
      this.end(
        'cancelled',
        `cancelled by ${this.cancelRequest.actor}: ${this.cancelRequest.reason}`,
      );
    }
  }

  // ------------------------------------------------------------------ steps

  async loadPolicy(): Promise<Policy> {
    let policy: Policy;
    try {
      policy = await policyActivities.loadPolicy();
    } catch (err) {
      this.end('failed', `policy could not be loaded: ${rootMessage(err)}`);
    }
    this.policy = policy;
    const at = this.status.window.notBefore ? Date.parse(this.status.window.notBefore) : Date.now();
    const risk = assessRisk(policy, this.request, Math.max(at, Date.now()));
    this.status.risk = risk.level;
    this.status.riskRaisedBy = risk.raisedBy;
    upsertSearchAttributes([{ key: riskLevelKey, value: risk.level }]);
    this.record(
      SYSTEM,
      'risk assessed',
      risk.raisedBy.length
        ? `${risk.declared} raised to ${risk.level}: ${risk.raisedBy.join('; ')}`
        : `${risk.level} (as declared)`,
    );
    return policy;
  }

  /** Waits for the lock of every service (in name order, so two changes never deadlock). */
  async acquireLocks(): Promise<boolean> {
    const { spec, metadata } = this.request;
    const { workflowId, taskQueue } = workflowInfo();
    for (const service of [...spec.services].sort()) {
      const lockId = `${spec.environment}/${service}`;
      if (this.heldLocks.some((l) => l.lockId === lockId)) continue;
      const lockWorkflowId = `lock-${spec.environment}-${service}`;
      this.heldLocks.push({ lockWorkflowId, lockId });
      this.status.window.waitingFor = `waiting for the lock on ${lockId} (one change at a time per service)`;
      setCurrentDetails(this.currentDetails());
      await locks.requestServiceLock({
        lockWorkflowId,
        taskQueue,
        lockId,
        changeId: metadata.id,
        workflowId,
        emergency: this.kind === 'emergency',
      });
      const granted = await this.interruptible(() =>
        condition(() => this.grantedLocks.has(lockId)),
      );
      if (!granted) return false;
      this.record(SYSTEM, 'lock acquired', lockId);
    }
    this.status.window.waitingFor = undefined;
    return true;
  }

  async releaseLocks(): Promise<void> {
    const { workflowId } = workflowInfo();
    const held = this.heldLocks;
    this.heldLocks = [];
    for (const lock of held) {
      await CancellationScope.nonCancellable(() =>
        locks.releaseServiceLock({ ...lock, workflowId }),
      );
      if (this.grantedLocks.delete(lock.lockId)) this.record(SYSTEM, 'lock released', lock.lockId);
    }
  }

  /**
   * Pre-flight, the seed's checklist as code: rollback ready, no firing alerts, every query
   * valid, baseline captured, server-side dry run, still inside the window. Any failure ends
   * the change as failed with nothing changed. Emergencies record firing alerts instead of
   * stopping on them, and skip the window check (they bypass windows).
   */
  async preflight(): Promise<DeploymentState> {
    this.setState('preflight');
    const checks = this.status.preflight.checks;
    const metrics = this.request.spec.verification.metrics;
    const check = async <T>(
      name: string,
      run: () => Promise<T>,
      detail: (t: T) => string,
      blocking = true,
    ): Promise<T | undefined> => {
      const outcome = await this.interruptible(async () => {
        try {
          const value = await run();
          checks.push({ name, ok: true, detail: detail(value) });
          return value;
        } catch (err) {
          if (isCancellation(err)) throw err;
          const message = rootMessage(err);
          checks.push({ name, ok: false, detail: message });
          this.record(SYSTEM, `pre-flight: ${name} failed`, message);
          if (blocking)
            this.end('failed', `pre-flight failed: ${name}: ${message}; nothing was changed`);
          return undefined;
        }
      });
      if (!outcome) this.endIfCancelled();
      return outcome?.value;
    };

    const readiness = await check(
      'rollback ready',
      () => kubernetesChecks.checkRollbackReadiness(this.plan),
      (r) =>
        `revision ${r.current.revision} (${Object.values(r.current.images).join(', ')}); rollback: ${r.rollbackCommand}`,
    );
    if (!readiness) this.end('failed', 'pre-flight failed: rollback readiness unknown');
    this.status.rollout.before = readiness.current;
    this.rollbackCommand = readiness.rollbackCommand;

    const selector = this.policy?.spec.verification.alertSelector ?? '';
    const alerts = await check(
      'no firing alerts',
      () => prometheusChecks.firingAlerts({ selector }),
      (a) =>
        a.length === 0 ? 'none firing' : `${a.length} firing: ${a.map((x) => x.name).join(', ')}`,
    );
    if (alerts && alerts.length > 0) {
      const names = alerts.map((a) => a.name).join(', ');
      if (this.kind === 'emergency') {
        this.record(SYSTEM, 'pre-flight: alerts firing (expected during an incident)', names);
      } else {
        const last = checks[checks.length - 1];
        if (last) last.ok = false;
        this.end('failed', `pre-flight failed: alerts firing: ${names}; nothing was changed`);
      }
    }

    await check(
      'queries valid',
      () => prometheusChecks.validateQueries(metrics),
      () => `${metrics.length} queries accepted by Prometheus`,
    );
    const baseline = await check(
      'baseline captured',
      () => prometheusChecks.captureBaseline(metrics),
      (b) =>
        Object.entries(b)
          .map(([k, v]) => `${k}=${v ?? 'no data'}`)
          .join(', '),
      this.kind !== 'emergency',
    );
    this.status.verification.baseline = baseline ?? {};

    await check(
      'server-side dry run',
      () => kubernetesChecks.dryRunRollout(this.plan),
      (d) => `accepted: ${d.objects.join(', ')}`,
    );

    if (this.kind === 'planned' && this.policy) {
      const blockers = blockersAt(this.policy, this.target, Date.now(), this.neededMs);
      const ok = blockers.length === 0;
      checks.push({
        name: 'inside the window',
        ok,
        detail: ok
          ? `room for ${this.request.spec.rollout.timeout} rollout + ${this.watchMs() / 60_000}m watch`
          : blockers.map((b) => b.reason).join('; '),
      });
      if (!ok)
        this.end(
          'failed',
          `pre-flight failed: outside the window: ${blockers.map((b) => b.reason).join('; ')}; nothing was changed`,
        );
    }
    this.record(
      SYSTEM,
      'pre-flight passed',
      checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}`).join(', '),
    );
    return readiness.current;
  }

  /**
   * The Velero backup before the change. `bestEffort` (emergencies) records a failure and goes
   * on unless `required`; otherwise a failed backup ends the change before anything changed.
   */
  async backup(options: {
    bestEffort: boolean;
    required: boolean;
    timeoutMs?: number;
  }): Promise<void> {
    this.setState('backing-up');
    const spec = backupSpecOf(this.request).velero;
    const outcome = await this.interruptible(async () => {
      try {
        const call = {
          changeId: this.status.id,
          includeNamespaces: spec.includeNamespaces,
          snapshotVolumes: spec.snapshotVolumes,
          ttl: spec.ttl,
        };
        const result = options.timeoutMs
          ? await velero.createBackup.executeWithOptions(
              {
                startToCloseTimeout: options.timeoutMs,
                scheduleToCloseTimeout: options.timeoutMs,
                heartbeatTimeout: '1m',
                summary: `Velero backup of ${spec.includeNamespaces.join(', ')} (best effort)`,
              },
              [call],
            )
          : await velero.createBackup.executeWithOptions(
              {
                startToCloseTimeout: '1h',
                heartbeatTimeout: '1m',
                retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
                summary: `Velero backup of ${spec.includeNamespaces.join(', ')}`,
              },
              [call],
            );
        return result;
      } catch (err) {
        if (isCancellation(err) && (this.cancelRequest || this.rollbackRequest)) throw err;
        const message = rootMessage(err);
        this.status.backup.error = message;
        this.record(SYSTEM, 'backup failed', message);
        if (!options.bestEffort || options.required) {
          this.end('failed', `backup failed: ${message}; nothing was changed`);
        }
        return undefined;
      }
    });
    if (!outcome) {
      this.endIfCancelled();
      return;
    }
    const backup = outcome.value;
    if (backup) {
      this.status.backup = {
        name: backup.name,
        restoreCommand: backup.restoreCommand,
        phase: backup.phase,
      };
      this.record(
        SYSTEM,
        'backup completed',
        `${backup.name}; restore with: ${backup.restoreCommand}`,
      );
    }
  }

  /**
   * Rolls out, watches, and rolls back on a breach, an operator's rollback or cancel, or a
   * failed rollout. Returns the end state; the caller ends the change with it.
   */
  async rolloutAndWatch(watch: {
    intervalMs: number;
    failureLimit: number;
    inconclusiveLimit: number;
  }): Promise<{ state: EndState; outcome: string }> {
    const plan = this.plan;
    this.setState('rolling-out');
    this.rolloutStartedAt = now();
    await this.notify(
      'deploying',
      deployingText(this.status, this.rollbackCommand || 'kubectl rollout undo'),
    );

    let rollout: RolloutResult | undefined;
    let failure: string | undefined;
    const rolled = await this.interruptible(async () => {
      try {
        this.record(
          SYSTEM,
          'rollout started',
          `${plan.strategy} rollout of ${plan.deployment} to ${plan.image ?? 'manifests'}`,
        );
        rollout = await kubernetesRollouts.startRollout.executeWithOptions(
          {
            startToCloseTimeout: plan.timeoutMs + 120_000,
            heartbeatTimeout: '30s',
            retry: { initialInterval: '1s', maximumInterval: '30s' },
            summary: `${plan.strategy} rollout of ${plan.deployment} to ${plan.image ?? 'manifests'}`,
          },
          [plan],
        );
        this.status.rollout.result = rollout;
        const steps = this.request.spec.rollout.steps;
        if (plan.strategy === 'canary' && steps) {
          this.record(SYSTEM, 'canary deployed', rollout.message);
          for (const step of steps) {
            if ('setWeight' in step) {
              const split = await kubernetesRollouts.setCanaryWeight.executeWithOptions(
                {
                  startToCloseTimeout: plan.timeoutMs + 120_000,
                  heartbeatTimeout: '30s',
                  summary: `canary weight ${step.setWeight}%`,
                },
                [{ plan, rollout, weight: step.setWeight }],
              );
              this.status.rollout.canaryWeight = split.weight;
              this.record(
                SYSTEM,
                `canary at ${split.weight}%`,
                `${split.canaryReplicas} canary / ${split.stableReplicas} stable replicas`,
              );
            } else {
              await sleep(parseDuration(step.pause) ?? 0, {
                summary: `canary pause ${step.pause}`,
              });
            }
          }
          rollout = await kubernetesRollouts.promoteCanary.executeWithOptions(
            {
              startToCloseTimeout: plan.timeoutMs + 120_000,
              heartbeatTimeout: '30s',
              summary: `promote canary of ${plan.deployment}`,
            },
            [{ plan, rollout }],
          );
          this.status.rollout.result = rollout;
          this.record(SYSTEM, 'canary promoted', rollout.message);
        }
        this.record(SYSTEM, 'rollout complete', rollout.message);
        return true;
      } catch (err) {
        if (isCancellation(err) && this.rollbackRequest) throw err;
        failure = `rollout failed: ${rootMessage(err)}`;
        this.record(SYSTEM, 'rollout failed', rootMessage(err));
        return false;
      }
    });

    if (rolled?.value) {
      this.setState('watching');
      const verdict = await this.watch(watch);
      if (verdict.passed) {
        await CancellationScope.nonCancellable(async () => {
          if (rollout) {
            await kubernetesRollouts.finalizeRollout.executeWithOptions(
              {
                startToCloseTimeout: '10m',
                heartbeatTimeout: '30s',
                summary: `finalize ${plan.strategy} rollout`,
              },
              [{ plan, rollout }],
            );
          }
        });
        const endedAt = now();
        await this.notify('complete', completeText(this.status, this.rolloutStartedAt, endedAt));
        return {
          state: 'completed',
          outcome: `completed: ${this.status.verification.summary ?? 'watch passed'}`,
        };
      }
      failure = verdict.reason;
    }
    const reason = this.rollbackRequest?.reason ?? failure ?? 'rollback';
    return await this.rollback(reason, rollout);
  }

  /** The watch period, with the inconclusive policy: roll back, or hold for a human decision. */
  private async watch(limits: {
    intervalMs: number;
    failureLimit: number;
    inconclusiveLimit: number;
  }): Promise<{ passed: true } | { passed: false; reason: string }> {
    const { metadata } = this.request;
    const spec = this.request.spec.verification;
    const startedAt = Date.now();
    this.watchEndsAt = startedAt + this.watchMs() + this.watchExtensionMs;
    this.status.verification.outcome = 'pending';
    this.status.verification.watchStartedAt = new Date(startedAt).toISOString();
    this.status.verification.watchEndsAt = new Date(this.watchEndsAt).toISOString();
    const metrics = spec.metrics.map((m: MetricSpec) => ({
      name: m.name,
      query: m.query,
      failWhen: m.failWhen,
    }));

    const watched = await this.interruptible(() =>
      runWatch(
        {
          changeId: metadata.id,
          metrics,
          baseline: this.status.verification.baseline,
          intervalMs: limits.intervalMs,
          startedAt,
          endsAt: this.watchEndsAt,
          failureLimit: limits.failureLimit,
          inconclusiveLimit: limits.inconclusiveLimit,
          consecutiveErrorLimit: spec.consecutiveErrorLimit,
        },
        () => this.watchEndsAt,
      ),
    );
    if (!watched) {
      // Cut short, the watch gave no verdict; like a segment that cannot finish, it never passes.
      const reason = this.rollbackRequest?.reason ?? 'interrupted';
      this.status.verification.outcome = 'inconclusive';
      this.status.verification.summary = `watch stopped early: ${reason}`;
      return { passed: false, reason };
    }
    const result: WatchResult = watched.value;
    this.status.verification.outcome = result.outcome;
    this.status.verification.summary = result.reason;
    this.status.verification.evaluations = result.state.recent;
    this.record(SYSTEM, `watch ${result.outcome}`, result.reason);
    if (result.outcome === 'passed') return { passed: true };
    if (result.outcome === 'failed')
      return { passed: false, reason: `verification failed: ${result.reason}` };

    const onInconclusive =
      this.kind === 'emergency'
        ? 'rollback'
        : (this.policy?.spec.verification.onInconclusive ?? 'rollback');
    if (onInconclusive === 'rollback')
      return { passed: false, reason: `verification inconclusive: ${result.reason}` };
    const holdMs = parseDuration(this.policy?.spec.verification.holdTimeout ?? '30m') ?? 1_800_000;
    this.status.verification.awaitingDecisionUntil = new Date(Date.now() + holdMs).toISOString();
    await this.notify(
      'needs-decision',
      `❓ DECISION NEEDED: ${this.status.id} verification inconclusive (${result.reason}). Send 'decide' with proceed or rollback before ${this.status.verification.awaitingDecisionUntil}, or it rolls back.`,
    );
    const decided = await this.interruptible(() =>
      condition(() => this.decision !== undefined, holdMs, {
        summary: 'wait for a decision on an inconclusive watch',
      }),
    );
    this.status.verification.awaitingDecisionUntil = undefined;
    if (!decided) return { passed: false, reason: this.rollbackRequest?.reason ?? 'interrupted' };
    if (!decided.value)
      return {
        passed: false,
        reason: `verification inconclusive and no decision within ${this.policy?.spec.verification.holdTimeout}`,
      };
    if (this.decision?.decision === 'proceed') {
      this.status.verification.summary = `${result.reason}; ${this.decision.actor} decided to proceed`;
      return { passed: true };
    }
    return {
      passed: false,
      reason: `rollback decided by ${this.decision?.actor}: ${this.decision?.reason ?? 'inconclusive watch'}`,
    };
  }

  /** Undoes the rollout, restores the backup when asked, and checks the service afterwards. */
  private async rollback(
    reason: string,
    rollout: RolloutResult | undefined,
  ): Promise<{ state: EndState; outcome: string }> {
    const plan = this.plan;
    const before = this.status.rollout.before;
    const cancelled = this.cancelRequest !== undefined;
    this.record(SYSTEM, 'rolling back', reason);
    return await CancellationScope.nonCancellable(async () => {
      if (!before)
        return {
          state: 'failed' as const,
          outcome: `${reason}; no pre-change state to roll back to — check ${plan.deployment} by hand`,
        };
      try {
        const result = await kubernetesRollouts.rollbackRollout.executeWithOptions(
          {
            startToCloseTimeout: plan.timeoutMs + 300_000,
            heartbeatTimeout: '30s',
            retry: { initialInterval: '1s', maximumInterval: '30s' },
            summary: `roll back ${plan.deployment}: ${reason}`.slice(0, 200),
          },
          [{ plan, ...(rollout ? { rollout } : {}), before, reason }],
        );
        const rolledBackAt = now();
        this.status.rollout.rollback = { ...result, reason, at: rolledBackAt };
        this.record(SYSTEM, 'rolled back', result.message);
      } catch (err) {
        const message = rootMessage(err);
        this.record(SYSTEM, 'rollback failed', message);
        const outcome = `ROLLBACK FAILED after "${reason}": ${message}; manual action needed: ${this.rollbackCommand}`;
        await this.notify('failed', endedText(this.status, '🚨 ROLLBACK FAILED', outcome));
        this.rollbackFailureAnnounced = true;
        return { state: 'failed' as const, outcome };
      }

      const restore =
        this.request.spec.rollback.restoreBackup || this.rollbackRequest?.restoreBackup === true;
      if (restore) {
        if (this.status.backup.name) {
          try {
            const restored = await velero.restoreBackup({
              changeId: this.status.id,
              backupName: this.status.backup.name,
            });
            this.status.backup.restore = restored;
            this.record(
              SYSTEM,
              'backup restored',
              `${restored.name} from ${restored.backupName}: ${restored.phase}`,
            );
          } catch (err) {
            this.record(SYSTEM, 'restore failed', rootMessage(err));
          }
        } else {
          this.record(SYSTEM, 'restore skipped', 'no backup was taken');
        }
      }

      const healthy = await this.verifyAfterRollback();
      const restoredAt = now();
      const rolledBackAt = this.status.rollout.rollback?.at ?? restoredAt;
      if (cancelled) {
        const outcome = `cancelled by ${this.cancelRequest?.actor}: ${this.cancelRequest?.reason}; rolled back`;
        await this.notify(
          'cancelled',
          rolledBackText(this.status, reason, rolledBackAt, restoredAt, healthy),
        );
        return { state: 'cancelled' as const, outcome };
      }
      await this.notify(
        'rolled-back',
        rolledBackText(this.status, reason, rolledBackAt, restoredAt, healthy),
      );
      return {
        state: 'rolled-back' as const,
        outcome: `rolled back: ${reason}${healthy ? '' : ' (service not confirmed healthy afterwards)'}`,
      };
    });
  }

  /** A short watch after a rollback: is the service healthy again? */
  private async verifyAfterRollback(): Promise<boolean> {
    const spec = this.request.spec.verification;
    const intervalMs = parseDuration(spec.interval) ?? 30_000;
    // Rates over [1m] still count the bad version's requests for a minute after the rollback;
    // the first round waits (in the activity) until they have left every query's range.
    const settleMs = Math.min(
      ROLLBACK_SETTLE_MAX_MS,
      Math.max(0, ...spec.metrics.map((m) => queryLookbackMs(m.query))),
    );
    const startedAt = Date.now() + settleMs;
    try {
      const result = await runWatch(
        {
          changeId: this.status.id,
          metrics: spec.metrics.map((m) => ({
            name: m.name,
            query: m.query,
            failWhen: m.failWhen,
          })),
          baseline: this.status.verification.baseline,
          intervalMs,
          startedAt,
          endsAt: startedAt + intervalMs * ROLLBACK_CHECK_ROUNDS,
          failureLimit: ROLLBACK_CHECK_ROUNDS,
          inconclusiveLimit: ROLLBACK_CHECK_ROUNDS,
          consecutiveErrorLimit: ROLLBACK_CHECK_ROUNDS,
        },
        () => startedAt + intervalMs * ROLLBACK_CHECK_ROUNDS,
      );
      this.record(SYSTEM, `after rollback: ${result.outcome}`, result.reason);
      return result.outcome === 'passed';
    } catch (err) {
      this.record(SYSTEM, 'after rollback: check failed', rootMessage(err));
      return false;
    }
  }

  // ------------------------------------------------------------------ the whole run

  /**
   * Runs a lifecycle body and turns however it ends into the change log: every end path
   * releases the locks, records the end, notifies, and waits for handlers to finish.
   */
  async execute(body: () => Promise<{ state: EndState; outcome: string }>): Promise<ChangeLog> {
    let ending: { state: EndState; outcome: string };
    try {
      ending = await body();
    } catch (err) {
      if (err instanceof ChangeEnded) {
        ending = { state: err.state, outcome: err.outcome };
      } else if (isCancellation(err)) {
        ending = {
          state: 'cancelled',
          outcome: `cancelled: the workflow was cancelled (${rootMessage(err)})`,
        };
      } else {
        throw err;
      }
    } finally {
      await this.releaseLocks();
    }
    return await CancellationScope.nonCancellable(async () => {
      await this.finish(ending.state, ending.outcome);
      await condition(allHandlersFinished);
      return buildChangeLog(this.status);
    });
  }

  async finish(state: EndState, outcome: string): Promise<void> {
    this.status.outcome = outcome;
    this.status.endedAt = now();
    this.setState(state, outcome);
    log.info('change ended', { changeId: this.status.id, state, outcome });
    if (state === 'failed' && !this.status.rollout.rollback && !this.rollbackFailureAnnounced) {
      await this.notify('failed', endedText(this.status, '❌ FAILED', outcome));
    } else if (state === 'rejected') {
      await this.notify('rejected', endedText(this.status, '🚫 REJECTED', outcome), [
        this.status.requestedBy,
      ]);
    } else if (state === 'cancelled' && !this.status.rollout.rollback) {
      await this.notify('cancelled', endedText(this.status, '⏹️ CANCELLED', outcome));
    }
  }
}
