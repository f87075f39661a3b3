import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { WaitProgress } from '../../activities/kubernetes-progress';
import { createVeleroActivities, veleroName } from '../../activities/velero';
import { failBackupKey } from '../../src/stack/sandbox/index';
import { FailureType } from '../../src/core/errors';
import { uniqueChangeId } from '../helpers/temporal';
import type { TestContext } from 'node:test';
import { AppsV1Api } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../activities/kubeconfig';
import { startSandbox } from '../../src/stack/sandbox/index';
import { failureOf, gatewayImage, imageOf, runAsActivity } from './kubernetes-harness';

/** Until Velero runs on the local cluster: the sandbox's Velero controller. */
async function sandboxFor(t: TestContext) {
  const sandbox = await startSandbox({ podReadyAfterMs: 20, veleroBackupMs: 100 });
  t.after(() => sandbox.close());
  const kubeConfig = loadKubeConfig({ path: sandbox.kubeconfigPath });
  return { sandbox, kubeConfig, apps: kubeConfig.makeApiClient(AppsV1Api) };
}

const pollIntervalMs = 20;
const velero = { group: 'velero.io', version: 'v1', namespace: 'velero' };

interface VeleroList {
  items: { metadata: { name: string; labels?: Record<string, string> } }[];
}

async function listed(api: CustomObjectsApi, plural: string, changeId: string): Promise<string[]> {
  const list = (await api.listNamespacedCustomObject({
    ...velero,
    plural,
    labelSelector: `change-id=${changeId}`,
  })) as VeleroList;
  return list.items.map((item) => item.metadata.name);
}

void describe('Velero activities', () => {
  void it('names objects from the change id, DNS-safe', () => {
    assert.equal(veleroName('CHG-1234'), 'changectl-chg-1234');
    assert.equal(veleroName('CHG-1234', '-restore'), 'changectl-chg-1234-restore');
    const long = veleroName(`CHG-${'9'.repeat(80)}`, '-restore');
    assert.equal(long.length, 63);
    assert.match(long, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  void it('backs up once per change, waits for it, and restores from it', async (t) => {
    const { kubeConfig, apps } = await sandboxFor(t);
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const changeId = uniqueChangeId('CHG');
    const input = {
      changeId,
      includeNamespaces: ['production'],
      snapshotVolumes: true,
      ttl: '720h',
    };

    const first = await runAsActivity(() => activities.createBackup(input));
    const name = `changectl-${changeId.toLowerCase()}`;
    assert.equal(first.result.name, name);
    assert.equal(first.result.phase, 'Completed');
    assert.equal(first.result.restoreCommand, `velero restore create --from-backup ${name}`);
    assert.ok(first.result.startedAt && first.result.completedAt);
    const waits = (first.heartbeats as WaitProgress[]).filter((h) => h.step === 'backups');
    assert.ok(waits.length > 0, 'heartbeats while Velero works');
    assert.match(waits[0]?.message ?? '', new RegExp(`^velero/${name}: (New|InProgress)`));

    const second = await runAsActivity(() => activities.createBackup(input));
    assert.deepEqual(second.result, first.result);
    assert.deepEqual(await listed(custom, 'backups', changeId), [name]);

    const backup = (await custom.getNamespacedCustomObject({
      ...velero,
      plural: 'backups',
      name,
    })) as {
      spec: Record<string, unknown>;
    };
    assert.deepEqual(backup.spec.includedNamespaces, ['production']);
    assert.equal(backup.spec.snapshotVolumes, true);
    assert.equal(backup.spec.ttl, '720h');

    // The change goes wrong; restoring the backup puts the saved deployment back.
    await apps.patchNamespacedDeployment(
      {
        namespace: 'production',
        name: 'api-gateway',
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'api-gateway', image: 'registry.example.com/api-gateway:9.9.9' },
                ],
              },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const restored = await runAsActivity(() =>
      activities.restoreBackup({ changeId, backupName: name }),
    );
    assert.deepEqual(restored.result, {
      name: `${name}-restore`,
      phase: 'Completed',
      backupName: name,
    });
    await runAsActivity(() => activities.restoreBackup({ changeId, backupName: name }));
    assert.deepEqual(await listed(custom, 'restores', changeId), [`${name}-restore`]);
    const live = await apps.readNamespacedDeployment({
      namespace: 'production',
      name: 'api-gateway',
    });
    assert.equal(imageOf(live), gatewayImage);
  });

  void it('fails for good when Velero ends the backup Failed', async (t) => {
    const { kubeConfig } = await sandboxFor(t);
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const changeId = uniqueChangeId('CHG');
    // Velero fails this backup; the activity finds it under the change's name and waits on it.
    await custom.createNamespacedCustomObject({
      ...velero,
      plural: 'backups',
      body: {
        apiVersion: 'velero.io/v1',
        kind: 'Backup',
        metadata: {
          name: veleroName(changeId),
          labels: { [failBackupKey]: 'true', 'change-id': changeId },
        },
        spec: { includedNamespaces: ['production'] },
      },
    });
    const input = {
      changeId,
      includeNamespaces: ['production'],
      snapshotVolumes: true,
      ttl: '720h',
    };

    await assert.rejects(
      runAsActivity(() => activities.createBackup(input)),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, FailureType.BackupFailed);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /ended Failed: backup failed on request/);
        assert.equal((error as unknown as { attempts: number }).attempts, 1);
        return true;
      },
    );
    assert.deepEqual(await listed(custom, 'backups', changeId), [veleroName(changeId)]);
  });

  void it('treats PartiallyFailed as failed, with Velero’s reason', async (t) => {
    const { kubeConfig } = await sandboxFor(t);
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const failure = await failureOf(() =>
      activities.createBackup({
        changeId: uniqueChangeId('CHG'),
        includeNamespaces: ['production', 'billing'],
        snapshotVolumes: false,
        ttl: '24h',
      }),
    );
    assert.equal(failure.type, FailureType.BackupFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /PartiallyFailed: included namespaces not found: billing/);
  });

  void it('fails a restore of a backup that does not exist, for good', async (t) => {
    const { kubeConfig } = await sandboxFor(t);
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const failure = await failureOf(() =>
      activities.restoreBackup({ changeId: uniqueChangeId('CHG'), backupName: 'changectl-chg-0' }),
    );
    assert.equal(failure.type, FailureType.RestoreFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /backup "changectl-chg-0" not found/);
  });

  void it('converges on one backup under 5xx answers when retried', async (t) => {
    const { sandbox, kubeConfig } = await sandboxFor(t);
    const activities = createVeleroActivities(kubeConfig, { pollIntervalMs });
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const changeId = uniqueChangeId('CHG');
    sandbox.setFaults({ serverErrorRate: 0.4 });
    const run = await runAsActivity(() =>
      activities.createBackup({
        changeId,
        includeNamespaces: ['production'],
        snapshotVolumes: true,
        ttl: '1h',
      }),
    );
    sandbox.setFaults({ serverErrorRate: 0 });
    assert.equal(run.result.phase, 'Completed');
    assert.deepEqual(await listed(custom, 'backups', changeId), [veleroName(changeId)]);
  });
});
