import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { Annotation } from '../../activities/kubernetes/deployments';
import type { WaitProgress } from '../../activities/kubernetes/progress';
import { FailureType } from '../../src/core/errors';
import { uniqueChangeId } from '../helpers/temporal';
import {
  failureOf,
  faultyNamespaceFor,
  gatewayImage,
  imageOf,
  plan,
  quietLogger,
  replicaSetsOf,
  runAsActivity,
  namespaceFor,
} from './kubernetes-harness';

const pollIntervalMs = 20;
const newImage = 'registry.example.com/api-gateway:2.5.0';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

void describe('Kubernetes activities: rolling', () => {
  void it('checks rollback readiness, and refuses a deployment that does not exist', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const target = {
      changeId: uniqueChangeId(),
      namespace,
      strategy: 'rolling' as const,
    };

    const ready = await k8s.checkRollbackReadiness({ ...target, deployment: 'api-gateway' });
    assert.deepEqual(ready.current, {
      namespace,
      name: 'api-gateway',
      revision: 1,
      images: { 'api-gateway': gatewayImage },
      replicas: 3,
      readyReplicas: 3,
    });
    assert.equal(
      ready.rollbackCommand,
      `kubectl rollout undo deployment/api-gateway -n ${namespace} --to-revision=1`,
    );

    const failure = await failureOf(() =>
      k8s.checkRollbackReadiness({ ...target, deployment: 'payments' }),
    );
    assert.equal(failure.type, FailureType.RollbackNotReady);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`${namespace}/payments not found`));
  });

  void it('dry-runs an image change without changing the deployment', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const result = await k8s.dryRunRollout(
      plan({ namespace, changeId: uniqueChangeId(), image: newImage }),
    );
    assert.deepEqual(result.objects, ['Deployment/api-gateway']);
    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(imageOf(live), gatewayImage);
    assert.equal(live.metadata?.annotations?.[Annotation.changeId], undefined);
  });

  void it('refuses, without retrying, a manifest the API server rejects in dry run', async (t) => {
    const { namespace, kubeConfig, core } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const manifests = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'gateway-config' },
        data: { port: 8080 },
      },
    ];
    const attempt = runAsActivity(() =>
      k8s.dryRunRollout(plan({ namespace, changeId: uniqueChangeId(), manifests })),
    );
    await assert.rejects(attempt, (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.KubernetesRejected);
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /gateway-config.*\.data\.port: expected string/);
      assert.equal((error as unknown as { attempts: number }).attempts, 1);
      return true;
    });
    const configMaps = await core.listNamespacedConfigMap({ namespace });
    assert.equal(configMaps.items.filter((c) => c.metadata?.name === 'gateway-config').length, 0);
  });

  void it('refuses a kind the server does not serve', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const manifests = [{ apiVersion: 'apps/v1', kind: 'Widget', metadata: { name: 'w' } }];
    const failure = await failureOf(() =>
      k8s.dryRunRollout(plan({ namespace, changeId: uniqueChangeId(), manifests })),
    );
    assert.equal(failure.type, FailureType.KubernetesRejected);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /does not serve Widget in apps\/v1/);
  });

  void it('sets the image, waits for the rollout with heartbeats, and records history', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const rollout = plan({
      namespace,
      changeId,
      image: newImage,
      summary: 'Upgrade api-gateway to 2.5.0',
    });

    const first = await runAsActivity(() => k8s.startRollout(rollout));
    assert.equal(first.attempts, 1);
    assert.deepEqual(
      { ...first.result, message: undefined },
      {
        strategy: 'rolling',
        previousRevision: 1,
        revision: 2,
        previousImage: gatewayImage,
        image: newImage,
        appliedObjects: ['Deployment/api-gateway'],
        message: undefined,
      },
    );
    const progress = first.heartbeats as WaitProgress[];
    assert.ok(
      progress.some(
        (h) => h.step === 'rollout' && h.message.startsWith(`${namespace}/api-gateway: `),
      ),
    );
    assert.ok(progress.every((h) => h.startedAt === progress[0]?.startedAt));

    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.status?.availableReplicas, 3);
    assert.equal(live.metadata?.annotations?.[Annotation.changeId], changeId);
    assert.equal(
      live.metadata?.annotations?.[Annotation.changeCause],
      `${changeId}: Upgrade api-gateway to 2.5.0`,
    );

    const again = await runAsActivity(() => k8s.startRollout(rollout));
    assert.equal(again.result.revision, 2);
    assert.equal(again.result.previousRevision, 1, 'a repeat still knows the revision before');
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 2);

    const history = await k8s.rolloutHistory({
      namespace,
      deployment: 'api-gateway',
    });
    assert.deepEqual(
      history.map((r) => [r.revision, r.images['api-gateway'], r.changeId]),
      [
        [1, gatewayImage, undefined],
        [2, newImage, changeId],
      ],
    );
    assert.equal(history[1]?.changeCause, `${changeId}: Upgrade api-gateway to 2.5.0`);
  });

  void it('rolls back with kubectl undo semantics, once however often it is asked', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const rollout = plan({ namespace, changeId, image: newImage });
    const before = (await k8s.checkRollbackReadiness(rollout)).current;
    const done = await k8s.startRollout(rollout);

    const input = { plan: rollout, rollout: done, before, reason: 'error rate 3% > 1%' };
    const back = await runAsActivity(() => k8s.rollbackRollout(input));
    assert.deepEqual(back.result.images, { 'api-gateway': gatewayImage });
    assert.equal(back.result.revision, 3, 'undo makes a new revision from the old template');

    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.spec?.template?.metadata?.labels?.['pod-template-hash'], undefined);
    assert.equal(live.metadata?.annotations?.[Annotation.rollbackOf], changeId);

    const again = await runAsActivity(() => k8s.rollbackRollout(input));
    assert.equal(again.result.revision, 3);
    assert.match(again.result.message, /already rolled back/);
    const history = await k8s.rolloutHistory({
      namespace,
      deployment: 'api-gateway',
    });
    assert.deepEqual(
      history.map((r) => [r.revision, r.images['api-gateway']]),
      [
        [2, newImage],
        [3, gatewayImage],
      ],
    );
    assert.match(history[1]?.changeCause ?? '', /rollback to revision 1: error rate 3% > 1%/);
  });

  void it('restarts the deployment for a config-only change, once', async (t) => {
    const { namespace, kubeConfig, apps, core } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const manifests = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'gateway-config' },
        data: { timeout: '30s' },
      },
    ];
    const rollout = plan({ namespace, changeId, manifests });
    const dry = await k8s.dryRunRollout(rollout);
    assert.deepEqual(dry.objects, ['ConfigMap/gateway-config']);

    const first = await k8s.startRollout(rollout);
    assert.deepEqual(first.appliedObjects, ['ConfigMap/gateway-config', 'Deployment/api-gateway']);
    assert.equal(first.revision, 2);
    const second = await k8s.startRollout(rollout);
    assert.equal(second.revision, 2, 'a retry does not restart again');
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 2);

    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.spec?.template?.metadata?.annotations?.[Annotation.restartedAt], changeId);
    const config = await core.readNamespacedConfigMap({
      namespace,
      name: 'gateway-config',
    });
    assert.equal(config.data?.timeout, '30s');
    assert.equal(config.metadata?.annotations?.[Annotation.changeId], changeId);
  });

  void it('applies a deployment manifest server-side without an extra restart', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const manifests = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api-gateway' },
        spec: {
          selector: { matchLabels: { app: 'api-gateway' } },
          template: {
            metadata: { labels: { app: 'api-gateway' } },
            spec: { containers: [{ name: 'api-gateway', image: newImage }] },
          },
        },
      },
    ];
    const result = await k8s.startRollout(plan({ namespace, changeId, manifests }));
    assert.equal(result.revision, 2);
    assert.equal(result.image, newImage);
    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.spec?.template?.metadata?.annotations?.[Annotation.restartedAt], undefined);
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 2);
  });

  void it('fails a rollout that exceeds its progress deadline, for good, and rolls it back', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'api-gateway',
        body: { spec: { progressDeadlineSeconds: 1 } },
      },
      mergePatch,
    );
    const changeId = uniqueChangeId('CHG');
    const rollout = plan({
      namespace,
      changeId,
      image: 'registry.example.com/api-gateway:2.5.0-broken',
    });
    // Retried until the controller has seen the new progress deadline.
    const before = (await runAsActivity(() => k8s.checkRollbackReadiness(rollout))).result.current;

    await assert.rejects(
      runAsActivity(() => k8s.startRollout(rollout)),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, FailureType.RolloutFailed);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /exceeded its progress deadline/);
        return true;
      },
    );

    // The rollout never reported, so the rollback works from the readiness check alone.
    const back = await k8s.rollbackRollout({ plan: rollout, before, reason: 'rollout failed' });
    assert.deepEqual(back.images, { 'api-gateway': gatewayImage });
    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.status?.availableReplicas, 3);
    assert.equal(live.status?.updatedReplicas, 3);
  });

  void it('keeps the timeout clock of the first attempt across retries', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const rollout = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      image: 'registry.example.com/api-gateway:2.5.0-broken',
      timeoutMs: 10_000,
    });
    // A later attempt whose first attempt started long enough ago that no time is left.
    const heartbeatDetails: WaitProgress = {
      startedAt: Date.now() - 10_000,
      step: 'rollout',
      message: '1 out of 3 new replicas have been updated',
    };
    const env = new MockActivityEnvironment(
      { attempt: 2, heartbeatDetails },
      { logger: quietLogger },
    );
    const started = Date.now();
    await assert.rejects(
      env.run(() => k8s.startRollout(rollout)),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, FailureType.RolloutFailed);
        assert.match(error.message, /did not complete within 10s/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000, 'the retry did not start a new 10s clock');
  });

  void it('stops waiting when the activity is cancelled', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const env = new MockActivityEnvironment({}, { logger: quietLogger });
    env.on('heartbeat', (details: WaitProgress) => {
      if (details.step === 'rollout') env.cancel();
    });
    const rollout = plan({
      namespace,
      changeId: uniqueChangeId('CHG'),
      image: 'registry.example.com/api-gateway:2.5.0-broken',
      timeoutMs: 60_000,
    });
    await assert.rejects(
      env.run(() => k8s.startRollout(rollout)),
      CancelledFailure,
    );
  });

  void it('converges under 5xx answers and update conflicts when retried', async (t) => {
    const { namespace, faults, kubeConfig, apps } = await faultyNamespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const changeId = uniqueChangeId('CHG');
    const rollout = plan({ namespace, changeId, image: newImage });
    const before = (await k8s.checkRollbackReadiness(rollout)).current;
    faults.setFaults({ serverErrorRate: 0.25, conflictOnUpdate: 0.5 });

    const started = await runAsActivity(() => k8s.startRollout(rollout));
    const back = await runAsActivity(() =>
      k8s.rollbackRollout({ plan: rollout, rollout: started.result, before, reason: 'test' }),
    );
    faults.setFaults({ serverErrorRate: 0, conflictOnUpdate: 0 });

    assert.ok(started.attempts + back.attempts > 2, 'faults made some attempts fail');
    assert.equal(started.result.previousRevision, 1);
    assert.equal(started.result.revision, 2);
    assert.deepEqual(back.result.images, { 'api-gateway': gatewayImage });
    const history = await k8s.rolloutHistory({
      namespace,
      deployment: 'api-gateway',
    });
    assert.deepEqual(
      history.map((r) => r.revision),
      [2, 3],
      'one new ReplicaSet for the rollout, the old one revived for the rollback',
    );
    assert.equal((await replicaSetsOf(apps, namespace, 'api-gateway')).length, 2);
  });

  void it('does not retry a request the API server refuses', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    await assert.rejects(
      runAsActivity(() =>
        k8s.startRollout(
          plan({ namespace, changeId: uniqueChangeId(), deployment: 'payments', image: newImage }),
        ),
      ),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, FailureType.KubernetesRejected);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /deployments.apps "payments" not found/);
        assert.equal((error as unknown as { attempts: number }).attempts, 1);
        return true;
      },
    );
  });

  void it('refuses a plan with neither an image nor manifests before writing anything', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const failure = await failureOf(() =>
      k8s.startRollout(plan({ namespace, changeId: uniqueChangeId() })),
    );
    assert.equal(failure.type, FailureType.InvalidRequest);
    assert.equal(failure.nonRetryable, true);
    const live = await apps.readNamespacedDeployment({
      namespace,
      name: 'api-gateway',
    });
    assert.equal(live.metadata?.annotations?.[Annotation.changeId], undefined);
  });

  void it('reports recent events for the deployment, oldest first', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs });
    const since = Date.now() - 1_000;
    await k8s.startRollout(plan({ namespace, changeId: uniqueChangeId('CHG'), image: newImage }));

    const events = await k8s.recentEvents({
      namespace,
      sinceMs: since,
      names: ['api-gateway'],
    });
    assert.ok(
      events.some((e) => e.reason === 'ScalingReplicaSet' && e.object === 'Deployment/api-gateway'),
    );
    assert.ok(events.every((e) => /api-gateway/.test(e.object)));
    assert.ok(events.every((e) => Date.parse(e.at) >= since - 1_000));
    const times = events.map((e) => Date.parse(e.at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );

    const later = await k8s.recentEvents({ namespace, sinceMs: Date.now() + 60_000 });
    assert.deepEqual(later, []);
  });
});
