import { proxyActivities } from '@temporalio/workflow';
import type {
  GateActivities,
  KubernetesActivities,
  LockActivities,
  NotificationActivities,
  PolicyActivities,
  PrometheusActivities,
  VeleroActivities,
} from '../src/core/contracts';

/** Checks before anything changes: a few attempts, then the change fails with nothing changed. */
const quickRetry = { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 };

export const policyActivities = proxyActivities<PolicyActivities>({
  startToCloseTimeout: '30s',
  retry: quickRetry,
});

export const notifications = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10 },
});

export const kubernetesChecks = proxyActivities<KubernetesActivities>({
  startToCloseTimeout: '1m',
  retry: quickRetry,
});

/**
 * Rollouts and rollbacks wait for the cluster and heartbeat while they do. Rollbacks retry
 * without limit: giving up on a rollback is never the right call for a machine.
 */
export const kubernetesRollouts = proxyActivities<KubernetesActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

export const velero = proxyActivities<VeleroActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
});

export const prometheusChecks = proxyActivities<PrometheusActivities>({
  startToCloseTimeout: '1m',
  retry: quickRetry,
});

export const locks = proxyActivities<LockActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/** A gate asks once: its answer (passed or not) is the result; only a lost worker retries. */
export const gates = proxyActivities<GateActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
});

/** Every activity proxy a change uses; the steps receive it, so none imports a proxy itself. */
export const changeActivities = {
  policyActivities,
  notifications,
  kubernetesChecks,
  kubernetesRollouts,
  velero,
  prometheusChecks,
  locks,
  gates,
};
export type ChangeActivities = typeof changeActivities;
