/**
 * The Velero activities against the real thing: a local control plane, versitygw as S3, and the
 * real `velero server` with its AWS plugin. A backup made by changectl is an ordinary Velero
 * backup (Completed, its tarball in the bucket, restorable by Velero's own CLI), and a restore
 * puts objects changed after the backup back as they were.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { loadKubeConfig } from '../../activities/kubernetes/kubeconfig';
import type { WaitProgress } from '../../activities/kubernetes/progress';
import { createVeleroActivities, veleroName } from '../../activities/velero';
import { FailureType } from '../../src/core/errors';
import { startLocalCluster, type LocalCluster } from '../../src/stack/cluster/index';
import { startFaultProxy } from '../../src/stack/fault-proxy';
import { startS3, type S3Server } from '../../src/stack/s3';
import { startVelero, type VeleroServer } from '../../src/stack/velero';
import { clusterToolPath } from '../../src/stack/tools';
import { uniqueChangeId } from '../helpers/temporal';
import { failureOf, runAsActivity } from './kubernetes-harness';

const run = promisify(execFile);
const pollIntervalMs = 100;
const velero = { group: 'velero.io', version: 'v1', namespace: 'velero' };

interface VeleroList {
  items: { metadata: { name: string; labels?: Record<string, string> } }[];
}

interface VeleroObject {
  spec: Record<string, unknown>;
  status?: { phase?: string; errors?: number; warnings?: number };
}

let cluster: LocalCluster;
let s3: S3Server;
let server: VeleroServer;
let kubeConfig: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let namespaces = 0;

async function listed(plural: string, changeId: string): Promise<string[]> {
  const list = (await custom.listNamespacedCustomObject({
    ...velero,
    plural,
    labelSelector: `change-id=${changeId}`,
  })) as VeleroList;
  return list.items.map((item) => item.metadata.name);
}

async function veleroObject(plural: string, name: string): Promise<VeleroObject> {
  return (await custom.getNamespacedCustomObject({ ...velero, plural, name })) as VeleroObject;
}

const settings = { mode: 'stable', 'pool-size': '10' };
const webImage = 'registry.example.com/web:1.0.0';

/** A namespace of its own for a test: ConfigMaps `settings` and `extra`, a Deployment `web`. */
async function appNamespace(): Promise<string> {
  const namespace = `velero-test-${++namespaces}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const [name, data] of [
    ['settings', settings],
    ['extra', { kept: 'yes' }],
  ] as const) {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data } });
  }
  const labels = { app: 'web' };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'web', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'web', image: webImage }] },
        },
      },
    },
  });
  return namespace;
}

function backupInput(changeId: string, namespace: string) {
  return { changeId, includeNamespaces: [namespace], snapshotVolumes: true, ttl: '720h' };
}

async function velerocli(...args: string[]): Promise<string> {
  const { stdout } = await run(
    clusterToolPath('velero'),
    [...args, `--kubeconfig=${cluster.kubeconfigPath}`, '--namespace=velero'],
    { env: { PATH: process.env.PATH ?? '', HOME: cluster.dir } },
  );
  return stdout;
}

void describe('Velero activities on the real Velero', () => {
  before(async () => {
    cluster = await startLocalCluster({ seed: false, podReadyDelayMs: 200 });
    s3 = await startS3();
    server = await startVelero({ kubeconfigPath: cluster.kubeconfigPath, s3 });
    kubeConfig = loadKubeConfig({ path: cluster.kubeconfigPath });
    core = kubeConfig.makeApiClient(CoreV1Api);
    apps = kubeConfig.makeApiClient(AppsV1Api);
    custom = kubeConfig.makeApiClient(CustomObjectsApi);
  });

  after(async () => {
    await server?.stop();
    await s3?.stop();
    await cluster?.stop();
  });

  void it('names objects from the change id, DNS-safe', () => {
    assert.equal(veleroName('CHG-1234'), 'changectl-chg-1234');
    assert.equal(veleroName('CHG-1234', '-restore'), 'changectl-chg-1234-restore');
    const long = veleroName(`CHG-${'9'.repeat(80)}`, '-restore');
    assert.equal(long.length, 63);
    assert.match(long, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  void it('makes one ordinary Velero backup per change: Completed, its tarball in the bucket', async () => {
    const namespace = await appNamespace();
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const name = veleroName(changeId);

    const first = await runAsActivity(() =>
      activities.createBackup(backupInput(changeId, namespace)),
    );
    assert.equal(first.result.name, name);
    assert.equal(first.result.phase, 'Completed');
    assert.equal(first.result.restoreCommand, `velero restore create --from-backup ${name}`);
    assert.ok(first.result.startedAt && first.result.completedAt);
    const waits = (first.heartbeats as WaitProgress[]).filter((h) => h.step === 'backups');
    assert.ok(waits.length > 0, 'heartbeats while Velero works');
    assert.match(waits[0]?.message ?? '', new RegExp(`^velero/${name}: (New|InProgress)`));

    // A retried activity finds the backup it made.
    const second = await runAsActivity(() =>
      activities.createBackup(backupInput(changeId, namespace)),
    );
    assert.deepEqual(second.result, first.result);
    assert.deepEqual(await listed('backups', changeId), [name]);
    const backup = await veleroObject('backups', name);
    assert.deepEqual(backup.spec.includedNamespaces, [namespace]);
    assert.equal(backup.spec.snapshotVolumes, true);
    assert.equal(backup.spec.ttl, '720h');
    assert.equal(backup.spec.storageLocation, 'default', 'Velero filled in its default location');

    // Velero wrote it to the bucket as it writes any backup, the objects inside the tarball.
    const keys = (await s3.listObjects(`backups/${name}/`)).map((o) => o.key);
    assert.ok(keys.includes(`backups/${name}/${name}.tar.gz`), keys.join(', '));
    assert.ok(keys.includes(`backups/${name}/velero-backup.json`), keys.join(', '));
    const tarball = gunzipSync(await s3.getObject(`backups/${name}/${name}.tar.gz`)).toString(
      'latin1',
    );
    assert.ok(tarball.includes(`resources/configmaps/namespaces/${namespace}/settings.json`));
    assert.ok(tarball.includes(`resources/deployments.apps/namespaces/${namespace}/web.json`));

    // Velero's own CLI sees an ordinary completed backup.
    assert.match(
      await velerocli('backup', 'describe', name, '--colorized=false'),
      /Phase:\s+Completed/,
    );
  });

  void it('restores objects changed or deleted after the backup to the backed-up state', async () => {
    const namespace = await appNamespace();
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const name = veleroName(changeId);
    await runAsActivity(() => activities.createBackup(backupInput(changeId, namespace)));

    // The change goes wrong: config edited, image changed, a ConfigMap deleted.
    await core.replaceNamespacedConfigMap({
      namespace,
      name: 'settings',
      body: { metadata: { name: 'settings' }, data: { mode: 'broken', added: 'after-backup' } },
    });
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'web',
        body: {
          spec: {
            template: {
              spec: { containers: [{ name: 'web', image: 'registry.example.com/web:9.9.9' }] },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await core.deleteNamespacedConfigMap({ namespace, name: 'extra' });

    const restored = await runAsActivity(() =>
      activities.restoreBackup({ changeId, backupName: name }),
    );
    assert.deepEqual(restored.result, {
      name: `${name}-restore`,
      phase: 'Completed',
      backupName: name,
    });
    const live = await core.readNamespacedConfigMap({ namespace, name: 'settings' });
    assert.deepEqual(live.data, settings, 'the changed ConfigMap holds the backed-up data');
    const back = await core.readNamespacedConfigMap({ namespace, name: 'extra' });
    assert.deepEqual(back.data, { kept: 'yes' }, 'the deleted ConfigMap is back');
    const web = await apps.readNamespacedDeployment({ namespace, name: 'web' });
    assert.equal(web.spec?.template.spec?.containers[0]?.image, webImage);
    // What real Velero needs to overwrite objects that exist.
    const restore = await veleroObject('restores', `${name}-restore`);
    assert.equal(restore.spec.existingResourcePolicy, 'update');
    assert.equal(restore.spec.backupName, name);

    // Retried, it finds the restore it made instead of restoring again.
    await runAsActivity(() => activities.restoreBackup({ changeId, backupName: name }));
    assert.deepEqual(await listed('restores', changeId), [`${name}-restore`]);
  });

  void it('fails for good when Velero refuses the backup', async () => {
    const namespace = await appNamespace();
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    // An earlier attempt's backup names a location that does not exist; Velero refuses it.
    await custom.createNamespacedCustomObject({
      ...velero,
      plural: 'backups',
      body: {
        apiVersion: 'velero.io/v1',
        kind: 'Backup',
        metadata: { name: veleroName(changeId), labels: { 'change-id': changeId } },
        spec: { includedNamespaces: [namespace], storageLocation: 'nowhere' },
      },
    });

    await assert.rejects(
      runAsActivity(() => activities.createBackup(backupInput(changeId, namespace))),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, FailureType.BackupFailed);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /ended FailedValidation: .*nowhere/);
        assert.equal((error as unknown as { attempts: number }).attempts, 1);
        return true;
      },
    );
    assert.deepEqual(await listed('backups', changeId), [veleroName(changeId)]);
  });

  void it('treats a PartiallyFailed restore as failed, with Velero’s counts', async () => {
    const namespace = await appNamespace();
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const name = veleroName(changeId);
    await runAsActivity(() => activities.createBackup(backupInput(changeId, namespace)));
    // An earlier attempt's restore maps the namespace to a name the API server refuses.
    await custom.createNamespacedCustomObject({
      ...velero,
      plural: 'restores',
      body: {
        apiVersion: 'velero.io/v1',
        kind: 'Restore',
        metadata: { name: `${name}-restore`, labels: { 'change-id': changeId } },
        spec: { backupName: name, namespaceMapping: { [namespace]: 'Not_A_Namespace' } },
      },
    });
    const failure = await failureOf(() => activities.restoreBackup({ changeId, backupName: name }));
    assert.equal(failure.type, FailureType.RestoreFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /ended PartiallyFailed: \d+ error\(s\)/);
  });

  void it('fails a restore of a backup that does not exist, for good', async () => {
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const failure = await failureOf(() =>
      activities.restoreBackup({ changeId: uniqueChangeId('CHG'), backupName: 'changectl-chg-0' }),
    );
    assert.equal(failure.type, FailureType.RestoreFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /ended FailedValidation: .*"changectl-chg-0" not found/);
  });

  void it('converges on one backup while the API server answers 5xx', async (t) => {
    const namespace = await appNamespace();
    const proxy = await startFaultProxy({
      kubeconfigPath: cluster.kubeconfigPath,
      faults: { serverErrorRate: 0.4 },
      // Dice that fail every third request: faults for certain, however few requests it takes.
      random: (() => {
        let rolls = 0;
        return () => (rolls++ % 3 === 0 ? 0 : 0.99);
      })(),
    });
    t.after(() => proxy.stop());
    const activities = createVeleroActivities(loadKubeConfig({ path: proxy.kubeconfigPath }), {
      pollIntervalMs,
    });
    const changeId = uniqueChangeId('CHG');
    const run = await runAsActivity(() =>
      activities.createBackup(backupInput(changeId, namespace)),
    );
    assert.equal(run.result.phase, 'Completed');
    assert.ok(proxy.counts().serverErrors > 0, 'faults were injected');
    assert.deepEqual(await listed('backups', changeId), [veleroName(changeId)]);
  });
});
