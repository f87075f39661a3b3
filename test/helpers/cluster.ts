/**
 * The one local cluster of a test file: a real control plane (src/stack/cluster), started on
 * first use and stopped when the file's tests are done. Each test gets its own namespace, seeded
 * with api-gateway (3 replicas) and auth-service (2) like the cluster's `production`, so tests
 * share the servers and nothing else.
 */
import { after, type TestContext } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  createNamespace,
  createService,
  deploymentsRolledOut,
  seedServices,
  startLocalCluster,
  type LocalCluster,
} from '../../src/stack/cluster/index';
import { serviceAccountReady } from '../../src/stack/cluster/seed';

let shared: Promise<LocalCluster> | undefined;

/** Pods turn Ready this long after they are scheduled; short, so tests run quickly. */
export const testPodReadyDelayMs = 150;

export function testCluster(): Promise<LocalCluster> {
  shared ??= startLocalCluster({ seed: false, podReadyDelayMs: testPodReadyDelayMs });
  return shared;
}

after(async () => {
  const cluster = await shared?.catch(() => undefined);
  await cluster?.stop();
});

/** Polls until `check` returns a value other than undefined, or fails naming what it waited for. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let namespaces = 0;

function namespaceName(t: TestContext): string {
  const slug = t.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  namespaces += 1;
  return `t${process.pid}-${namespaces}${slug ? `-${slug}` : ''}`;
}

export interface TestNamespace {
  cluster: LocalCluster;
  namespace: string;
  kubeConfig: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
}

/**
 * A namespace of the file's cluster for one test, with the seeded services rolled out (unless
 * `seed: false`); deleted when the test ends.
 */
export async function namespaceFor(
  t: TestContext,
  options: { seed?: boolean } = {},
): Promise<TestNamespace> {
  const cluster = await testCluster();
  const kubeConfig = cluster.kubeConfig();
  const namespace = namespaceName(t);
  await createNamespace(kubeConfig, namespace);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  t.after(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });
  if (options.seed !== false) {
    await eventually(`the default service account in ${namespace}`, async () =>
      (await serviceAccountReady(kubeConfig, namespace)) ? true : undefined,
    );
    for (const service of seedServices) await createService(kubeConfig, namespace, service);
    await eventually(`the seeded deployments in ${namespace}`, async () =>
      (await deploymentsRolledOut(kubeConfig, namespace)) ? true : undefined,
    );
  }
  return { cluster, namespace, kubeConfig, apps: kubeConfig.makeApiClient(AppsV1Api), core };
}
