// The real kubectl against the local cluster (a real control plane): every verb a user tries works.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { startLocalCluster, type LocalCluster } from '../../src/stack/cluster/index';
import { startS3, type S3Server } from '../../src/stack/s3';
import { startVelero, type VeleroServer } from '../../src/stack/velero';
import { eventually } from '../helpers/cluster';

const kubectlBinary = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

void describe(
  'kubectl against the local cluster',
  { skip: kubectlBinary ? false : 'kubectl is not installed' },
  () => {
    let cluster: LocalCluster;
    let s3: S3Server;
    let velero: VeleroServer;
    let workDir: string;

    before(async () => {
      cluster = await startLocalCluster({ podReadyDelayMs: 300 });
      s3 = await startS3();
      velero = await startVelero({ kubeconfigPath: cluster.kubeconfigPath, s3 });
      workDir = await mkdtemp(join(tmpdir(), 'changectl-kubectl-'));
    });
    after(async () => {
      await velero?.stop();
      await s3?.stop();
      await cluster?.stop();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    /** Runs kubectl with the cluster's kubeconfig and a private discovery cache. */
    function kubectl(...args: string[]): Promise<Run> {
      return new Promise((resolve) => {
        execFile(
          kubectlBinary ?? 'kubectl',
          ['--cache-dir', join(workDir, 'cache'), ...args],
          {
            env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: workDir },
            timeout: 45_000,
          },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    }

    async function ok(...args: string[]): Promise<string> {
      const run = await kubectl(...args);
      assert.equal(run.code, 0, `kubectl ${args.join(' ')} failed: ${run.stderr}`);
      return run.stdout;
    }

    async function manifest(name: string, text: string): Promise<string> {
      const path = join(workDir, name);
      await writeFile(path, text);
      return path;
    }

    const prod = ['-n', 'production'];

    void it('creates a namespace and a deployment in it, which rolls out', async () => {
      assert.match(await ok('create', 'namespace', 'x'), /^namespace\/x created$/m);
      assert.match(
        await ok(
          '-n',
          'x',
          'create',
          'deployment',
          'web',
          '--image=registry.example.com/web:1.0.0',
          '--replicas=2',
        ),
        /^deployment\.apps\/web created$/m,
      );
      assert.match(
        await ok('-n', 'x', 'rollout', 'status', 'deployment/web', '--timeout=30s'),
        /deployment "web" successfully rolled out/,
      );
      const pods = await ok('-n', 'x', 'get', 'pods', '-l', 'app=web');
      assert.equal((pods.match(/1\/1\s+Running/g) ?? []).length, 2);
    });

    void it('lists deployments as a table with READY counts', async () => {
      const out = await ok('get', 'deployments', ...prod);
      assert.match(out, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
      assert.match(out, /^api-gateway\s+3\/3\s+3\s+3\s+\d+s$/m);
      assert.match(out, /^auth-service\s+2\/2\s+2\s+2\s+\d+s$/m);
    });

    void it('prints a deployment as JSON with defaults, revision and status', async () => {
      const json = await ok('get', 'deployment', 'api-gateway', ...prod, '-o', 'json');
      const d = JSON.parse(json) as V1Deployment;
      assert.equal(d.kind, 'Deployment');
      assert.equal(d.apiVersion, 'apps/v1');
      assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
      assert.deepEqual(d.spec?.strategy, {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      });
      assert.equal(d.spec?.revisionHistoryLimit, 10);
      assert.equal(d.spec?.progressDeadlineSeconds, 600);
      assert.equal(
        d.spec?.template.spec?.containers[0]?.image,
        'registry.example.com/api-gateway:2.4.3',
      );
      assert.equal(d.status?.readyReplicas, 3);
      assert.equal(d.status?.observedGeneration, d.metadata?.generation);
      const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
      assert.equal(progressing?.reason, 'NewReplicaSetAvailable');
    });

    void it('answers NotFound the way the API server words it', async () => {
      const run = await kubectl('get', 'deployment', 'no-such-service', ...prod);
      assert.notEqual(run.code, 0);
      assert.match(
        run.stderr,
        /Error from server \(NotFound\): deployments\.apps "no-such-service" not found/,
      );
    });

    void it('sets an image and waits for the rollout', async () => {
      const set = await ok(
        'set',
        'image',
        'deployment/api-gateway',
        'api-gateway=registry.example.com/api-gateway:2.5.0',
        ...prod,
      );
      assert.match(set, /deployment\.apps\/api-gateway image updated/);
      const status = await ok(
        'rollout',
        'status',
        'deployment/api-gateway',
        ...prod,
        '--timeout=30s',
      );
      assert.match(status, /deployment "api-gateway" successfully rolled out/);
      const pods = await ok('get', 'pods', '-l', 'app=api-gateway', ...prod);
      assert.equal((pods.match(/1\/1\s+Running/g) ?? []).length, 3);
    });

    void it('shows the rollout history and an old revision', async () => {
      const history = await ok('rollout', 'history', 'deployment/api-gateway', ...prod);
      assert.match(history, /REVISION\s+CHANGE-CAUSE/);
      assert.match(history, /^1\s+<none>$/m);
      assert.match(history, /^2\s+<none>$/m);
      const image = await ok(
        'rollout',
        'history',
        'deployment/api-gateway',
        ...prod,
        '--revision=1',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      );
      assert.equal(image, 'registry.example.com/api-gateway:2.4.3');
    });

    void it('undoes a rollout to the previous revision, which becomes revision 3', async () => {
      assert.match(
        await ok('rollout', 'undo', 'deployment/api-gateway', ...prod),
        /deployment\.apps\/api-gateway rolled back/,
      );
      await ok('rollout', 'status', 'deployment/api-gateway', ...prod, '--timeout=30s');
      const out = await ok(
        'get',
        'deployment',
        'api-gateway',
        ...prod,
        '-o',
        `jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}`,
      );
      assert.equal(out, 'registry.example.com/api-gateway:2.4.3 3');
      const history = await ok('rollout', 'history', 'deployment/api-gateway', ...prod);
      assert.doesNotMatch(history, /^1\s/m);
      assert.match(history, /^2\s+<none>$/m);
      assert.match(history, /^3\s+<none>$/m);
    });

    void it('fails rollout status once a broken image passes the progress deadline', async () => {
      await ok(
        'patch',
        'deployment',
        'api-gateway',
        ...prod,
        '-p',
        '{"spec":{"progressDeadlineSeconds":2}}',
      );
      await ok(
        'set',
        'image',
        'deployment/api-gateway',
        'api-gateway=registry.example.com/api-gateway:2.6.0-broken',
        ...prod,
      );
      const started = Date.now();
      const run = await kubectl(
        'rollout',
        'status',
        'deployment/api-gateway',
        ...prod,
        '--timeout=30s',
      );
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /deployment "api-gateway" exceeded its progress deadline/);
      assert.ok(Date.now() - started < 15_000, 'the deadline, not the timeout, ended the wait');
      const pods = await ok('get', 'pods', '-l', 'app=api-gateway', ...prod);
      assert.match(pods, /0\/1\s+CrashLoopBackOff/);

      await ok('rollout', 'undo', 'deployment/api-gateway', ...prod);
      const status = await ok(
        'rollout',
        'status',
        'deployment/api-gateway',
        ...prod,
        '--timeout=30s',
      );
      assert.match(status, /successfully rolled out/);
    });

    void it('scales through the scale subresource', async () => {
      assert.match(
        await ok('scale', 'deployment/auth-service', '--replicas=4', ...prod),
        /deployment\.apps\/auth-service scaled/,
      );
      await ok('rollout', 'status', 'deployment/auth-service', ...prod, '--timeout=30s');
      const out = await ok('get', 'deployment', 'auth-service', ...prod);
      assert.match(out, /^auth-service\s+4\/4\s+4\s+4\s/m);
    });

    void it('lists the events the controllers wrote', async () => {
      const out = await ok('get', 'events', ...prod);
      assert.match(out, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
      assert.match(
        out,
        /Normal\s+ScalingReplicaSet\s+deployment\/api-gateway\s+Scaled up replica set api-gateway-\w+ from \d+ to \d+/,
      );
      assert.match(
        out,
        /Normal\s+SuccessfulCreate\s+replicaset\/auth-service-\w+\s+Created pod: auth-service-\w+-\w+/,
      );
    });

    const deploymentYaml = (name: string, image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: production
  annotations:
    kubernetes.io/change-cause: deploy ${image}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: ${name}
          image: ${image}
`;

    void it('applies a new deployment client-side, then a change to it', async () => {
      const path = await manifest(
        'web.yaml',
        deploymentYaml('web', 'registry.example.com/web:1.0.0'),
      );
      assert.match(await ok('apply', '-f', path), /deployment\.apps\/web created/);
      await ok('rollout', 'status', 'deployment/web', ...prod, '--timeout=30s');
      await manifest('web.yaml', deploymentYaml('web', 'registry.example.com/web:1.1.0'));
      assert.match(await ok('apply', '-f', path), /deployment\.apps\/web configured/);
      await ok('rollout', 'status', 'deployment/web', ...prod, '--timeout=30s');
      const history = await ok('rollout', 'history', 'deployment/web', ...prod);
      assert.match(history, /^1\s+deploy registry\.example\.com\/web:1\.0\.0$/m);
      assert.match(history, /^2\s+deploy registry\.example\.com\/web:1\.1\.0$/m);
      assert.match(await ok('diff', '-f', path), /^$/);
    });

    void it('applies a new deployment server-side and records the field manager', async () => {
      const path = await manifest(
        'api.yaml',
        deploymentYaml('web-ssa', 'registry.example.com/web:1.0.0'),
      );
      assert.match(
        await ok('apply', '--server-side', '-f', path),
        /deployment\.apps\/web-ssa serverside-applied/,
      );
      const managers = await ok(
        'get',
        'deployment',
        'web-ssa',
        ...prod,
        '--show-managed-fields',
        '-o',
        'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}',
      );
      assert.match(managers, /(^| )kubectl\/Apply /);
      await ok('rollout', 'status', 'deployment/web-ssa', ...prod, '--timeout=30s');
      assert.match(
        await ok('delete', 'deployment', 'web-ssa', ...prod),
        /deployment\.apps "web-ssa" deleted/,
      );
      await eventually('the pods of web-ssa to be gone', async () => {
        const run = await kubectl('get', 'pods', '-l', 'app=web-ssa', ...prod);
        return /No resources found in production namespace/.test(run.stderr) ? true : undefined;
      });
    });

    void it('applies a Velero backup and lists it', async () => {
      const path = await manifest(
        'backup.yaml',
        `apiVersion: velero.io/v1
kind: Backup
metadata:
  name: chg-1234-pre
  namespace: velero
  labels: {change-id: CHG-1234}
spec:
  includedNamespaces: [production]
  snapshotVolumes: true
  ttl: 720h0m0s
`,
      );
      assert.match(await ok('apply', '-f', path), /backup\.velero\.io\/chg-1234-pre created/);
      const list = await ok('get', 'backups.velero.io', '-n', 'velero');
      assert.match(list, /^NAME\s+AGE$/m);
      assert.match(list, /^chg-1234-pre\s+\d+s$/m);
      await eventually(
        'the backup to complete',
        async () => {
          const phase = await ok(
            'get',
            'backup',
            'chg-1234-pre',
            '-n',
            'velero',
            '-o',
            'jsonpath={.status.phase}',
          );
          return phase === 'Completed' ? phase : undefined;
        },
        60_000,
      );
      const keys = (await s3.listObjects('backups/chg-1234-pre/')).map((o) => o.key);
      assert.ok(
        keys.includes('backups/chg-1234-pre/chg-1234-pre.tar.gz'),
        `the backup's tarball is in the bucket (${keys.join(', ')})`,
      );
    });
  },
);
