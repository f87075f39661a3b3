// The sandbox over plain HTTP: its controllers, Velero, faults, metrics and API error bodies.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type {
  CoreV1EventList,
  V1APIGroupList,
  V1APIResourceList,
  V1ConfigMap,
  V1Deployment,
  V1DeploymentCondition,
  V1DeploymentList,
  V1PodList,
  V1ReplicaSet,
  V1ReplicaSetList,
  V1Scale,
  V1Service,
} from '@kubernetes/client-node';
import type { Sandbox } from '../../src/stack/sandbox/index';
import {
  call,
  deploymentPath,
  eventually,
  jsonPatch,
  mergePatch,
  rolledOut,
  sandboxFor,
  setImage,
  strategicMerge,
} from './helpers';

const gateway = 'registry.example.com/api-gateway';
const revisionKey = 'deployment.kubernetes.io/revision';

async function replicaSets(sandbox: Sandbox, app: string): Promise<V1ReplicaSet[]> {
  const { body } = await call<V1ReplicaSetList>(
    sandbox,
    'GET',
    `/apis/apps/v1/namespaces/production/replicasets?labelSelector=app%3D${app}`,
  );
  return body.items;
}

const revision = (o: { metadata?: { annotations?: Record<string, string> } } | undefined) =>
  o?.metadata?.annotations?.[revisionKey];
const imageOf = (o: V1ReplicaSet | V1Deployment | undefined) =>
  o?.spec?.template?.spec?.containers[0]?.image;
const progressing = (d: V1Deployment): V1DeploymentCondition | undefined =>
  d.status?.conditions?.find((c) => c.type === 'Progressing');

void describe('deployment controller', () => {
  void it('makes a ReplicaSet per template, with revisions, owners and the change cause', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = deploymentPath('production', 'api-gateway');
    const { body: before } = await call<V1Deployment>(sandbox, 'GET', path);
    await call(
      sandbox,
      'PATCH',
      path,
      { metadata: { annotations: { 'kubernetes.io/change-cause': 'CHG-1 upgrade' } } },
      mergePatch,
    );
    assert.equal((await setImage(sandbox, 'api-gateway', `${gateway}:2.5.0`)).status, 200);
    const after = await rolledOut(sandbox, 'api-gateway');
    assert.equal(revision(after), '2');
    assert.equal(after.metadata?.generation, (before.metadata?.generation ?? 0) + 1);

    const sets = await replicaSets(sandbox, 'api-gateway');
    assert.equal(sets.length, 2);
    const current = sets.find((rs) => revision(rs) === '2');
    const old = sets.find((rs) => revision(rs) === '1');
    assert.ok(current?.metadata && old?.spec);
    assert.equal(imageOf(current), `${gateway}:2.5.0`);
    assert.equal(current.spec?.replicas, 3);
    const hash = current.metadata.labels?.['pod-template-hash'];
    assert.equal(current.metadata.name, `api-gateway-${hash}`);
    assert.equal(current.metadata.annotations?.['kubernetes.io/change-cause'], 'CHG-1 upgrade');
    assert.deepEqual(
      current.metadata.ownerReferences?.map((o) => [o.kind, o.uid, o.controller]),
      [['Deployment', before.metadata?.uid, true]],
    );
    assert.equal(old.spec.replicas, 0);

    // What `kubectl rollout undo` sends: the old template back, by JSON patch.
    const template = structuredClone(old.spec.template);
    delete template?.metadata?.labels?.['pod-template-hash'];
    const undo = await call(
      sandbox,
      'PATCH',
      path,
      [{ op: 'replace', path: '/spec/template', value: template }],
      jsonPatch,
    );
    assert.equal(undo.status, 200);
    const undone = await rolledOut(sandbox, 'api-gateway');
    assert.equal(revision(undone), '3');
    const reused = (await replicaSets(sandbox, 'api-gateway')).find(
      (rs) => rs.metadata?.name === old.metadata?.name,
    );
    assert.equal(revision(reused), '3');
    assert.equal(reused?.metadata?.annotations?.['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(reused?.spec?.replicas, 3);
  });

  void it('keeps only revisionHistoryLimit old ReplicaSets', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = deploymentPath('production', 'auth-service');
    await call(sandbox, 'PATCH', path, { spec: { revisionHistoryLimit: 1 } }, mergePatch);
    for (const tag of ['3.0.0', '3.0.1', '3.0.2']) {
      await setImage(sandbox, 'auth-service', `registry.example.com/auth-service:${tag}`);
      await rolledOut(sandbox, 'auth-service');
    }
    const sets = await eventually('old replica sets to be cleaned up', async () => {
      const all = await replicaSets(sandbox, 'auth-service');
      return all.length === 2 ? all : undefined;
    });
    assert.deepEqual(sets.map(revision).sort(), ['3', '4']);
  });

  void it('holds a paused deployment and rolls when resumed', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = deploymentPath('production', 'auth-service');
    await call(sandbox, 'PATCH', path, { spec: { paused: true } }, mergePatch);
    await setImage(sandbox, 'auth-service', 'registry.example.com/auth-service:3.0.0');
    const paused = await eventually('the paused condition', async () => {
      const { body } = await call<V1Deployment>(sandbox, 'GET', path);
      return progressing(body)?.reason === 'DeploymentPaused' ? body : undefined;
    });
    assert.equal(paused.status?.updatedReplicas, undefined);
    assert.equal((await replicaSets(sandbox, 'auth-service')).length, 1);
    await call(sandbox, 'PATCH', path, { spec: { paused: false } }, mergePatch);
    assert.equal(revision(await rolledOut(sandbox, 'auth-service')), '2');
  });

  void it('recreates: the old pods go before any new one starts', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = deploymentPath('production', 'auth-service');
    const recreate = { spec: { strategy: { type: 'Recreate', rollingUpdate: null } } };
    assert.equal((await call(sandbox, 'PATCH', path, recreate, mergePatch)).status, 200);
    await setImage(sandbox, 'auth-service', 'registry.example.com/auth-service:3.0.0');
    await rolledOut(sandbox, 'auth-service');
    const { body } = await call<CoreV1EventList>(
      sandbox,
      'GET',
      '/api/v1/namespaces/production/events?fieldSelector=involvedObject.name%3Dauth-service',
    );
    const [seeded, ...rollout] = body.items.map((e) => e.message ?? '');
    assert.match(seeded ?? '', /^Scaled up replica set auth-service-\w+ from 0 to 2$/);
    assert.equal(rollout.length, 2);
    assert.match(rollout[0] ?? '', /^Scaled down replica set auth-service-\w+ from 2 to 0$/);
    assert.match(rollout[1] ?? '', /^Scaled up replica set auth-service-\w+ from 0 to 2$/);
    assert.notEqual(rollout[1], seeded);
  });

  void it('marks a rollout that stops progressing with ProgressDeadlineExceeded', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = deploymentPath('production', 'api-gateway');
    await call(sandbox, 'PATCH', path, { spec: { progressDeadlineSeconds: 1 } }, mergePatch);
    await setImage(sandbox, 'api-gateway', `${gateway}:2.6.0-broken`);
    const failed = await eventually('the progress deadline', async () => {
      const { body } = await call<V1Deployment>(sandbox, 'GET', path);
      return progressing(body)?.reason === 'ProgressDeadlineExceeded' ? body : undefined;
    });
    assert.equal(progressing(failed)?.status, 'False');
    assert.match(progressing(failed)?.message ?? '', /has timed out progressing/);
    // maxSurge 1, maxUnavailable 0: one broken pod, the three old ones still serve.
    assert.equal(failed.status?.updatedReplicas, 1);
    assert.equal(failed.status?.availableReplicas, 3);
  });

  void it('scales through /scale; zero counts leave status as the API server omits them', async (t) => {
    const sandbox = await sandboxFor(t);
    const scale = `${deploymentPath('production', 'auth-service')}/scale`;
    const { body: before } = await call<V1Scale>(sandbox, 'GET', scale);
    assert.equal(before.kind, 'Scale');
    assert.equal(before.apiVersion, 'autoscaling/v1');
    assert.deepEqual(before.status, { replicas: 2, selector: 'app=auth-service' });
    const put = await call<V1Scale>(sandbox, 'PUT', scale, { ...before, spec: { replicas: 0 } });
    assert.equal(put.body.spec?.replicas, 0);
    const d = await rolledOut(sandbox, 'auth-service');
    assert.equal(d.status?.readyReplicas, undefined);
    assert.equal(d.status?.replicas, undefined);
    const { body: pods } = await call<V1PodList>(
      sandbox,
      'GET',
      '/api/v1/namespaces/production/pods?labelSelector=app%3Dauth-service',
    );
    assert.equal(pods.items.length, 0);
  });

  void it('records events for scaling', async (t) => {
    const sandbox = await sandboxFor(t);
    const { body } = await call<CoreV1EventList>(
      sandbox,
      'GET',
      '/api/v1/namespaces/production/events?fieldSelector=involvedObject.name%3Dapi-gateway',
    );
    assert.ok(body.items.length > 0);
    assert.deepEqual([...new Set(body.items.map((e) => e.reason))], ['ScalingReplicaSet']);
    assert.equal(body.items[0]?.involvedObject.kind, 'Deployment');
    assert.equal(body.items[0]?.source?.component, 'deployment-controller');
  });
});

interface VeleroObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    startTimestamp?: string;
    completionTimestamp?: string;
    expiration?: string;
    failureReason?: string;
    progress?: { itemsBackedUp?: number; itemsRestored?: number };
  };
}

void describe('velero controller', () => {
  const backupsPath = '/apis/velero.io/v1/namespaces/velero/backups';
  const restoresPath = '/apis/velero.io/v1/namespaces/velero/restores';
  const backup = (
    name: string,
    spec: Record<string, unknown>,
    labels: Record<string, string> = {},
  ): VeleroObject => ({
    apiVersion: 'velero.io/v1',
    kind: 'Backup',
    metadata: { name, labels },
    spec,
  });
  const restore = (name: string, backupName: string): VeleroObject => ({
    apiVersion: 'velero.io/v1',
    kind: 'Restore',
    metadata: { name },
    spec: { backupName },
  });
  const phaseOf = (sandbox: Sandbox, path: string, wanted: string[]) =>
    eventually(`${path} to reach ${wanted.join(' or ')}`, async () => {
      const { body } = await call<VeleroObject>(sandbox, 'GET', path);
      return wanted.includes(body.status?.phase ?? '') ? body : undefined;
    });

  void it('backs up, then restores the saved objects and rolls the deployment back', async (t) => {
    const sandbox = await sandboxFor(t, { veleroBackupMs: 300 });
    const configMaps = '/api/v1/namespaces/production/configmaps';
    const config = { metadata: { name: 'gateway-config' }, data: { mode: 'strict' } };
    assert.equal((await call(sandbox, 'POST', configMaps, config)).status, 201);

    const spec = { includedNamespaces: ['production'], snapshotVolumes: true, ttl: '24h' };
    assert.equal((await call(sandbox, 'POST', backupsPath, backup('chg-1-pre', spec))).status, 201);
    const running = await phaseOf(sandbox, `${backupsPath}/chg-1-pre`, ['InProgress']);
    const started = Date.parse(running.status?.startTimestamp ?? '');
    assert.equal(Date.parse(running.status?.expiration ?? '') - started, 24 * 3_600_000);
    const done = await phaseOf(sandbox, `${backupsPath}/chg-1-pre`, ['Completed']);
    assert.ok((done.status?.completionTimestamp ?? '') >= (done.status?.startTimestamp ?? 'z'));
    assert.ok((done.status?.progress?.itemsBackedUp ?? 0) >= 5);

    await setImage(sandbox, 'api-gateway', `${gateway}:2.5.0`);
    await rolledOut(sandbox, 'api-gateway');
    await call(sandbox, 'DELETE', `${configMaps}/gateway-config`);

    assert.equal(
      (await call(sandbox, 'POST', restoresPath, restore('chg-1-undo', 'chg-1-pre'))).status,
      201,
    );
    const restored = await phaseOf(sandbox, `${restoresPath}/chg-1-undo`, ['Completed', 'Failed']);
    assert.equal(restored.status?.phase, 'Completed');

    const back = await call<V1ConfigMap>(sandbox, 'GET', `${configMaps}/gateway-config`);
    assert.equal(back.status, 200);
    assert.deepEqual(back.body.data, { mode: 'strict' });
    const d = await rolledOut(sandbox, 'api-gateway');
    assert.equal(imageOf(d), `${gateway}:2.4.3`);
    assert.equal(revision(d), '3');
  });

  void it('fails a backup labelled to fail, and a restore of a missing backup', async (t) => {
    const sandbox = await sandboxFor(t);
    const doomed = backup(
      'doomed',
      { includedNamespaces: ['production'] },
      { 'sandbox.changectl.dev/fail': 'true' },
    );
    await call(sandbox, 'POST', backupsPath, doomed);
    const failed = await phaseOf(sandbox, `${backupsPath}/doomed`, ['Failed', 'Completed']);
    assert.equal(failed.status?.phase, 'Failed');
    assert.match(failed.status?.failureReason ?? '', /sandbox\.changectl\.dev\/fail/);

    await call(sandbox, 'POST', restoresPath, restore('r1', 'missing'));
    const r1 = await phaseOf(sandbox, `${restoresPath}/r1`, ['Failed', 'Completed']);
    assert.equal(r1.status?.phase, 'Failed');
    assert.match(r1.status?.failureReason ?? '', /backup "missing" not found/);
  });

  void it('ends PartiallyFailed for a namespace that does not exist', async (t) => {
    const sandbox = await sandboxFor(t);
    const spec = { includedNamespaces: ['production', 'nowhere'] };
    await call(sandbox, 'POST', backupsPath, backup('partial', spec));
    const partial = await phaseOf(sandbox, `${backupsPath}/partial`, [
      'PartiallyFailed',
      'Completed',
    ]);
    assert.equal(partial.status?.phase, 'PartiallyFailed');
    assert.match(partial.status?.failureReason ?? '', /nowhere/);
  });
});

void describe('fault injection', () => {
  void it('answers about the configured share of requests with 503', async (t) => {
    const sandbox = await sandboxFor(t, { faults: { serverErrorRate: 0.3 } });
    const list = deploymentPath('production');
    const codes = await Promise.all(
      Array.from({ length: 300 }, async () => (await call(sandbox, 'GET', list)).status),
    );
    const share = codes.filter((c) => c === 503).length / codes.length;
    assert.ok(share > 0.18 && share < 0.42, `503 share ${share}`);
    assert.deepEqual([...new Set(codes)].sort(), [200, 503]);
    const failure = await eventually('a 503', async () => {
      const answer = await call(sandbox, 'GET', list);
      return answer.status === 503 ? answer : undefined;
    });
    assert.equal(failure.body.reason, 'ServiceUnavailable');
    // The control and metrics endpoints are never faulted.
    sandbox.setFaults({ serverErrorRate: 1 });
    assert.equal((await call(sandbox, 'GET', '/metrics')).status, 200);
    assert.equal((await call(sandbox, 'GET', '/sandbox/faults')).status, 200);
    assert.equal((await call(sandbox, 'GET', list)).status, 503);
  });

  void it('answers updates with 409 Conflict and leaves reads alone', async (t) => {
    const sandbox = await sandboxFor(t, { faults: { conflictOnUpdate: 1 } });
    const patched = await setImage(sandbox, 'api-gateway', `${gateway}:2.5.0`);
    assert.equal(patched.status, 409);
    assert.equal(patched.body.reason, 'Conflict');
    assert.match(patched.body.message ?? '', /the object has been modified/);
    const { body } = await call<V1Deployment>(
      sandbox,
      'GET',
      deploymentPath('production', 'api-gateway'),
    );
    assert.equal(imageOf(body), `${gateway}:2.4.3`);
  });

  void it('delays requests, and changes at runtime through /sandbox/faults', async (t) => {
    const sandbox = await sandboxFor(t);
    const put = await call<unknown>(sandbox, 'PUT', '/sandbox/faults', { latencyMs: 200 });
    assert.deepEqual(put.body, { serverErrorRate: 0, conflictOnUpdate: 0, latencyMs: 200 });
    let started = Date.now();
    await call(sandbox, 'GET', deploymentPath('production'));
    assert.ok(Date.now() - started >= 190);
    const current = await call<{ latencyMs: number }>(sandbox, 'GET', '/sandbox/faults');
    assert.equal(current.body.latencyMs, 200);

    const refused = await call(sandbox, 'PUT', '/sandbox/faults', { serverErrorRate: 2 });
    assert.equal(refused.status, 400);
    await call(sandbox, 'PUT', '/sandbox/faults', { latencyMs: 0 });
    started = Date.now();
    await call(sandbox, 'GET', deploymentPath('production'));
    assert.ok(Date.now() - started < 150);
  });
});

/** Sample values by `name{labels}` from a text exposition. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) values.set(`${match[1]}{${match[2]}}`, Number(match[3]));
  }
  return values;
}

void describe('metrics', () => {
  const gatewayLabels = 'service="api-gateway",namespace="production"';
  const requests = (m: Map<string, number>, code: string) =>
    m.get(`http_requests_total{${gatewayLabels},code="${code}"}`) ?? NaN;
  const bucket = (le: string) =>
    `http_request_duration_seconds_bucket{${gatewayLabels},le="${le}"}`;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function scrape(sandbox: Sandbox): Promise<Map<string, number>> {
    const answer = await call<unknown>(sandbox, 'GET', '/metrics');
    assert.match(answer.contentType, /^text\/plain; version=0\.0\.4/);
    return parseMetrics(answer.text);
  }

  async function errorRatioOver(sandbox: Sandbox, ms: number): Promise<number> {
    const a = await scrape(sandbox);
    await pause(ms);
    const b = await scrape(sandbox);
    const errors = requests(b, '500') - requests(a, '500');
    const total = errors + requests(b, '200') - requests(a, '200');
    assert.ok(total > 20, `traffic flowed (${total} requests)`);
    return errors / total;
  }

  void it('exposes per-service counters and a latency histogram in Prometheus format', async (t) => {
    const sandbox = await sandboxFor(t);
    await call(sandbox, 'GET', deploymentPath('production'));
    const { text } = await call<unknown>(sandbox, 'GET', '/metrics');
    assert.match(text, /^# TYPE http_requests_total counter$/m);
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    assert.match(
      text,
      /^http_request_duration_seconds_bucket\{service="auth-service",namespace="production",le="0\.1"\} \d+$/m,
    );
    assert.match(
      text,
      /^http_request_duration_seconds_sum\{service="api-gateway",namespace="production"\} [\d.]+$/m,
    );
    assert.match(
      text,
      /^http_request_duration_seconds_count\{service="api-gateway",namespace="production"\} \d+$/m,
    );
    assert.match(
      text,
      /^sandbox_api_requests_total\{verb="list",resource="deployments",code="200"\} \d+$/m,
    );
    await pause(300);
    const later = await scrape(sandbox);
    const count = later.get(`http_request_duration_seconds_count{${gatewayLabels}}`) ?? 0;
    assert.ok(count >= 10, `requests counted: ${count}`);
    assert.equal(later.get(bucket('+Inf')), count);
  });

  void it('raises the 5xx ratio when the serving image is -erroring, and p99 for -slow', async (t) => {
    const sandbox = await sandboxFor(t);
    assert.ok((await errorRatioOver(sandbox, 600)) < 0.03);
    await setImage(sandbox, 'api-gateway', `${gateway}:2.5.0-erroring`);
    await rolledOut(sandbox, 'api-gateway');
    const ratio = await errorRatioOver(sandbox, 800);
    assert.ok(ratio > 0.04 && ratio < 0.14, `5xx ratio ${ratio}`);

    await setImage(sandbox, 'api-gateway', `${gateway}:2.5.1-slow`);
    await rolledOut(sandbox, 'api-gateway');
    const a = await scrape(sandbox);
    await pause(800);
    const b = await scrape(sandbox);
    const delta = (le: string) => (b.get(bucket(le)) ?? 0) - (a.get(bucket(le)) ?? 0);
    // Most requests over 250 ms and more than 1% over 500 ms: p99 lands between 0.5 s and 1 s.
    assert.ok(delta('0.25') / delta('+Inf') < 0.6);
    assert.ok(delta('0.5') / delta('+Inf') < 0.99);
    assert.equal(delta('1'), delta('+Inf'));
  });
});

void describe('API errors and reads', () => {
  void it('answers NotFound, AlreadyExists and Invalid with Status bodies', async (t) => {
    const sandbox = await sandboxFor(t);
    const missing = await call(sandbox, 'GET', deploymentPath('production', 'nope'));
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments.apps "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', group: 'apps', kind: 'deployments' },
      code: 404,
    });
    const { body: existing } = await call<V1Deployment>(
      sandbox,
      'GET',
      deploymentPath('production', 'api-gateway'),
    );
    const again = await call(sandbox, 'POST', deploymentPath('production'), {
      ...existing,
      metadata: { name: 'api-gateway' },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, 'AlreadyExists');
    assert.equal(again.body.message, 'deployments.apps "api-gateway" already exists');

    const mismatched = await call(sandbox, 'POST', deploymentPath('production'), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bad' },
      spec: {
        selector: { matchLabels: { app: 'bad' } },
        template: { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'c' }] } },
      },
    });
    assert.equal(mismatched.status, 422);
    assert.equal(mismatched.body.reason, 'Invalid');
    assert.match(mismatched.body.message ?? '', /^Deployment\.apps "bad" is invalid: /);
    assert.deepEqual(mismatched.body.details?.causes?.map((c) => c.field).sort(), [
      'spec.template.metadata.labels',
      'spec.template.spec.containers[0].image',
    ]);

    const garbled = await call(sandbox, 'POST', deploymentPath('production'), '{not json');
    assert.equal(garbled.status, 400);
    const pod = { metadata: { name: 'p' } };
    const podCreate = await call(sandbox, 'POST', '/api/v1/namespaces/production/pods', pod);
    assert.equal(podCreate.status, 405);
    const configMap = { metadata: { name: 'c' } };
    const noNamespace = await call(
      sandbox,
      'POST',
      '/api/v1/namespaces/nowhere/configmaps',
      configMap,
    );
    assert.equal(noNamespace.status, 404);
    assert.equal(noNamespace.body.message, 'namespaces "nowhere" not found');
    const smpOnCrd = await call(
      sandbox,
      'PATCH',
      '/apis/velero.io/v1/namespaces/velero/backups/x',
      {},
      strategicMerge,
    );
    assert.equal(smpOnCrd.status, 415);
    assert.equal(smpOnCrd.body.reason, 'UnsupportedMediaType');
  });

  void it('refuses a stale resourceVersion and keeps dry runs out of the store', async (t) => {
    const sandbox = await sandboxFor(t);
    const path = '/api/v1/namespaces/production/services/api-gateway';
    const { body: svc } = await call<V1Service>(sandbox, 'GET', path);
    const green = {
      ...svc,
      spec: { ...svc.spec, selector: { app: 'api-gateway', color: 'green' } },
    };
    const first = await call<V1Service>(sandbox, 'PUT', path, green);
    assert.equal(first.status, 200);
    assert.equal(first.body.spec?.clusterIP, svc.spec?.clusterIP);
    assert.notEqual(first.body.metadata?.resourceVersion, svc.metadata?.resourceVersion);
    const stale = await call(sandbox, 'PUT', path, green);
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');

    const configMaps = '/api/v1/namespaces/production/configmaps';
    const dry = await call(sandbox, 'POST', `${configMaps}?dryRun=All`, {
      metadata: { name: 'dry' },
      data: { a: 'b' },
    });
    assert.equal(dry.status, 201);
    assert.equal((await call(sandbox, 'GET', `${configMaps}/dry`)).status, 404);
  });

  void it('applies server-side: merges containers by name, records the manager, dry-runs', async (t) => {
    const sandbox = await sandboxFor(t);
    const applyType = 'application/apply-patch+yaml';
    const path = deploymentPath('production', 'api-gateway');
    const applied = await call<V1Deployment>(
      sandbox,
      'PATCH',
      `${path}?fieldManager=changectl&force=true`,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api-gateway', annotations: { 'changectl.dev/change-id': 'CHG-7' } },
        spec: {
          template: { spec: { containers: [{ name: 'api-gateway', image: `${gateway}:2.5.0` }] } },
        },
      },
      applyType,
    );
    assert.equal(applied.status, 200);
    const container = applied.body.spec?.template.spec?.containers[0];
    assert.equal(container?.image, `${gateway}:2.5.0`);
    assert.deepEqual(container?.ports, [{ containerPort: 8080, name: 'http', protocol: 'TCP' }]);
    assert.equal(applied.body.metadata?.managedFields?.[0]?.manager, 'changectl');

    const configMap = `/api/v1/namespaces/production/configmaps/fresh`;
    const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\ndata:\n  k: v\n`;
    const dry = await call(
      sandbox,
      'PATCH',
      `${configMap}?fieldManager=changectl&dryRun=All`,
      yaml,
      applyType,
    );
    assert.equal(dry.status, 201);
    assert.equal((await call(sandbox, 'GET', configMap)).status, 404);
    const invalid = await call(
      sandbox,
      'PATCH',
      `${path}?fieldManager=changectl&dryRun=All`,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api-gateway' },
        spec: { replicas: -1 },
      },
      applyType,
    );
    assert.equal(invalid.status, 422);
  });

  void it('selects by label and name, and streams watch events until timeoutSeconds', async (t) => {
    const sandbox = await sandboxFor(t);
    const byLabel = await call<V1PodList>(
      sandbox,
      'GET',
      '/api/v1/namespaces/production/pods?labelSelector=app%20in%20(auth-service)',
    );
    assert.equal(byLabel.body.items.length, 2);
    assert.equal(byLabel.body.kind, 'PodList');
    assert.match(byLabel.body.metadata?.resourceVersion ?? '', /^\d+$/);
    const byName = await call<V1DeploymentList>(
      sandbox,
      'GET',
      `${deploymentPath('production')}?fieldSelector=metadata.name%3Dauth-service`,
    );
    assert.deepEqual(
      byName.body.items.map((d) => d.metadata?.name),
      ['auth-service'],
    );

    const since = byName.body.metadata?.resourceVersion ?? '';
    const response = await fetch(
      `${sandbox.url}${deploymentPath('production')}?watch=true&fieldSelector=metadata.name%3Dapi-gateway&timeoutSeconds=2&resourceVersion=${since}`,
    );
    assert.equal(response.status, 200);
    await setImage(sandbox, 'api-gateway', `${gateway}:2.5.0`);
    await setImage(sandbox, 'auth-service', 'registry.example.com/auth-service:3.0.0');
    const started = Date.now();
    const events = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; object: V1Deployment });
    assert.ok(Date.now() - started < 4000, 'the stream ended at timeoutSeconds');
    assert.ok(events.length >= 2);
    for (const e of events) {
      assert.equal(e.type, 'MODIFIED');
      assert.equal(e.object.metadata?.name, 'api-gateway');
    }
  });

  void it('serves discovery with the scale subresource, and OpenAPI v3 for kubectl', async (t) => {
    const sandbox = await sandboxFor(t);
    const apps = await call<V1APIResourceList>(sandbox, 'GET', '/apis/apps/v1');
    const scale = apps.body.resources.find((r) => r.name === 'deployments/scale');
    assert.deepEqual([scale?.group, scale?.version, scale?.kind], ['autoscaling', 'v1', 'Scale']);
    const groups = await call<V1APIGroupList>(sandbox, 'GET', '/apis');
    assert.deepEqual(
      groups.body.groups.map((g) => g.name),
      ['apps', 'velero.io'],
    );
    type Paths = { paths: Record<string, { serverRelativeURL: string }> };
    const root = await call<Paths>(sandbox, 'GET', '/openapi/v3');
    const url = root.body.paths['apis/apps/v1']?.serverRelativeURL ?? '';
    type Operation = {
      parameters: { name: string }[];
      'x-kubernetes-group-version-kind': unknown;
    };
    const doc = await call<{ paths: Record<string, { patch: Operation }> }>(sandbox, 'GET', url);
    const patch = doc.body.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']?.patch;
    assert.deepEqual(patch?.['x-kubernetes-group-version-kind'], {
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
    });
    assert.ok(patch?.parameters.some((p) => p.name === 'fieldValidation'));
  });
});

void describe('close', () => {
  void it('stops the server so no request is answered', async (t) => {
    const sandbox = await sandboxFor(t);
    await sandbox.close();
    await assert.rejects(fetch(`${sandbox.url}/version`));
  });

  void it('leaves no handle open: a process that closes its sandbox exits by itself', async () => {
    const child = fileURLToPath(new URL('./fixtures/close-and-exit.ts', import.meta.url));
    const proc = spawn(process.execPath, ['--import', 'tsx', child], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve('still running after 15 s');
      }, 15_000);
      proc.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c ?? 'killed');
      });
    });
    assert.equal(code, 0, output);
    assert.match(output, /closed/);
  });
});
