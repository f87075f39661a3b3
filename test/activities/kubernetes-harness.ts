/**
 * Runs activities against the local cluster (a real control plane) the way a Temporal worker
 * would: inside an activity context, retried on retryable failures with the last heartbeat handed
 * to the next attempt. Each test works in a namespace of its own, seeded like `production`.
 */
import type { TestContext } from 'node:test';
import type { AppsV1Api, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { loadKubeConfig } from '../../activities/kubernetes/kubeconfig';
import type { RolloutPlan } from '../../src/core/contracts';
import { startFaultProxy, type FaultProxy } from '../../src/stack/fault-proxy';
import { namespaceFor, type TestNamespace } from '../helpers/cluster';

export { namespaceFor } from '../helpers/cluster';

/**
 * A test namespace reached through a fault proxy (src/stack/fault-proxy): kubeConfig goes through
 * it, so `faults.setFaults(...)` makes the activities meet 503s, 409s and latency; apps and core
 * talk to the API server directly, for the test's own checks.
 */
export async function faultyNamespaceFor(
  t: TestContext,
): Promise<TestNamespace & { faults: FaultProxy }> {
  const ns = await namespaceFor(t);
  const faults = await startFaultProxy({
    kubeconfigPath: ns.cluster.kubeconfigPath,
    namespace: ns.namespace,
  });
  t.after(() => faults.stop());
  return { ...ns, kubeConfig: loadKubeConfig({ path: faults.kubeconfigPath }), faults };
}

export const quietLogger = new DefaultLogger('ERROR');

export interface ActivityRun<R> {
  result: R;
  attempts: number;
  heartbeats: unknown[];
}

/** Whether Temporal would retry this failure (default retry policy, no extra non-retryable types). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ApplicationFailure) return !error.nonRetryable;
  return error instanceof Error && error.name !== 'CancelledFailure';
}

/**
 * Runs `activity` in a mock activity context, attempt after attempt while it fails retryably,
 * each attempt seeing the previous attempt's last heartbeat, as the server hands it over, and
 * backing off between attempts as a retry policy does (50 ms doubling to 1 s), so the attempts
 * span time the cluster needs rather than all landing within a moment.
 */
export async function runAsActivity<R>(
  activity: () => Promise<R>,
  options: { maxAttempts?: number } = {},
): Promise<ActivityRun<R>> {
  const maxAttempts = options.maxAttempts ?? 30;
  const heartbeats: unknown[] = [];
  let heartbeatDetails: unknown = undefined;
  for (let attempt = 1; ; attempt++) {
    const env = new MockActivityEnvironment({ attempt, heartbeatDetails }, { logger: quietLogger });
    env.on('heartbeat', (details: unknown) => {
      heartbeatDetails = details;
      heartbeats.push(details);
    });
    try {
      return { result: await env.run(activity), attempts: attempt, heartbeats };
    } catch (error) {
      if (!isRetryable(error) || attempt >= maxAttempts) {
        Object.assign(error as object, { attempts: attempt });
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** (attempt - 1), 1_000)));
    }
  }
}

/** Runs the activity once and returns its failure, for assertions on type and retryability. */
export async function failureOf(activity: () => Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await runAsActivity(activity, { maxAttempts: 1 });
  } catch (error) {
    if (error instanceof ApplicationFailure) return error;
    throw error;
  }
  throw new Error('expected the activity to fail');
}

export function plan(
  overrides: Partial<RolloutPlan> & { changeId: string; namespace: string },
): RolloutPlan {
  return {
    strategy: 'rolling',
    deployment: 'api-gateway',
    timeoutMs: 20_000,
    ...overrides,
  };
}

export async function replicaSetsOf(
  apps: AppsV1Api,
  namespace: string,
  deployment: string,
): Promise<V1ReplicaSet[]> {
  const owner = await apps.readNamespacedDeployment({ namespace, name: deployment });
  const list = await apps.listNamespacedReplicaSet({ namespace });
  return list.items.filter((rs) =>
    (rs.metadata?.ownerReferences ?? []).some((o) => o.uid === owner.metadata?.uid),
  );
}

export function imageOf(deployment: V1Deployment): string | undefined {
  return deployment.spec?.template?.spec?.containers?.[0]?.image;
}

export const gatewayImage = 'registry.example.com/api-gateway:2.4.3';
