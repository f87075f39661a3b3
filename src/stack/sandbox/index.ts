import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { ResourceApi } from './api';
import { prepareObject } from './defaults';
import { DeploymentController } from './deployment-controller';
import { EventRecorder } from './events';
import type { KubeObject } from './objects';
import { deployments, namespaces, services, type ResourceType } from './resources';
import { createRequestHandler, noFaults, validateFaults, type Faults } from './server';
import { Store } from './store';
import { TrafficSimulator } from './traffic';
import { VeleroController } from './velero-controller';

export type { Faults } from './server';
export { failBackupKey } from './velero-controller';

export interface SandboxOptions {
  /** Default 0: a free port. */
  port?: number;
  /** How long a new pod takes to become ready; default 300. */
  podReadyAfterMs?: number;
  /** Where to write the kubeconfig; default a file in a new temporary folder. */
  kubeconfigPath?: string;
  faults?: Partial<Faults>;
  /** Default true: namespaces production and staging, and the demo services in production. */
  seed?: boolean;
  /** How long a Velero backup or restore stays InProgress; default 500. */
  veleroBackupMs?: number;
}

export interface Sandbox {
  /** http://127.0.0.1:PORT */
  url: string;
  /** A kubeconfig for url: cluster, context and user `sandbox`, namespace production. */
  kubeconfigPath: string;
  setFaults(f: Partial<Faults>): void;
  /** Stops the server, the controllers and every open watch. */
  close(): Promise<void>;
}

/** How often the controllers run. */
const tickMs = 50;

function namespaceObject(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, uid: '', resourceVersion: '', creationTimestamp: '' },
  };
}

function seedObject(store: Store, r: ResourceType, o: KubeObject): void {
  store.create(r, prepareObject(r, o));
}

/** A demo service as the project's examples describe it: a Deployment and a Service named alike. */
function seedApp(
  store: Store,
  namespace: string,
  name: string,
  replicas: number,
  image: string,
): void {
  const labels = { app: name };
  seedObject(store, deployments, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, uid: '', resourceVersion: '', creationTimestamp: '' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name, image, ports: [{ containerPort: 8080, name: 'http' }] }] },
      },
    },
  });
  seedObject(store, services, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels, uid: '', resourceVersion: '', creationTimestamp: '' },
    spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

export function kubeconfigYaml(url: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    // @kubernetes/client-node refuses plain http unless TLS verification is marked skipped.
    clusters: [{ name: 'sandbox', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sandbox', user: { token: 'sandbox-token' } }],
    contexts: [
      {
        name: 'sandbox',
        context: { cluster: 'sandbox', user: 'sandbox', namespace: 'production' },
      },
    ],
    'current-context': 'sandbox',
    preferences: {},
  });
}

/**
 * Starts the sandbox cluster: a Kubernetes API server for the resources changectl uses, its
 * controllers, simulated service traffic on /metrics, and fault injection.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  let faults: Faults = { ...noFaults, ...validateFaults(options.faults ?? {}) };
  const store = new Store();
  const recorder = new EventRecorder(store);
  const deploymentController = new DeploymentController(store, recorder, {
    podReadyAfterMs: options.podReadyAfterMs ?? 300,
  });
  const velero = new VeleroController(store, options.veleroBackupMs ?? 500);
  let soon: NodeJS.Timeout | undefined;
  let stopped = false;
  const api = new ResourceApi(store, () => {
    if (stopped) return;
    soon ??= setTimeout(() => {
      soon = undefined;
      runControllers();
    }, 1);
  });

  for (const name of ['default', 'velero']) seedObject(store, namespaces, namespaceObject(name));
  if (options.seed !== false) {
    for (const name of ['production', 'staging'])
      seedObject(store, namespaces, namespaceObject(name));
    seedApp(store, 'production', 'api-gateway', 3, 'registry.example.com/api-gateway:2.4.3');
    seedApp(store, 'production', 'auth-service', 2, 'registry.example.com/auth-service:2.14.3');
    deploymentController.settle();
  }
  const traffic = new TrafficSimulator(store);

  const delays = new Set<{ timer: NodeJS.Timeout }>();
  let hostPort = '127.0.0.1:0';
  const server = createServer(
    createRequestHandler({
      api,
      traffic,
      faults: () => faults,
      setFaults: (f) => {
        faults = { ...faults, ...validateFaults(f) };
      },
      hostPort: () => hostPort,
      delay: (ms) =>
        new Promise<void>((resolve) => {
          const entry = {
            timer: setTimeout(() => {
              delays.delete(entry);
              resolve();
            }, ms),
          };
          delays.add(entry);
        }),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hostPort = `127.0.0.1:${port}`;
  const url = `http://${hostPort}`;

  let tempDir: string | undefined;
  let kubeconfigPath = options.kubeconfigPath;
  try {
    if (!kubeconfigPath) {
      tempDir = await mkdtemp(join(tmpdir(), 'changectl-sandbox-'));
      kubeconfigPath = join(tempDir, 'kubeconfig');
    }
    await writeFile(kubeconfigPath, kubeconfigYaml(url), { mode: 0o600 });
  } catch (e) {
    server.close();
    throw e;
  }

  let lastTickError = '';
  function runControllers(): void {
    try {
      const now = Date.now();
      deploymentController.tick(now);
      velero.tick(now);
      traffic.advance(now);
    } catch (e) {
      // One bad object must not stop the cluster; report each distinct failure once.
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      if (message !== lastTickError) console.error(`sandbox controller error: ${message}`);
      lastTickError = message;
    }
  }
  const ticker = setInterval(runControllers, tickMs);
  ticker.unref();

  let closed: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath,
    setFaults(f) {
      faults = { ...faults, ...validateFaults(f) };
    },
    close() {
      closed ??= (async () => {
        stopped = true;
        clearInterval(ticker);
        clearTimeout(soon);
        // Requests still waiting out injected latency are dropped with their connections.
        for (const d of delays) clearTimeout(d.timer);
        delays.clear();
        api.closeWatches();
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await serverClosed;
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
