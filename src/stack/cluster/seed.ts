/**
 * What the local cluster starts with: namespaces production and staging, and in production the
 * demo services the project's examples name (a Deployment and a Service each).
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';

export interface SeedService {
  name: string;
  replicas: number;
  image: string;
}

export const seedServices: readonly SeedService[] = [
  { name: 'api-gateway', replicas: 3, image: 'registry.example.com/api-gateway:2.4.3' },
  { name: 'auth-service', replicas: 2, image: 'registry.example.com/auth-service:2.14.3' },
];

export const seedNamespaces = ['production', 'staging'] as const;

function isConflict(error: unknown): boolean {
  return (error as { code?: number }).code === 409;
}

export async function createNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

/** A Deployment (`app=<name>`, one container named like it, port 8080) and its Service. */
export async function createService(
  kubeConfig: KubeConfig,
  namespace: string,
  service: SeedService,
): Promise<void> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const labels = { app: service.name };
  const deployment: V1Deployment = {
    metadata: { name: service.name, namespace, labels },
    spec: {
      replicas: service.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: service.name,
              image: service.image,
              ports: [{ containerPort: 8080, name: 'http' }],
            },
          ],
        },
      },
    },
  };
  await apps.createNamespacedDeployment({ namespace, body: deployment });
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: service.name, namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  });
}

/** Whether every Deployment in the namespace has rolled out, as `kubectl rollout status` judges it. */
export async function deploymentsRolledOut(
  kubeConfig: KubeConfig,
  namespace: string,
): Promise<boolean> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const { items } = await apps.listNamespacedDeployment({ namespace });
  return items.every((d) => {
    const s = d.status ?? {};
    const want = d.spec?.replicas ?? 1;
    return (
      (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0) &&
      (s.updatedReplicas ?? 0) === want &&
      (s.replicas ?? 0) === want &&
      (s.availableReplicas ?? 0) === want
    );
  });
}

/** Whether the namespace's `default` ServiceAccount exists (pods are refused until it does). */
export async function serviceAccountReady(
  kubeConfig: KubeConfig,
  namespace: string,
): Promise<boolean> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  try {
    await core.readNamespacedServiceAccount({ namespace, name: 'default' });
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return false;
    throw error;
  }
}
