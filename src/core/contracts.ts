/**
 * The activity interfaces the workflows call, and their inputs and results. Workflows import
 * these as types only; activities/ implements them in factories over their clients
 * (`createKubernetesActivities(kubeConfig): KubernetesActivities`), and tests hand in fakes of
 * the same types.
 */
import type { CheckSpec, RolloutStrategy } from './change/request';
import type { DriftReport, DriftScope } from './drift/index';
import type { Policy } from './policy/schema';

// ---------------------------------------------------------------- Kubernetes

/** Where a change rolls out. */
export interface RolloutTarget {
  changeId: string;
  namespace: string;
  strategy: RolloutStrategy;
  /** The Deployment named in the request (for blueGreen: the base name of the colours). */
  deployment: string;
  /** The container to set the image of; the first container when absent. */
  container?: string;
  /** blueGreen: the Service whose selector switches colours (default: the deployment name). */
  service?: string;
}

/** What a change rolls out. Exactly one of image and manifests. */
export interface RolloutPlan extends RolloutTarget {
  image?: string;
  manifests?: Record<string, unknown>[];
  /** How long the rollout may take before it counts as failed. */
  timeoutMs: number;
  /** The change's title, recorded as kubectl's change cause (`<changeId>: <summary>`). */
  summary?: string;
}

export interface DeploymentState {
  namespace: string;
  name: string;
  revision: number;
  /** container name → image */
  images: Record<string, string>;
  replicas: number;
  readyReplicas: number;
}

export interface RollbackReadiness {
  /** The deployment as it is before the change: what a rollback returns to. */
  current: DeploymentState;
  /** The command an operator would type to undo the rollout by hand. */
  rollbackCommand: string;
}

export interface DryRunResult {
  /** `Kind/name` of every object the server accepted in dry-run. */
  objects: string[];
}

/** What a rollout did; kept so that its rollback knows exactly what to undo. */
export interface RolloutResult {
  strategy: RolloutStrategy;
  /** rolling: the revision before and after the change. */
  previousRevision?: number;
  revision?: number;
  previousImage?: string;
  image?: string;
  /** blueGreen: the deployment now serving, the one that served before, and the old selector. */
  activeDeployment?: string;
  previousDeployment?: string;
  previousSelector?: Record<string, string>;
  /** canary: the canary deployment and the stable deployment's replica count before the change. */
  canaryDeployment?: string;
  stableReplicas?: number;
  /** `Kind/name` of every object written, each annotated with the change id. */
  appliedObjects: string[];
  message: string;
}

/** What the delayed cleanup after a passed watch removed (blue/green: the old colour). */
export interface CleanupResult {
  /** `Deployment/name` of every object deleted. */
  deleted: string[];
  message: string;
}

export interface CanaryWeightInput {
  plan: RolloutPlan;
  rollout: RolloutResult;
  weight: number;
}

export interface CanaryWeightResult {
  weight: number;
  canaryReplicas: number;
  stableReplicas: number;
}

export interface RollbackInput {
  plan: RolloutPlan;
  /** The rollout to undo; absent when the rollout failed before it could report. */
  rollout?: RolloutResult;
  /** The state before the change, from the readiness check. */
  before: DeploymentState;
  reason: string;
}

export interface RollbackResult {
  /** rolling: the revision the deployment went back to (kubectl's `rollout undo` makes a new one). */
  revision?: number;
  images: Record<string, string>;
  message: string;
}

export interface RevisionInfo {
  revision: number;
  images: Record<string, string>;
  changeCause?: string;
  changeId?: string;
  createdAt?: string;
}

export interface EventInfo {
  at: string;
  type: string;
  reason: string;
  object: string;
  message: string;
}

/** The post-change checks of a watch, on the deployments a change rolled out. */
export interface CheckWatchInput {
  changeId: string;
  namespace: string;
  /** The deployments whose pods the checks look at (blue/green: the new colour). */
  deployments: string[];
  checks: CheckSpec[];
  /** When the rollout started (epoch ms): restarts and log lines before it do not count. */
  since: number;
  intervalMs: number;
  startedAt: number;
  endsAt: number;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  state?: WatchState;
}

export interface KubernetesActivities {
  /** Reads the deployment and its history: the change may go ahead only if it can be undone. */
  checkRollbackReadiness(target: RolloutTarget): Promise<RollbackReadiness>;
  /** Server-side dry run of exactly what the rollout will write. */
  dryRunRollout(plan: RolloutPlan): Promise<DryRunResult>;
  /**
   * Rolls out: rolling sets the image or applies the manifests and waits for rollout status;
   * blueGreen applies the new colour, waits for it, and switches the Service; canary creates
   * the canary deployment at zero replicas. Heartbeats while it waits.
   */
  startRollout(plan: RolloutPlan): Promise<RolloutResult>;
  /** canary: split replicas between canary and stable for a weight, and wait until ready. */
  setCanaryWeight(input: CanaryWeightInput): Promise<CanaryWeightResult>;
  /** canary: moves the stable deployment to the new image, waits, scales the canary to zero. */
  promoteCanary(input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<RolloutResult>;
  /** Undoes a rollout per strategy and waits until the old version serves again. */
  rollbackRollout(input: RollbackInput): Promise<RollbackResult>;
  /** After a successful watch: blueGreen scales the old colour down; others have nothing to do. */
  finalizeRollout(input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<void>;
  /**
   * After the cleanup delay: blueGreen deletes the old colour, if it is still the one this
   * change scaled to zero and the Service does not select it; others have nothing to do.
   */
  cleanupRollout(input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<CleanupResult>;
  /**
   * Measures the request's checks (pods ready, restarts, http, logs) every interval until
   * endsAt or a verdict, under the same limits as the metrics; heartbeats its state.
   */
  watchChecks(input: CheckWatchInput): Promise<WatchResult>;
  rolloutHistory(input: { namespace: string; deployment: string }): Promise<RevisionInfo[]>;
  recentEvents(input: {
    namespace: string;
    sinceMs: number;
    names?: string[];
  }): Promise<EventInfo[]>;
}

// ---------------------------------------------------------------- Velero

export interface BackupInput {
  changeId: string;
  includeNamespaces: string[];
  snapshotVolumes: boolean;
  /** Velero ttl, e.g. '720h'. */
  ttl: string;
}

export interface BackupResult {
  name: string;
  phase: string;
  /** The command an operator types to restore this backup. */
  restoreCommand: string;
  startedAt?: string;
  completedAt?: string;
}

export interface RestoreResult {
  name: string;
  phase: string;
  backupName: string;
}

export interface VeleroActivities {
  /** Create-or-get the change's backup (name derived from the change id), wait for it to end. */
  createBackup(input: BackupInput): Promise<BackupResult>;
  /** Create-or-get the change's restore of its backup, wait for it to end. */
  restoreBackup(input: { changeId: string; backupName: string }): Promise<RestoreResult>;
}

// ---------------------------------------------------------------- Prometheus

export interface MetricCheck {
  name: string;
  query: string;
  /** A comparison text, see src/change/comparison.ts. */
  failWhen: string;
}

export interface FiringAlert {
  name: string;
  labels: Record<string, string>;
  activeAt?: string;
}

export type MeasurementStatus = 'passed' | 'failed' | 'inconclusive' | 'error';

export interface Measurement {
  at: string;
  metric: string;
  /** null when Prometheus had no data (empty result or NaN). */
  value: number | null;
  threshold?: number;
  status: MeasurementStatus;
  message?: string;
}

export type WatchOutcome = 'passed' | 'failed' | 'inconclusive';

/** What a watch has seen so far; bounded whatever the watch's length. */
export interface WatchState {
  /** The last measurements, newest last (at most a fixed number). */
  recent: Measurement[];
  counts: Record<MeasurementStatus, number>;
  /**
   * Per metric, its measurements over the whole watch by outcome (what failureLimit and
   * inconclusiveLimit bound) and its current run of errors (what consecutiveErrorLimit bounds).
   */
  tallies: Record<
    string,
    {
      measured: number;
      failed: number;
      inconclusive: number;
      error: number;
      consecutiveErrors: number;
    }
  >;
  measurementsTaken: number;
  /** When the last round of measurements was taken (epoch ms), so a resumed watch keeps time. */
  lastRoundAt?: number;
}

export interface WatchInput {
  changeId: string;
  metrics: MetricCheck[];
  baseline: Record<string, number | null>;
  intervalMs: number;
  /** The watch clock: absolute epoch ms, so retries and resumes never restart it. */
  startedAt: number;
  endsAt: number;
  /** Argo Rollouts' limits, per metric: see src/core/verification/engine.ts. */
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  /** The state a previous segment of the same watch ended with. */
  state?: WatchState;
}

export interface WatchResult {
  outcome: WatchOutcome;
  /** Why the verdict: which metric crossed which limit. */
  reason: string;
  state: WatchState;
  endedAt: number;
}

export interface PrometheusActivities {
  /** Runs every query once; a query Prometheus refuses fails, non-retryable, with its message. */
  validateQueries(metrics: MetricCheck[]): Promise<void>;
  /** Alerts firing now (ALERTS{alertstate="firing"} narrowed by the selector). */
  firingAlerts(input: { selector: string }): Promise<FiringAlert[]>;
  /** Each metric's value now; null when there is no data. */
  captureBaseline(metrics: MetricCheck[]): Promise<Record<string, number | null>>;
  /**
   * Measures every interval until endsAt or a failed / inconclusive verdict, heartbeating each
   * round; resumes from its last heartbeat after a worker crash.
   */
  watchMetrics(input: WatchInput): Promise<WatchResult>;
}

// ---------------------------------------------------------------- Gates

/** What a gate's webhook receives, Flagger-style: the change's summary at that phase. */
export interface GatePayload {
  name: string;
  namespace: string;
  phase: 'pre-rollout' | 'confirm-promotion';
  changeId: string;
  services: string[];
  images: string[];
  /** canary: the step the gate stands before (1-based). */
  step?: number;
}

export interface GateInput {
  webhook: string;
  timeoutMs: number;
  payload: GatePayload;
}

/** A gate's answer: 2xx within the timeout passes; anything else fails the gate. */
export interface GateResult {
  name: string;
  webhook: string;
  phase: GatePayload['phase'];
  passed: boolean;
  status?: number;
  message: string;
  at: string;
}

export interface GateActivities {
  /** POSTs the payload to the named webhook of the worker's config and reports its answer. */
  runGate(input: GateInput): Promise<GateResult>;
}

// ---------------------------------------------------------------- Notifications and policy

export type NotificationKind =
  | 'approval-requested'
  | 'approval-reminder'
  | 'scheduled'
  | 'deploying'
  | 'complete'
  | 'rolled-back'
  | 'failed'
  | 'cancelled'
  | 'rejected'
  | 'needs-decision'
  | 'documentation-reminder'
  | 'documentation-escalation'
  | 'approval-owed'
  | 'drift-detected'
  | 'drift-cleared';

export interface Notification {
  kind: NotificationKind;
  changeId: string;
  /** The message as people read it, in the seed's shapes (see src/notifications/messages.ts). */
  text: string;
  /** Who should act, when someone should. */
  audience?: string[];
}

export interface NotificationActivities {
  notify(notification: Notification): Promise<void>;
}

export interface PolicyActivities {
  /** Reads and validates the policy file the worker is configured with. */
  loadPolicy(): Promise<Policy>;
}

// ---------------------------------------------------------------- Drift

export interface DriftActivities {
  /** Reads every object in scope and reports those not as their last change left them. */
  scanDrift(scope: DriftScope): Promise<DriftReport>;
  /**
   * The report of the schedule's latest earlier scan that completed, so a scan notifies only
   * what changed since; undefined when there is none.
   */
  previousDriftScan(input: { scheduleId: string }): Promise<DriftReport | undefined>;
}

// ---------------------------------------------------------------- Per-service lock

export interface LockActivities {
  /** Asks the lock workflow of one environment/service for the lock, starting it if needed. */
  requestServiceLock(input: {
    lockWorkflowId: string;
    taskQueue: string;
    lockId: string;
    changeId: string;
    workflowId: string;
    emergency: boolean;
    /** Sent back with the grant, so only the lock can grant it (see ServiceLocks). */
    grantToken?: string;
  }): Promise<void>;
  /** Gives the lock back (or leaves the queue); a lock workflow that is gone is fine. */
  releaseServiceLock(input: {
    lockWorkflowId: string;
    lockId: string;
    workflowId: string;
    /** The token the lock was asked with: without it a release names the holder in vain. */
    grantToken?: string;
  }): Promise<void>;
  /** Whether a change workflow is still running: lets a lock recover from a holder that vanished. */
  isWorkflowOpen(input: { workflowId: string }): Promise<boolean>;
}
