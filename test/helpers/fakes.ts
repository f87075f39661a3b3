import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { createLockActivities } from '../../activities/lock';
import type {
  BackupResult,
  CheckWatchInput,
  KubernetesActivities,
  LockActivities,
  Notification,
  NotificationActivities,
  PolicyActivities,
  PrometheusActivities,
  RolloutPlan,
  RolloutResult,
  VeleroActivities,
  WatchInput,
  WatchResult,
} from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import { initialWatchState } from '../../src/core/verification/engine';
import { policySchema, type Policy } from '../../src/core/policy/schema';
import type { ChangeRequestInput } from '../../src/core/change/request';
import { changeRequestSchema, type ChangeRequest } from '../../src/core/change/request';

/** Every activity a change workflow calls, as the worker registers them. */
export type ChangeActivities = KubernetesActivities &
  VeleroActivities &
  PrometheusActivities &
  NotificationActivities &
  PolicyActivities &
  LockActivities;

export interface ActivityCall {
  name: string;
  args: unknown[];
}

/** Knobs a test turns to steer a change down one path. */
export interface FakeScenario {
  policy?: Policy;
  readinessFails?: string;
  alertsFiring?: string[];
  dryRunFails?: string;
  backupFails?: string;
  rolloutFails?: string;
  rollbackFails?: string;
  /** How the watch ends; a function decides per call (to model extend, crashes, slowness). */
  watch?:
    | 'passed'
    | 'failed'
    | 'inconclusive'
    | ((input: WatchInput, call: number) => Promise<WatchResult>);
  /** How the watch of the request's checks ends (default passed). */
  checks?: (input: CheckWatchInput, call: number) => Promise<WatchResult>;
}

export function watchResult(
  input: WatchInput,
  outcome: WatchResult['outcome'],
  reason?: string,
): WatchResult {
  return {
    outcome,
    reason:
      reason ?? (outcome === 'passed' ? 'all metrics within thresholds' : `error-rate ${outcome}`),
    state: {
      ...initialWatchState(),
      measurementsTaken: 1,
      recent: [
        {
          at: new Date(input.endsAt).toISOString(),
          metric: input.metrics[0]?.name ?? 'metric',
          value: outcome === 'failed' ? 0.08 : 0.001,
          status:
            outcome === 'passed' ? 'passed' : outcome === 'failed' ? 'failed' : 'inconclusive',
        },
      ],
    },
    endedAt: input.endsAt,
  };
}

/**
 * Typed fakes of every activity, recording each call; the lock activities are the real ones
 * over the test's client, so two changes really queue on the lock workflow.
 */
export function createFakeActivities(client: Client, scenario: FakeScenario = {}) {
  const calls: ActivityCall[] = [];
  const notifications: Notification[] = [];
  const policy = scenario.policy ?? testPolicy();
  let watchCalls = 0;
  let checkCalls = 0;
  const record = (name: string, ...args: unknown[]) => calls.push({ name, args });
  const fail = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);
  const before = {
    namespace: 'production',
    name: 'api-gateway',
    revision: 4,
    images: { 'api-gateway': 'registry.example.com/api-gateway:2.4.3' },
    replicas: 3,
    readyReplicas: 3,
  };

  const rolloutResult = (plan: RolloutPlan): RolloutResult => ({
    strategy: plan.strategy,
    previousRevision: 4,
    revision: 5,
    previousImage: before.images['api-gateway'],
    image: plan.image,
    appliedObjects: [`Deployment/${plan.deployment}`],
    message: `${plan.deployment} rolled out to ${plan.image ?? 'manifests'}`,
  });

  const locks = createLockActivities(client);
  const activities: ChangeActivities = {
    loadPolicy() {
      record('loadPolicy');
      return Promise.resolve(policy);
    },
    checkRollbackReadiness(target) {
      record('checkRollbackReadiness', target);
      if (scenario.readinessFails)
        throw fail(scenario.readinessFails, FailureType.RollbackNotReady);
      return Promise.resolve({
        current: { ...before, name: target.deployment },
        rollbackCommand: `kubectl rollout undo deployment/${target.deployment} -n ${target.namespace}`,
      });
    },
    dryRunRollout(plan) {
      record('dryRunRollout', plan);
      if (scenario.dryRunFails) throw fail(scenario.dryRunFails, FailureType.KubernetesRejected);
      return Promise.resolve({ objects: [`Deployment/${plan.deployment}`] });
    },
    startRollout(plan) {
      record('startRollout', plan);
      if (scenario.rolloutFails) throw fail(scenario.rolloutFails, FailureType.RolloutFailed);
      return Promise.resolve(rolloutResult(plan));
    },
    setCanaryWeight(input) {
      record('setCanaryWeight', input);
      const canary = Math.ceil((3 * input.weight) / 100);
      return Promise.resolve({
        weight: input.weight,
        canaryReplicas: canary,
        stableReplicas: 3 - canary,
      });
    },
    promoteCanary(input) {
      record('promoteCanary', input);
      return Promise.resolve({ ...input.rollout, message: 'canary promoted' });
    },
    rollbackRollout(input) {
      record('rollbackRollout', input);
      if (scenario.rollbackFails)
        throw fail(scenario.rollbackFails, FailureType.KubernetesRejected);
      return Promise.resolve({
        revision: 6,
        images: input.before.images,
        message: `${input.plan.deployment} back on revision 4's template as revision 6`,
      });
    },
    finalizeRollout(input) {
      record('finalizeRollout', input);
      return Promise.resolve();
    },
    cleanupRollout(input) {
      record('cleanupRollout', input);
      const old = input.rollout.previousDeployment;
      return Promise.resolve(
        old
          ? { deleted: [`Deployment/${old}`], message: `deleted ${old}` }
          : { deleted: [], message: 'nothing to clean up' },
      );
    },
    async watchChecks(input) {
      record('watchChecks', input);
      checkCalls += 1;
      if (scenario.checks) return await scenario.checks(input, checkCalls);
      const metrics = input.checks.map((c) => ({ name: c.name, query: '', failWhen: '' }));
      return watchResult({ ...input, metrics, baseline: {} }, 'passed');
    },
    rolloutHistory(input) {
      record('rolloutHistory', input);
      return Promise.resolve([]);
    },
    recentEvents(input) {
      record('recentEvents', input);
      return Promise.resolve([]);
    },
    createBackup(input) {
      record('createBackup', input);
      if (scenario.backupFails) throw fail(scenario.backupFails, FailureType.BackupFailed);
      const name = `changectl-${input.changeId.toLowerCase()}`;
      const result: BackupResult = {
        name,
        phase: 'Completed',
        restoreCommand: `velero restore create --from-backup ${name}`,
      };
      return Promise.resolve(result);
    },
    restoreBackup(input) {
      record('restoreBackup', input);
      return Promise.resolve({
        name: `${input.backupName}-restore`,
        phase: 'Completed',
        backupName: input.backupName,
      });
    },
    validateQueries(metrics) {
      record('validateQueries', metrics);
      return Promise.resolve();
    },
    firingAlerts(input) {
      record('firingAlerts', input);
      return Promise.resolve(
        (scenario.alertsFiring ?? []).map((name) => ({ name, labels: { alertname: name } })),
      );
    },
    captureBaseline(metrics) {
      record('captureBaseline', metrics);
      return Promise.resolve(Object.fromEntries(metrics.map((m) => [m.name, 0.001])));
    },
    async watchMetrics(input) {
      record('watchMetrics', input);
      watchCalls += 1;
      const behaviour = scenario.watch ?? 'passed';
      if (typeof behaviour === 'function') return await behaviour(input, watchCalls);
      return watchResult(input, behaviour);
    },
    notify(notification) {
      record('notify', notification);
      notifications.push(notification);
      return Promise.resolve();
    },
    requestServiceLock: (input) => {
      record('requestServiceLock', input);
      return locks.requestServiceLock(input);
    },
    releaseServiceLock: (input) => {
      record('releaseServiceLock', input);
      return locks.releaseServiceLock(input);
    },
    isWorkflowOpen: (input) => locks.isWorkflowOpen(input),
  };
  return {
    activities,
    calls,
    notifications,
    called: (name: string) => calls.filter((c) => c.name === name),
  };
}

/** The policy workflow tests run under: no windows unless a test adds them. */
export function testPolicy(overrides: { spec?: Record<string, unknown> } = {}): Policy {
  return policySchema.parse({
    apiVersion: 'changectl/v1',
    kind: 'Policy',
    metadata: { name: 'test' },
    spec: {
      people: {
        alice: { teams: ['platform'] },
        bob: { teams: ['sre'] },
        carol: { teams: ['sre'], incidentCommander: true },
        dave: { teams: ['platform', 'security'] },
        erin: { teams: ['payments'], incidentCommander: true },
      },
      // Workflow tests state their actor; the signed path has tests of its own (signed-decisions).
      identity: { mode: 'names' },
      environments: {
        production: { namespaces: ['production'] },
        staging: { namespaces: ['staging'] },
      },
      standardChanges: {
        'image-bump': { environments: ['*'], services: ['*'], changes: 'image', maxRisk: 'medium' },
      },
      approvals: {
        expiry: '72h',
        reminderEvery: '24h',
        environments: { production: { minApprovers: 2 }, '*': { minApprovers: 1 } },
        services: { 'api-gateway': { teams: ['sre'] } },
        standardPreApproved: ['staging'],
      },
      ...overrides.spec,
    },
  });
}

/** A valid normal change to api-gateway in production, with any part replaced. */
export function testRequest(
  id: string,
  spec: Partial<ChangeRequestInput['spec']> = {},
  metadata: Partial<ChangeRequestInput['metadata']> = {},
): ChangeRequest {
  return changeRequestSchema.parse({
    apiVersion: 'changectl/v1',
    kind: 'ChangeRequest',
    metadata: { id, title: 'Upgrade api-gateway to v2.5.0', requestedBy: 'alice', ...metadata },
    spec: {
      type: 'normal',
      environment: 'production',
      namespace: 'production',
      services: ['api-gateway'],
      description: 'JWT refresh optimisation',
      impact: 'pods restart one by one',
      risk: 'medium',
      rollout: {
        strategy: 'rolling',
        target: { kind: 'Deployment', name: 'api-gateway' },
        image: 'registry.example.com/api-gateway:2.5.0',
        timeout: '10m',
      },
      verification: {
        watch: '15m',
        interval: '30s',
        metrics: [
          {
            name: 'error-rate',
            query: 'sum(rate(http_requests_total{code=~"5.."}[1m]))',
            failWhen: '> 0.01',
          },
        ],
      },
      ...spec,
    },
  });
}
