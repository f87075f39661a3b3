import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { createDriftActivities } from '../activities/drift';
import { createGateActivities } from '../activities/gates';
import { createKubernetesActivities } from '../activities/kubernetes';
import { loadKubeConfig } from '../activities/kubernetes/kubeconfig';
import { createLockActivities } from '../activities/lock';
import { createNotificationActivities } from '../activities/notifications';
import { createPolicyActivities } from '../activities/policy';
import { createPrometheusActivities } from '../activities/prometheus';
import { createVeleroActivities } from '../activities/velero';
import type {
  DriftActivities,
  GateActivities,
  KubernetesActivities,
  LockActivities,
  NotificationActivities,
  PolicyActivities,
  PrometheusActivities,
  VeleroActivities,
} from '../src/core/contracts';
import type { WorkerConfig } from './config';

/** Every activity interface the workflows proxy; the compiler checks that all are registered. */
export type ChangectlActivities = GateActivities &
  KubernetesActivities &
  VeleroActivities &
  PrometheusActivities &
  NotificationActivities &
  PolicyActivities &
  LockActivities &
  DriftActivities;

/** The workflows' source; bundled by the worker at start outside production. */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Time for running activities to finish after a shutdown signal before they are cancelled. */
export const SHUTDOWN_GRACE_MS = 15_000;
/** After this the worker gives up on a clean shutdown; well inside the pod's termination grace. */
export const SHUTDOWN_FORCE_MS = 25_000;

export function kubeConfigOf(config: WorkerConfig): KubeConfig {
  const { kube } = config;
  return loadKubeConfig({
    inCluster: kube.inCluster,
    ...(kube.kubeconfigPath !== undefined ? { path: kube.kubeconfigPath } : {}),
    ...(kube.context !== undefined ? { context: kube.context } : {}),
  });
}

export function createActivities(
  config: WorkerConfig,
  client: Client,
  kubeConfig: KubeConfig,
): ChangectlActivities {
  return {
    ...createKubernetesActivities(kubeConfig),
    ...createVeleroActivities(kubeConfig, { namespace: config.veleroNamespace }),
    ...createPrometheusActivities({
      url: config.prometheus.url,
      timeoutMs: config.prometheus.timeoutMs,
      ...(config.prometheus.auth ? { auth: config.prometheus.auth } : {}),
    }),
    ...createNotificationActivities(config.notifications),
    ...createGateActivities(config.gates),
    ...createPolicyActivities(config.policyPath),
    ...createLockActivities(client),
    ...createDriftActivities(kubeConfig, client),
  };
}

/**
 * Everything the worker registers: every workflow (from the prebuilt bundle in production) and
 * every activity, built over the configured clients. Kept apart from running so it is testable.
 */
export function createWorkerOptions(
  config: WorkerConfig,
  connection: NativeConnection,
  client: Client,
  clients: { kubeConfig?: KubeConfig } = {},
): WorkerOptions {
  const kubeConfig = clients.kubeConfig ?? kubeConfigOf(config);
  const workflows: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> =
    config.workflowBundlePath !== undefined
      ? { workflowBundle: { codePath: config.workflowBundlePath } }
      : { workflowsPath };
  return {
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    ...workflows,
    activities: createActivities(config, client, kubeConfig),
    shutdownGraceTime: SHUTDOWN_GRACE_MS,
    shutdownForceTime: SHUTDOWN_FORCE_MS,
  };
}
