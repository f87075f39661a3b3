/**
 * The real Velero server for the local stack, run outside the cluster as Velero documents for
 * development: its CRDs (from `velero install --crds-only`), namespace `velero`, a Deployment
 * named `velero` (its restore actions read their helper image from it; under KWOK its pod is a
 * fake one, which is all they need), a BackupStorageLocation `default` on the local S3 server,
 * and `velero server` with velero-plugin-for-aws, resolved once the location is Available.
 *
 * Everything is on loopback and per run: the plugin folder, credentials file, HOME and TMPDIR
 * (Velero keeps credentials and plugin sockets there) live in a temporary folder removed on
 * stop; the server runs in its own process group (its plugins with it), killed on stop. Objects
 * made in the cluster are left: the cluster is the run's own.
 */
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { realpath, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { freePort } from './prometheus';
import type { S3Server } from './s3';
import { killGroup, startServerProcess, type ServerProcess } from './cluster/process';
import { clusterToolPath } from './tools';

const run = promisify(execFile);

export interface VeleroOptions {
  /** The cluster Velero serves (an admin kubeconfig: it installs CRDs). */
  kubeconfigPath: string;
  /** Where backups go: the local S3 server of ./s3 (or any S3 with path-style access). */
  s3: Pick<S3Server, 'endpoint' | 'bucket' | 'region' | 'accessKey' | 'secretKey'>;
  /** Default `velero`. */
  namespace?: string;
  /** Where the server's output goes; a file in the run's temporary folder when absent. */
  logFile?: string;
  /** How long to wait for the storage location to be Available; default 90 s. */
  readyTimeoutMs?: number;
}

export interface VeleroServer {
  namespace: string;
  /** The BackupStorageLocation made (`default`). */
  storageLocation: string;
  /** Whether the server process is still running. */
  running(): boolean;
  /** How the server runs or ended, with its last log lines and log file, for messages. */
  describe(): string;
  /** Stops the server and its plugins, removes the run folder. Idempotent. */
  stop(): Promise<void>;
}

/** The image the `velero` Deployment names; restore actions read it, nothing pulls it. */
export const VELERO_IMAGE = 'velero/velero:v1.18.3';
const fieldManager = 'changectl-stack';
const storageLocation = 'default';

interface VeleroList {
  items?: KubernetesObject[];
}

/** Velero's CRDs as its own CLI renders them. */
export async function veleroCrds(env: Record<string, string> = {}): Promise<KubernetesObject[]> {
  const { stdout } = await run(
    clusterToolPath('velero'),
    ['install', '--crds-only', '--dry-run', '-o', 'yaml'],
    { env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: 64 * 1024 * 1024 },
  );
  const out: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    const value = doc.toJS() as (KubernetesObject & VeleroList) | null;
    if (!value) continue;
    if (value.kind === 'List') out.push(...(value.items ?? []));
    else out.push(value);
  }
  const crds = out.filter((o) => o.kind === 'CustomResourceDefinition');
  if (crds.length === 0) throw new Error('velero install --crds-only printed no CRDs');
  return crds;
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

async function apply(api: KubernetesObjectApi, object: KubernetesObject): Promise<void> {
  await api.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

async function waitEstablished(
  kubeConfig: KubeConfig,
  names: string[],
  deadline: number,
): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      );
      if (established) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not Established in time`);
      await delay(100);
    }
  }
}

/** Velero's objects in the cluster: CRDs, namespace, the `velero` Deployment, the location. */
async function installObjects(
  kubeConfig: KubeConfig,
  options: VeleroOptions,
  namespace: string,
  home: string,
  deadline: number,
): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const crds = await veleroCrds({ HOME: home });
  for (const crd of crds) await apply(objects, crd);
  await waitEstablished(
    kubeConfig,
    crds.map((c) => c.metadata?.name ?? ''),
    deadline,
  );

  const core = kubeConfig.makeApiClient(CoreV1Api);
  try {
    await core.readNamespace({ name: namespace });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  }

  const labels = { component: 'velero', deploy: 'velero' };
  await apply(objects, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'velero', namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: 'velero', image: VELERO_IMAGE, command: ['/velero'] }],
        },
      },
    },
  } as KubernetesObject);

  const { s3 } = options;
  await apply(objects, {
    apiVersion: 'velero.io/v1',
    kind: 'BackupStorageLocation',
    metadata: { name: storageLocation, namespace, labels: { component: 'velero' } },
    spec: {
      provider: 'aws',
      default: true,
      objectStorage: { bucket: s3.bucket },
      config: { region: s3.region, s3Url: s3.endpoint, s3ForcePathStyle: 'true' },
    },
  } as KubernetesObject);
}

interface Location {
  status?: { phase?: string; message?: string };
}

async function waitAvailable(
  kubeConfig: KubeConfig,
  namespace: string,
  server: ServerProcess,
  deadline: number,
): Promise<void> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  let seen = 'no phase yet';
  for (;;) {
    if (
      server.hasExited() &&
      /listen tcp :8080: bind: address already in use/.test(server.describe())
    ) {
      // controller-runtime's own metrics listener: velero has no flag for it.
      throw new Error(
        `velero server could not bind :8080 (controller-runtime's metrics listener, which velero cannot move): another Velero server or program holds it; ${server.describe()}`,
      );
    }
    if (server.hasExited()) {
      throw new Error(
        `velero server stopped before the location was Available: ${server.describe()}`,
      );
    }
    const location = (await api.getNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace,
      plural: 'backupstoragelocations',
      name: storageLocation,
    })) as Location;
    const phase = location.status?.phase;
    if (phase === 'Available') return;
    if (phase) seen = `${phase}${location.status?.message ? `: ${location.status.message}` : ''}`;
    if (Date.now() > deadline) {
      throw new Error(
        `backup storage location ${namespace}/${storageLocation} not Available in time (${seen}); ${server.describe()}`,
      );
    }
    await delay(200);
  }
}

/** Installs Velero's objects, starts `velero server`, and resolves once the location is Available. */
export async function startVelero(options: VeleroOptions): Promise<VeleroServer> {
  const namespace = options.namespace ?? 'velero';
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfigPath);

  const runDir = await mkdtemp(join(tmpdir(), 'changectl-velero-'));
  let server: ServerProcess | undefined;
  // A test process that exits without stop() leaves neither server nor files.
  const killOnExit = (): void => {
    if (server?.child.pid) killGroup(server.child.pid, 'SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server?.stop();
      process.removeListener('exit', killOnExit);
      await rm(runDir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    const home = join(runDir, 'home');
    const tmp = join(runDir, 'tmp');
    const plugins = join(runDir, 'plugins');
    await Promise.all([mkdir(home), mkdir(tmp), mkdir(plugins)]);
    await symlink(
      await realpath(clusterToolPath('velero-plugin-for-aws')),
      join(plugins, 'velero-plugin-for-aws'),
    );
    const credentialsFile = join(runDir, 'credentials');
    await writeFile(
      credentialsFile,
      `[default]\naws_access_key_id=${options.s3.accessKey}\naws_secret_access_key=${options.s3.secretKey}\n`,
      { mode: 0o600 },
    );

    await installObjects(kubeConfig, options, namespace, home, deadline);

    const metricsPort = await freePort();
    server = startServerProcess(
      'velero-server',
      clusterToolPath('velero'),
      [
        'server',
        `--kubeconfig=${options.kubeconfigPath}`,
        `--namespace=${namespace}`,
        `--plugin-dir=${plugins}`,
        `--default-backup-storage-location=${storageLocation}`,
        // Its own metrics on a loopback port of this run; no pprof listener.
        `--metrics-address=127.0.0.1:${metricsPort}`,
        '--profiler-address=',
        // Volumes are not snapshotted here: no node agent, no CSI, no snapshot location.
        '--default-volumes-to-fs-backup=false',
        // Keep the location's phase fresh and backups in the bucket found soon.
        '--store-validation-frequency=10s',
        '--backup-sync-period=10s',
        '--log-format=text',
      ],
      {
        logFile: options.logFile ?? join(runDir, 'velero-server.log'),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          TMPDIR: tmp,
          AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
          // The AWS SDK must not find a profile or credentials of the machine.
          AWS_CONFIG_FILE: join(runDir, 'aws-config'),
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        cwd: runDir,
      },
    );

    await waitAvailable(kubeConfig, namespace, server, deadline);
  } catch (error) {
    await stop();
    throw error;
  }

  const started = server;
  return {
    namespace,
    storageLocation,
    running: () => !started.hasExited(),
    describe: () => started.describe(),
    stop,
  };
}
