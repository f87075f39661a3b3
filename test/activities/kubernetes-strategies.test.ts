import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppsV1Api, CoreV1Api, V1Deployment } from '@kubernetes/client-node';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { Annotation } from '../../activities/kubernetes/deployments';
import type { KubernetesActivities, RolloutPlan } from '../../src/core/contracts';
import { uniqueChangeId } from '../helpers/temporal';
import {
  faultyNamespaceFor,
  gatewayImage,
  imageOf,
  plan,
  replicaSetsOf,
  runAsActivity,
  namespaceFor,
} from './kubernetes-harness';

const pollIntervalMs = 20;
const newImage = 'registry.example.com/api-gateway:2.5.0';

async function deployment(
  apps: AppsV1Api,
  namespace: string,
  name: string,
): Promise<V1Deployment | undefined> {
  const list = await apps.listNamespacedDeployment({ namespace });
  return list.items.find((d) => d.metadata?.name === name);
}

async function selectorOf(
  core: CoreV1Api,
  namespace: string,
  name = 'api-gateway',
): Promise<Record<string, string>> {
  return (await core.readNamespacedService({ namespace, name })).spec?.selector ?? {};
}

function replicas(d: V1Deployment | undefined): [number | undefined, number | undefined] {
  return [d?.spec?.replicas, d?.status?.availableReplicas ?? 0];
}

/**
 * A deployment's [spec, available] replicas once the controller has reported its last scale
 * (it does so asynchronously, after the activity's own wait has seen the spec).
 */
async function settledReplicas(
  apps: AppsV1Api,
  namespace: string,
  name: string,
): Promise<[number | undefined, number | undefined]> {
  let found = replicas(await deployment(apps, namespace, name));
  for (let i = 0; i < 100 && found[0] !== found[1]; i++) {
    await new Promise((r) => setTimeout(r, 100));
    found = replicas(await deployment(apps, namespace, name));
  }
  return found;
}

/** A whole blue/green change: readiness, rollout, then rollback or finalize. */
async function blueGreenChange(
  k8s: KubernetesActivities,
  namespace: string,
  image: string,
  end: 'rollback' | 'finalize',
): Promise<{
  plan: RolloutPlan;
  rollout: Awaited<ReturnType<KubernetesActivities['startRollout']>>;
}> {
  const change = plan({ namespace, changeId: uniqueChangeId('CHG'), strategy: 'blueGreen', image });
  const before = (await k8s.checkRollbackReadiness(change)).current;
  const rollout = (await runAsActivity(() => k8s.startRollout(change))).result;
  if (end === 'rollback') {
    await k8s.rollbackRollout({ plan: change, rollout, before, reason: 'test' });
  } else {
    await k8s.finalizeRollout({ plan: change, rollout });
  }
  return { plan: change, rollout };
}

void describe('Kubernetes activities: blue/green', () => {
  void it('applies the new colour, switches the Service, and switches back on rollback', async (t) => {
    const { namespace, kubeConfig, apps, core } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const change = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      strategy: 'blueGreen',
      image: newImage,
    });

    const ready = await k8s.checkRollbackReadiness(change);
    assert.equal(ready.current.name, 'api-gateway');
    assert.equal(
      ready.rollbackCommand,
      `kubectl patch service/api-gateway -n ${namespace} --type=json -p '[{"op":"replace","path":"/spec/selector","value":{"app":"api-gateway"}}]'`,
    );
    const dry = await k8s.dryRunRollout(change);
    assert.deepEqual(dry.objects, ['Deployment/api-gateway-green', 'Service/api-gateway']);
    assert.equal(
      await deployment(apps, namespace, 'api-gateway-green'),
      undefined,
      'dry run wrote nothing',
    );

    const first = await runAsActivity(() => k8s.startRollout(change));
    assert.deepEqual(
      { ...first.result, message: undefined },
      {
        strategy: 'blueGreen',
        activeDeployment: 'api-gateway-green',
        previousDeployment: 'api-gateway',
        previousSelector: { app: 'api-gateway' },
        image: newImage,
        previousImage: gatewayImage,
        appliedObjects: ['Deployment/api-gateway-green', 'Service/api-gateway'],
        message: undefined,
      },
    );
    assert.deepEqual(await selectorOf(core, namespace), { app: 'api-gateway', color: 'green' });
    const green = await deployment(apps, namespace, 'api-gateway-green');
    assert.deepEqual(replicas(green), [3, 3]);
    assert.equal(imageOf(green!), newImage);
    assert.equal(green?.spec?.template?.metadata?.labels?.color, 'green');
    assert.equal(green?.metadata?.annotations?.[Annotation.changeId], change.changeId);

    const again = await runAsActivity(() => k8s.startRollout(change));
    assert.equal(again.result.activeDeployment, 'api-gateway-green');
    assert.deepEqual(again.result.previousSelector, { app: 'api-gateway' });
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway-green')).length, 1);

    const back = await runAsActivity(() =>
      k8s.rollbackRollout({
        plan: change,
        rollout: first.result,
        before: ready.current,
        reason: 'p99 0.4s > 0.2s',
      }),
    );
    assert.deepEqual(back.result.images, { 'api-gateway': gatewayImage });
    assert.deepEqual(await selectorOf(core, namespace), { app: 'api-gateway' });
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-green'), [0, 0]);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [3, 3]);
  });

  void it('scales the old colour down when finalized and deletes it when the next change starts', async (t) => {
    const { namespace, kubeConfig, apps, core } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });

    // A rolled-back change leaves green at zero; the next change replaces it.
    const rolledBack = await blueGreenChange(
      k8s,
      namespace,
      'registry.example.com/api-gateway:2.4.9',
      'rollback',
    );
    const second = await blueGreenChange(k8s, namespace, newImage, 'finalize');
    assert.equal(second.rollout.activeDeployment, 'api-gateway-green');
    const green = await deployment(apps, namespace, 'api-gateway-green');
    assert.equal(imageOf(green!), newImage);
    assert.notEqual(green?.metadata?.annotations?.[Annotation.changeId], rolledBack.plan.changeId);
    const original = await deployment(apps, namespace, 'api-gateway');
    assert.deepEqual(replicas(original), [0, 0]);
    assert.equal(original?.metadata?.annotations?.[Annotation.scaledDownBy], second.plan.changeId);
    assert.ok(original?.metadata?.annotations?.[Annotation.scaledDownAt]);

    const third = await blueGreenChange(
      k8s,
      namespace,
      'registry.example.com/api-gateway:2.6.0',
      'finalize',
    );
    assert.equal(third.rollout.activeDeployment, 'api-gateway-blue');
    assert.equal(third.rollout.previousDeployment, 'api-gateway-green');
    assert.match(third.rollout.message, /deleted retired api-gateway/);
    assert.equal(await deployment(apps, namespace, 'api-gateway'), undefined);
    assert.deepEqual(await selectorOf(core, namespace), { app: 'api-gateway', color: 'blue' });
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-blue'), [3, 3]);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-green'), [0, 0]);
  });
});

void describe('Kubernetes activities: blue/green cleanup', () => {
  void it('deletes the old colour the finalize scaled to zero, and only that one', async (t) => {
    const { namespace, kubeConfig, apps, core } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const first = await blueGreenChange(k8s, namespace, newImage, 'finalize');
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [0, 0]);

    const cleaned = await runAsActivity(() => k8s.cleanupRollout(first));
    assert.deepEqual(cleaned.result, {
      deleted: ['Deployment/api-gateway'],
      message: `deleted ${namespace}/api-gateway`,
    });
    assert.equal(await deployment(apps, namespace, 'api-gateway'), undefined);
    assert.deepEqual(await selectorOf(core, namespace), { app: 'api-gateway', color: 'green' });
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-green'), [3, 3]);
    const again = await runAsActivity(() => k8s.cleanupRollout(first));
    assert.deepEqual(again.result.deleted, [], 'a retried cleanup deletes nothing more');

    // A change rolled back after its finalize: the old colour serves again and is kept.
    const change = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      strategy: 'blueGreen',
      image: 'registry.example.com/api-gateway:2.6.0',
    });
    const before = (await k8s.checkRollbackReadiness(change)).current;
    const rollout = (await runAsActivity(() => k8s.startRollout(change))).result;
    await k8s.finalizeRollout({ plan: change, rollout });
    await runAsActivity(() =>
      k8s.rollbackRollout({ plan: change, rollout, before, reason: 'late errors' }),
    );
    const kept = await runAsActivity(() => k8s.cleanupRollout({ plan: change, rollout }));
    assert.deepEqual(kept.result.deleted, []);
    assert.match(kept.result.message, /kept: the Service selects it/);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-green'), [3, 3]);
    assert.deepEqual(await selectorOf(core, namespace), { app: 'api-gateway', color: 'green' });
  });
});

void describe('Kubernetes activities: canary', () => {
  void it('splits replicas per weight, promotes, and rolls a promoted stable back', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const change = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      strategy: 'canary',
      image: newImage,
    });
    const ready = await k8s.checkRollbackReadiness(change);
    assert.match(
      ready.rollbackCommand,
      new RegExp(`^kubectl scale deployment/api-gateway-canary -n ${namespace} --replicas=0 && `),
    );

    const rollout = (await runAsActivity(() => k8s.startRollout(change))).result;
    assert.equal(rollout.canaryDeployment, 'api-gateway-canary');
    assert.equal(rollout.stableReplicas, 3);
    const canary = await deployment(apps, namespace, 'api-gateway-canary');
    assert.deepEqual(replicas(canary), [0, 0]);
    assert.equal(imageOf(canary!), newImage);
    assert.equal(canary?.spec?.template?.metadata?.labels?.track, 'canary');
    assert.equal(canary?.spec?.template?.metadata?.labels?.app, 'api-gateway');

    const steps: [number, number, number][] = [];
    for (const weight of [10, 50, 50]) {
      const split = (
        await runAsActivity(() => k8s.setCanaryWeight({ plan: change, rollout, weight }))
      ).result;
      steps.push([split.weight, split.canaryReplicas, split.stableReplicas]);
      assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-canary'), [
        split.canaryReplicas,
        split.canaryReplicas,
      ]);
      assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [
        split.stableReplicas,
        split.stableReplicas,
      ]);
    }
    assert.deepEqual(steps, [
      [10, 1, 2],
      [50, 2, 1],
      [50, 2, 1],
    ]);

    const promoted = (await runAsActivity(() => k8s.promoteCanary({ plan: change, rollout })))
      .result;
    assert.equal(promoted.previousRevision, 1);
    assert.equal(promoted.revision, 2);
    const stable = await deployment(apps, namespace, 'api-gateway');
    assert.equal(imageOf(stable!), newImage);
    assert.deepEqual(replicas(stable), [3, 3]);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-canary'), [0, 0]);

    const back = await runAsActivity(() =>
      k8s.rollbackRollout({
        plan: change,
        rollout: promoted,
        before: ready.current,
        reason: 'test',
      }),
    );
    assert.deepEqual(back.result.images, { 'api-gateway': gatewayImage });
    assert.equal(back.result.revision, 3);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [3, 3]);
  });

  void it('rolls back before promotion without touching the stable template', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const change = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      strategy: 'canary',
      image: newImage,
    });
    const before = (await k8s.checkRollbackReadiness(change)).current;
    const rollout = await k8s.startRollout(change);
    await k8s.setCanaryWeight({ plan: change, rollout, weight: 50 });

    const back = await runAsActivity(() =>
      k8s.rollbackRollout({ plan: change, rollout, before, reason: 'test' }),
    );
    assert.equal(back.result.revision, 1, 'no new revision: the stable template never changed');
    assert.deepEqual(back.result.images, { 'api-gateway': gatewayImage });
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [3, 3]);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway-canary'), [0, 0]);
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 1);
  });

  void it('converges under faults when retried', async (t) => {
    const { namespace, faults, kubeConfig, apps } = await faultyNamespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const change = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      strategy: 'canary',
      image: newImage,
    });
    faults.setFaults({ serverErrorRate: 0.2, conflictOnUpdate: 0.4 });
    const rollout = (await runAsActivity(() => k8s.startRollout(change))).result;
    await runAsActivity(() => k8s.setCanaryWeight({ plan: change, rollout, weight: 50 }));
    const promoted = (await runAsActivity(() => k8s.promoteCanary({ plan: change, rollout })))
      .result;
    faults.setFaults({ serverErrorRate: 0, conflictOnUpdate: 0 });

    assert.equal(promoted.revision, 2);
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 2);
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway-canary')).length, 1);
    assert.deepEqual(await settledReplicas(apps, namespace, 'api-gateway'), [3, 3]);
  });
});
