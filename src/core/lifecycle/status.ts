/**
 * The state of a change as its workflow keeps it and its `status` query returns it. Pure data,
 * shared by workflows, CLI and tests.
 */
import type { ChangeRequest, ChangeType, RiskLevel, RolloutStrategy } from '../change/request';
import type { DecisionEvidence } from '../identity/evidence';
import type { SignedStatement, StatementAction } from '../identity/statement';
import type {
  DeploymentState,
  GateResult,
  Measurement,
  RestoreResult,
  RollbackResult,
  RolloutResult,
  WatchOutcome,
} from '../contracts';
import type { ApprovalRecord, ApprovalRequirement } from '../policy/approvals';
import type { IdentityMode } from '../policy/schema';
import type { Blocker } from '../policy/windows';

export const plannedStates = [
  'submitted',
  'awaiting-approval',
  'scheduled',
  'preflight',
  'backing-up',
  'rolling-out',
  'watching',
  'cleaning-up',
] as const;
export const emergencyStates = [
  'submitted',
  'awaiting-ic-approval',
  'preflight',
  'backing-up',
  'rolling-out',
  'watching',
  'cleaning-up',
  'awaiting-documentation',
] as const;
export const endStates = ['completed', 'rejected', 'cancelled', 'rolled-back', 'failed'] as const;

export type EndState = (typeof endStates)[number];
export type ChangeState =
  | (typeof plannedStates)[number]
  | (typeof emergencyStates)[number]
  | EndState;

export function isEndState(state: ChangeState): state is EndState {
  return (endStates as readonly string[]).includes(state);
}

/** Ends that count as unsuccessful (`changectl watch` exits 1 on them). */
export function isUnsuccessful(state: ChangeState): boolean {
  return (
    state === 'rejected' || state === 'cancelled' || state === 'rolled-back' || state === 'failed'
  );
}

export interface TimelineEntry {
  at: string;
  actor: string;
  event: string;
  detail?: string;
  /** A decision taken on the stated name alone (policy identity.mode: names). */
  unverified?: true;
}

/** How many refused attempts the status keeps itemised; the rest are counted. */
export const MAX_REFUSED_KEPT = 50;

export interface RefusedAttempt {
  /** Who the message says it is from (its signer, or its stated actor); 'unknown' when neither. */
  by: string;
  at: string;
  reason: string;
  action: StatementAction;
  via: 'signal' | 'update';
}

export interface PreflightCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DocumentationRecord {
  rootCause: string;
  changed: string;
  postIncidentReview: string;
  by: string;
  at: string;
  late: boolean;
}

export interface ChangeStatus {
  id: string;
  workflowId: string;
  type: ChangeType;
  title: string;
  requestedBy: string;
  state: ChangeState;
  environment: string;
  namespace: string;
  services: string[];
  description: string;
  reason?: string;
  impact: string;
  /** The level in force: the declared one, raised by policy. */
  risk: RiskLevel;
  riskDeclared: RiskLevel;
  riskRaisedBy: string[];
  submittedAt: string;
  endedAt?: string;
  /** sha256 (hex) of the canonical validated request: what every signed decision names. */
  requestDigest: string;
  /** The request as the workflow validated it, so anyone can recompute the digest. */
  request: ChangeRequest;
  /** How decisions are proven, from the policy; unset until the policy is loaded. */
  identityMode?: IdentityMode;
  /** Every accepted decision with its proof (statement, signature, key), the submission first. */
  decisions: DecisionEvidence[];
  approvals: {
    required: ApprovalRequirement & { summary: string };
    received: ApprovalRecord[];
    /** The latest refused attempts (at most MAX_REFUSED_KEPT); `refusedCount` counts them all. */
    refused: RefusedAttempt[];
    refusedCount: number;
    rejected?: { by: string; at: string; reason: string };
    expiresAt?: string;
  };
  window: {
    notBefore?: string;
    scheduledFor?: string;
    windowEnd?: string;
    windowNames: string[];
    waitingFor?: string;
    bypassed: Blocker[];
  };
  preflight: { checks: PreflightCheck[] };
  /** Every gate's answer, pre-rollout and confirm-promotion, in order. */
  gates?: GateResult[];
  backup: {
    name?: string;
    restoreCommand?: string;
    phase?: string;
    error?: string;
    restore?: RestoreResult;
  };
  rollout: {
    strategy: RolloutStrategy;
    deployment: string;
    image?: string;
    /** When the rollout started: checks count restarts and log lines from then. */
    startedAt?: string;
    before?: DeploymentState;
    result?: RolloutResult;
    canaryWeight?: number;
    /** canary: the step in progress (1-based, of the request's steps) and its analysis. */
    canaryStep?: { step: number; of: number; weight: number; analysis?: WatchOutcome | 'running' };
    /** blueGreen after a passed watch: the old colour at zero, deleted at `deleteAt`. */
    cleanup?: { deployment: string; deleteAt: string; deletedAt?: string; message?: string };
    rollback?: RollbackResult & { reason: string; at: string };
  };
  verification: {
    outcome: WatchOutcome | 'pending' | 'not-run';
    summary?: string;
    watchStartedAt?: string;
    watchEndsAt?: string;
    baseline: Record<string, number | null>;
    evaluations: Measurement[];
    awaitingDecisionUntil?: string;
  };
  emergency?: {
    incident: string;
    incidentCommander?: string;
    breakGlass: boolean;
    approvalOwed: boolean;
    documentationDueAt?: string;
    documentation?: DocumentationRecord;
    reminders: number;
    escalations: number;
    undocumented: boolean;
  };
  /** Why the change ended as it did, in one line. */
  outcome?: string;
  timeline: TimelineEntry[];
}

/** The workflow's result: the change log, in seed 000's shape plus what changectl adds. */
export interface ChangeLog {
  changeLog: {
    id: string;
    date: string;
    type: ChangeType;
    state: EndState;
    emergency: boolean;
    change: {
      description: string;
      reason: string;
      impact: string;
      result: string;
    };
    verification: {
      tests: string;
      results: string;
      issues: string;
    };
    risk: RiskLevel;
    /** What `changectl verify` checks offline: the request, its digest and each decision's proof. */
    requestDigest: string;
    request: ChangeRequest;
    identityMode?: IdentityMode;
    decisions: DecisionEvidence[];
    approvals: {
      required: string;
      received: ApprovalRecord[];
      refused: RefusedAttempt[];
      refusedCount: number;
    };
    window: ChangeStatus['window'];
    backup: ChangeStatus['backup'];
    rollout: ChangeStatus['rollout'];
    emergencyRecord?: ChangeStatus['emergency'];
    timeline: TimelineEntry[];
  };
}

export interface ChangeInput {
  /** The validated request (validated again by the workflow). */
  request: unknown;
  /** When the CLI received it; informational only, the workflow keeps its own time. */
  submittedAt?: string;
  /** The requester's signed `submit` statement for this request (policy identity.mode: signed). */
  submission?: SignedStatement;
}
