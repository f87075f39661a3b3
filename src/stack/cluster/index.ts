/**
 * A real Kubernetes control plane on 127.0.0.1 for `npm run cluster`, `npm run dev`, the demo
 * and the tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK (one fake
 * node; pods are scheduled, turn Running and Ready after a delay, and rollouts progress as on a
 * cluster). Every run has its own ports, serving certificates, token, service-account key pair
 * and data folder; stop() ends every process group and removes the folder.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { freePort } from '../prometheus';
import { clusterToolPath } from '../tools';
import { killGroup, startServerProcess, type ServerProcess } from './process';
import {
  createNamespace,
  createService,
  deploymentsRolledOut,
  seedNamespaces,
  seedServices,
  serviceAccountReady,
} from './seed';
import { kwokStagesConfig } from './stages';

export { createNamespace, createService, deploymentsRolledOut, seedServices } from './seed';

export interface LocalClusterOptions {
  /** How long a new pod takes to turn Ready; default 1000 ms. */
  podReadyDelayMs?: number;
  /** Default true: namespaces production and staging, api-gateway and auth-service in production. */
  seed?: boolean;
  /** Where to write the kubeconfig; default `kubeconfig` in the run's folder. */
  kubeconfigPath?: string;
  /** How long to wait for each part; default 60 s. */
  readyTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface LocalCluster {
  /** A kubeconfig for the cluster: context `changectl-local`, namespace production. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** A bearer token of group system:masters. */
  token: string;
  /** The API server's serving certificate bundle (its CA included). */
  caFile: string;
  /** The run's folder: data, certificates, logs (`<name>.log`). */
  dir: string;
  kubeConfig(): KubeConfig;
  /** Process ids of the servers, for checks that stop() left nothing behind. */
  pids(): number[];
  /** The servers' process groups by name (`etcd`, `kube-apiserver`, ...), for a lock file. */
  processGroups(): Record<string, number>;
  /** Stops every server (KWOK first, etcd last) and removes the run's folder. Idempotent. */
  stop(): Promise<void>;
}

export const localContext = 'changectl-local';
export const fakeNodeName = 'kwok-node-0';
const serviceClusterIpRange = '10.96.0.0/16';

export function kubeconfigYaml(server: string, caData: string, token: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: localContext, cluster: { server, 'certificate-authority-data': caData } }],
    users: [{ name: localContext, user: { token } }],
    contexts: [
      {
        name: localContext,
        context: { cluster: localContext, user: localContext, namespace: 'production' },
      },
    ],
    'current-context': localContext,
    preferences: {},
  });
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  failed: () => string | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(`${what}: ${failure}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not ready within ${timeoutMs} ms (${last})`);
    await delay(100);
  }
}

/** GET over https with the token; the serving certificate is not known before it is written. */
function httpsStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        headers: { Authorization: `Bearer ${token}` },
        rejectUnauthorized: false,
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const binaries = {
    etcd: clusterToolPath('etcd'),
    apiserver: clusterToolPath('kube-apiserver'),
    controllerManager: clusterToolPath('kube-controller-manager'),
    scheduler: clusterToolPath('kube-scheduler'),
    kwok: clusterToolPath('kwok'),
    stages: clusterToolPath('kwok-stages'),
  };

  const dir = await mkdtemp(join(tmpdir(), 'changectl-cluster-'));
  const processes: ServerProcess[] = [];
  const killOnExit = (): void => {
    for (const p of processes) if (p.child.pid) killGroup(p.child.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const p of [...processes].reverse()) await p.stop();
      process.removeListener('exit', killOnExit);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };
  const anyExited = (): string | undefined => processes.find((p) => p.hasExited())?.describe();
  const start = (name: string, command: string, args: string[]): ServerProcess => {
    const p = startServerProcess(name, command, args, { logFile: join(dir, `${name}.log`) });
    processes.push(p);
    return p;
  };

  try {
    const token = randomBytes(24).toString('hex');
    const certDir = join(dir, 'pki');
    await mkdir(certDir, { recursive: true });
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${token},changectl-admin,changectl-admin,"system:masters"\n`, {
      mode: 0o600,
    });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saPublic = join(dir, 'sa.pub');
    const saPrivate = join(dir, 'sa.key');
    await writeFile(saPublic, publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(saPrivate, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });

    // etcd
    const [etcdPort, etcdPeerPort, apiPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const started = Date.now();
    start('etcd', binaries.etcd, [
      '--name=node0',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=node0=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    // kube-apiserver: serving certificates it makes itself in certDir (for 127.0.0.1).
    const server = `https://127.0.0.1:${apiPort}`;
    start('kube-apiserver', binaries.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${saPublic}`,
      `--service-account-signing-key-file=${saPrivate}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
    ]);
    await until(
      'kube-apiserver',
      timeoutMs,
      async () => ((await httpsStatus(`${server}/readyz`, token)) === 200 ? true : undefined),
      anyExited,
    );
    log(`kube-apiserver ready on ${server} (${Date.now() - started} ms)`);

    const caFile = join(certDir, 'apiserver.crt');
    const caData = readFileSync(caFile).toString('base64');
    const internalKubeconfig = join(dir, 'admin.kubeconfig');
    await writeFile(internalKubeconfig, kubeconfigYaml(server, caData, token), { mode: 0o600 });
    const kubeconfigPath = options.kubeconfigPath ?? join(dir, 'kubeconfig');
    if (kubeconfigPath !== internalKubeconfig) {
      await writeFile(kubeconfigPath, kubeconfigYaml(server, caData, token), { mode: 0o600 });
    }
    const kubeConfig = (): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromFile(internalKubeconfig);
      return kc;
    };

    start('kube-controller-manager', binaries.controllerManager, [
      `--kubeconfig=${internalKubeconfig}`,
      `--authentication-kubeconfig=${internalKubeconfig}`,
      `--authorization-kubeconfig=${internalKubeconfig}`,
      '--leader-elect=false',
      // nodeipam would want a cluster CIDR; KWOK hands out pod addresses itself.
      '--controllers=*,-nodeipam',
      `--service-account-private-key-file=${saPrivate}`,
      `--root-ca-file=${caFile}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--secure-port=0',
      '--kube-api-qps=500',
      '--kube-api-burst=1000',
    ]);
    start('kube-scheduler', binaries.scheduler, [
      `--kubeconfig=${internalKubeconfig}`,
      `--authentication-kubeconfig=${internalKubeconfig}`,
      `--authorization-kubeconfig=${internalKubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--kube-api-qps=500',
      '--kube-api-burst=1000',
    ]);
    const stagesFile = join(dir, 'kwok-stages.yaml');
    await writeFile(
      stagesFile,
      await kwokStagesConfig(binaries.stages, options.podReadyDelayMs ?? 1_000),
    );
    start('kwok', binaries.kwok, [
      `--kubeconfig=${internalKubeconfig}`,
      '-c',
      stagesFile,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=127.0.0.1',
      '--node-lease-duration-seconds=40',
    ]);

    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({
      body: {
        metadata: {
          name: fakeNodeName,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            type: 'kwok',
            'kubernetes.io/hostname': fakeNodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
          },
        },
      },
    });
    await until(
      `node ${fakeNodeName}`,
      timeoutMs,
      async () => {
        const node = await core.readNode({ name: fakeNodeName });
        const ready = node.status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        );
        const tainted = (node.spec?.taints ?? []).some((t) =>
          t.key.startsWith('node.kubernetes.io/'),
        );
        return ready && !tainted ? true : undefined;
      },
      anyExited,
    );
    log(`node ${fakeNodeName} ready (${Date.now() - started} ms)`);

    if (options.seed !== false) {
      for (const name of seedNamespaces) await createNamespace(kc, name);
      await until(
        'the default service account in production',
        timeoutMs,
        async () => ((await serviceAccountReady(kc, 'production')) ? true : undefined),
        anyExited,
      );
      for (const service of seedServices) await createService(kc, 'production', service);
      await until(
        'the seeded deployments in production',
        timeoutMs,
        async () => ((await deploymentsRolledOut(kc, 'production')) ? true : undefined),
        anyExited,
      );
      log(`seeded namespace production (${Date.now() - started} ms)`);
    }

    return {
      kubeconfigPath,
      server,
      token,
      caFile,
      dir,
      kubeConfig,
      pids: () => processes.flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid])),
      processGroups: () =>
        Object.fromEntries(
          processes.flatMap((p) => (p.child.pid === undefined ? [] : [[p.name, p.child.pid]])),
        ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Whether the tools the local cluster needs are built (`npm run provision` builds them). */
export function localClusterToolsBuilt(): boolean {
  try {
    for (const tool of [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
      'kwok-stages',
    ] as const) {
      if (!existsSync(clusterToolPath(tool))) return false;
    }
    return true;
  } catch {
    return false;
  }
}
