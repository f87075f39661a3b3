/**
 * The change report's arithmetic: per change, what its change log says about lead time, failure
 * and restore; per service and overall, the four DORA figures with the band each falls in, the
 * approvals' response time, the emergencies' documentation and changes per day. Pure: the CLI
 * reads visibility and the change logs, this turns them into figures.
 */
import type { ChangeType } from '../change/request';
import type { ChangeLog, ChangeState } from '../lifecycle/status';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One change as visibility and (once it ended) its result give it. */
export interface ReportChange {
  id: string;
  type: ChangeType;
  environment: string;
  services: string[];
  /** The ChangeState search attribute. */
  state?: ChangeState;
  /** The workflow execution's status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  executionStatus: string;
  startedAt: string;
  closedAt?: string;
  /** The change log, for runs that completed. */
  log?: ChangeLog['changeLog'];
}

export type Outcome = 'completed' | 'rolled-back' | 'failed' | 'rejected' | 'cancelled' | 'running';

export type Documentation = 'on-time' | 'late' | 'missing' | 'pending';

/** What one change contributes to the figures. */
export interface ChangeFacts {
  id: string;
  emergency: boolean;
  services: string[];
  outcome: Outcome;
  submittedAt: string;
  /** When the change reached production for good: its watch passed. */
  deployedAt?: string;
  rolledOut: boolean;
  /** Rolled back, or failed, after its rollout began. */
  failedAfterRollout: boolean;
  /** submitted → deployed, and its three parts. */
  leadTimeMs?: number;
  approvalWaitMs?: number;
  windowWaitMs?: number;
  activeMs?: number;
  /** Breach (first failed measurement) → rollback complete. */
  restoreMs?: number;
  /** For an emergency: submitted → its fix deployed. */
  incidentRestoreMs?: number;
  /** Request for approval → each approval. */
  approvalResponsesMs: number[];
  documentation?: Documentation;
}

function ms(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? undefined : at;
}

function between(from: string | undefined, to: string | undefined): number | undefined {
  const a = ms(from);
  const b = ms(to);
  return a === undefined || b === undefined ? undefined : Math.max(0, b - a);
}

/** Timeline events that mark a breach: the first one after the rollout began counts. */
const breachEvents =
  /^(watch failed|watch inconclusive|rollout failed|rollback requested|rolling back)$/;

const endOutcomes = new Set<string>([
  'completed',
  'rolled-back',
  'failed',
  'rejected',
  'cancelled',
]);

function outcomeOf(change: ReportChange): Outcome {
  if (change.log) return change.log.state;
  if (change.executionStatus === 'RUNNING') return 'running';
  if (change.state && endOutcomes.has(change.state)) return change.state as Outcome;
  // Terminated, timed out or failed as a workflow: the change did not end as it should have.
  return change.executionStatus === 'CANCELED' ? 'cancelled' : 'failed';
}

/** The facts of one change, from its change log where it has one, else from visibility. */
export function changeFacts(change: ReportChange): ChangeFacts {
  const log = change.log;
  const timeline = log?.timeline ?? [];
  const stateAt = (state: ChangeState) => timeline.find((e) => e.event === `state: ${state}`)?.at;
  const submittedAt = timeline.find((e) => e.event === 'submitted')?.at ?? change.startedAt;
  const emergency = change.type === 'emergency';
  const outcome = outcomeOf(change);
  const rollingOutAt = stateAt('rolling-out');
  const rolledOut =
    rollingOutAt !== undefined ||
    (!log && (change.state === 'watching' || change.state === 'awaiting-documentation'));
  const deployedAt =
    log && (outcome === 'completed' || (emergency && outcome !== 'rolled-back'))
      ? emergency
        ? (stateAt('awaiting-documentation') ??
          (outcome === 'completed' ? stateAt('completed') : undefined))
        : stateAt('completed')
      : undefined;
  const approvalRequestedAt = stateAt(emergency ? 'awaiting-ic-approval' : 'awaiting-approval');
  const scheduledAt = stateAt('scheduled');
  const preflightAt = stateAt('preflight');
  const approvedAt = scheduledAt ?? preflightAt;

  const facts: ChangeFacts = {
    id: change.id,
    emergency,
    services: change.services,
    outcome,
    submittedAt,
    rolledOut,
    failedAfterRollout:
      rolledOut && deployedAt === undefined && (outcome === 'rolled-back' || outcome === 'failed'),
    approvalResponsesMs: [],
  };
  if (deployedAt !== undefined) {
    facts.deployedAt = deployedAt;
    facts.leadTimeMs = between(submittedAt, deployedAt);
    facts.approvalWaitMs = between(submittedAt, approvedAt);
    facts.windowWaitMs = scheduledAt !== undefined ? between(scheduledAt, preflightAt) : 0;
    facts.activeMs = between(preflightAt, deployedAt);
    if (emergency) facts.incidentRestoreMs = facts.leadTimeMs;
  }
  const rollback = log?.rollout.rollback;
  if (outcome === 'rolled-back' && rollback) {
    // The breach is when the change saw it: its watch (or rollout) failing, or an operator's
    // rollback; the rollback step starts at once and records it.
    const breach =
      timeline.find((e) => breachEvents.test(e.event) && (ms(e.at) ?? 0) >= (ms(rollingOutAt) ?? 0))
        ?.at ?? rollingOutAt;
    facts.restoreMs = between(breach, rollback.at);
  }
  if (approvalRequestedAt !== undefined) {
    for (const approval of log?.approvals.received ?? []) {
      const response = between(approvalRequestedAt, approval.at);
      if (response !== undefined) facts.approvalResponsesMs.push(response);
    }
  }
  if (emergency && rolledOut && outcome !== 'rolled-back') {
    const record = log?.emergencyRecord;
    facts.documentation = record?.documentation
      ? record.documentation.late
        ? 'late'
        : 'on-time'
      : outcome === 'running'
        ? 'pending'
        : 'missing';
  }
  return facts;
}

// ---------------------------------------------------------------- DORA bands

export type Band = 'elite' | 'high' | 'medium' | 'low';

/**
 * The bands of DORA's 2023 State of DevOps report: deployment frequency on demand (at least
 * daily) / weekly / monthly / less; lead time under a day / a week / a month / longer; change
 * failure rate up to 5% / 10% / 15% / more; time to restore under an hour / a day / a week /
 * longer.
 */
export const bands = {
  deploymentFrequency(perDay: number): Band {
    if (perDay >= 1) return 'elite';
    if (perDay >= 1 / 7) return 'high';
    if (perDay >= 1 / 30) return 'medium';
    return 'low';
  },
  leadTime(medianMs: number): Band {
    if (medianMs < DAY) return 'elite';
    if (medianMs < 7 * DAY) return 'high';
    if (medianMs < 30 * DAY) return 'medium';
    return 'low';
  },
  changeFailureRate(rate: number): Band {
    if (rate <= 0.05) return 'elite';
    if (rate <= 0.1) return 'high';
    if (rate <= 0.15) return 'medium';
    return 'low';
  },
  timeToRestore(medianMs: number): Band {
    if (medianMs < HOUR) return 'elite';
    if (medianMs < DAY) return 'high';
    if (medianMs < 7 * DAY) return 'medium';
    return 'low';
  },
};

/** The median; the mean of the middle two for an even count; undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------- figures

export interface Figures {
  changes: number;
  outcomes: Record<Outcome, number>;
  deploymentFrequency: { deployments: number; perDay: number; band: Band | null };
  leadTime: {
    changes: number;
    medianMs: number | null;
    approvalWaitMs: number | null;
    windowWaitMs: number | null;
    activeMs: number | null;
    band: Band | null;
  };
  changeFailureRate: { failed: number; rolledOut: number; rate: number | null; band: Band | null };
  timeToRestore: {
    rollbacks: number;
    medianMs: number | null;
    band: Band | null;
    emergencies: number;
    emergencyMedianMs: number | null;
  };
  approvals: { responses: number; medianMs: number | null };
  emergencies: { changes: number } & Record<Documentation, number>;
}

function orNull(value: number | undefined): number | null {
  return value === undefined ? null : value;
}

/** The figures of a set of changes over a period of `periodMs`. */
export function figures(facts: readonly ChangeFacts[], periodMs: number): Figures {
  const outcomes: Record<Outcome, number> = {
    completed: 0,
    'rolled-back': 0,
    failed: 0,
    rejected: 0,
    cancelled: 0,
    running: 0,
  };
  for (const f of facts) outcomes[f.outcome] += 1;
  const deployed = facts.filter((f) => f.deployedAt !== undefined);
  const perDay = deployed.length / Math.max(periodMs / DAY, 1 / 24);
  const lead = deployed.map((f) => f.leadTimeMs).filter((v): v is number => v !== undefined);
  const leadMedian = median(lead);
  const part = (pick: (f: ChangeFacts) => number | undefined) =>
    orNull(median(deployed.map(pick).filter((v): v is number => v !== undefined)));
  // Concluded rollouts only: a change still rolling out or watching has no verdict yet.
  const concluded = facts.filter(
    (f) => f.rolledOut && (f.deployedAt !== undefined || f.failedAfterRollout),
  );
  const failed = concluded.filter((f) => f.failedAfterRollout).length;
  const rate = concluded.length > 0 ? failed / concluded.length : undefined;
  const restores = facts.map((f) => f.restoreMs).filter((v): v is number => v !== undefined);
  const restoreMedian = median(restores);
  const incident = facts
    .map((f) => f.incidentRestoreMs)
    .filter((v): v is number => v !== undefined);
  const responses = facts.flatMap((f) => f.approvalResponsesMs);
  const emergencies = facts.filter((f) => f.emergency);
  const documentation = (d: Documentation) =>
    emergencies.filter((f) => f.documentation === d).length;
  return {
    changes: facts.length,
    outcomes,
    deploymentFrequency: {
      deployments: deployed.length,
      perDay,
      band: facts.length > 0 ? bands.deploymentFrequency(perDay) : null,
    },
    leadTime: {
      changes: lead.length,
      medianMs: orNull(leadMedian),
      approvalWaitMs: part((f) => f.approvalWaitMs),
      windowWaitMs: part((f) => f.windowWaitMs),
      activeMs: part((f) => f.activeMs),
      band: leadMedian !== undefined ? bands.leadTime(leadMedian) : null,
    },
    changeFailureRate: {
      failed,
      rolledOut: concluded.length,
      rate: orNull(rate),
      band: rate !== undefined ? bands.changeFailureRate(rate) : null,
    },
    timeToRestore: {
      rollbacks: restores.length,
      medianMs: orNull(restoreMedian),
      band: restoreMedian !== undefined ? bands.timeToRestore(restoreMedian) : null,
      emergencies: incident.length,
      emergencyMedianMs: orNull(median(incident)),
    },
    approvals: { responses: responses.length, medianMs: orNull(median(responses)) },
    emergencies: {
      changes: emergencies.length,
      'on-time': documentation('on-time'),
      late: documentation('late'),
      missing: documentation('missing'),
      pending: documentation('pending'),
    },
  };
}

/** Changes per UTC day of submission, every day of the period listed, with how many failed. */
export function changesPerDay(
  facts: readonly ChangeFacts[],
  from: number,
  to: number,
): { day: string; changes: number; failed: number }[] {
  const days: { day: string; changes: number; failed: number }[] = [];
  const index = new Map<string, { day: string; changes: number; failed: number }>();
  for (let at = Math.floor(from / DAY) * DAY; at <= to; at += DAY) {
    const entry = { day: new Date(at).toISOString().slice(0, 10), changes: 0, failed: 0 };
    days.push(entry);
    index.set(entry.day, entry);
  }
  for (const f of facts) {
    const entry = index.get(f.submittedAt.slice(0, 10));
    if (!entry) continue;
    entry.changes += 1;
    if (f.failedAfterRollout || f.outcome === 'failed') entry.failed += 1;
  }
  return days;
}

export interface ChangeReport {
  from: string;
  to: string;
  environment?: string;
  service?: string;
  overall: Figures;
  services: Record<string, Figures>;
  perDay: { day: string; changes: number; failed: number }[];
  changes: ChangeFacts[];
}

/** The whole report: overall, per service (a change to several counts for each), per day. */
export function buildReport(
  changes: readonly ReportChange[],
  period: { from: number; to: number; environment?: string; service?: string },
): ChangeReport {
  const facts = changes
    .map(changeFacts)
    .sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || a.id.localeCompare(b.id));
  const periodMs = period.to - period.from;
  const services = [...new Set(facts.flatMap((f) => f.services))].sort();
  return {
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    ...(period.environment !== undefined ? { environment: period.environment } : {}),
    ...(period.service !== undefined ? { service: period.service } : {}),
    overall: figures(facts, periodMs),
    services: Object.fromEntries(
      services.map((s) => [
        s,
        figures(
          facts.filter((f) => f.services.includes(s)),
          periodMs,
        ),
      ]),
    ),
    perDay: changesPerDay(facts, period.from, period.to),
    changes: facts,
  };
}
