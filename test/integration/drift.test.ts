import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { createDriftActivities } from '../../activities/drift';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { Annotation } from '../../activities/kubernetes/deployments';
import { createNotificationActivities } from '../../activities/notifications';
import { createPolicyActivities } from '../../activities/policy';
import type { RolloutPlan } from '../../src/core/contracts';
import { specHash, type DriftReport } from '../../src/core/drift/index';
import { changectl, cliEnv, shown, windowFreePolicy, type CliResult } from '../e2e/harness';
import { eventually, namespaceFor, type TestNamespace } from '../helpers/cluster';
import {
  createDevServerEnv,
  uniqueChangeId,
  uniqueTaskQueue,
  workflowBundle,
} from '../helpers/temporal';
import type { NotificationRecord } from '../../activities/notifications';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const strategicMergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const ENV = 'drifttest';

function expectExit(r: CliResult, code: number): void {
  assert.equal(r.code, code, shown(r));
}

/** The example policy's people and approvals, with one environment owning the test's namespace. */
async function policyFor(dir: string, namespace: string): Promise<string> {
  const path = join(dir, `policy-${namespace}.yaml`);
  const policy = structuredClone(windowFreePolicy) as { spec: Record<string, unknown> };
  policy.spec.environments = { [ENV]: { namespaces: [namespace] } };
  // The harness policy's standard templates name its own environments.
  delete policy.spec.standardChanges;
  await writeFile(path, stringify(policy));
  return path;
}

/** Runs a rollout activity as the worker would for a change's run. */
function asActivityOf<T>(runId: string, work: () => Promise<T>): Promise<T> {
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: `change-${runId}`, runId },
  });
  return env.run(work);
}

function rollout(ns: TestNamespace, changeId: string, tag: string): RolloutPlan {
  return {
    changeId,
    namespace: ns.namespace,
    strategy: 'rolling',
    deployment: 'api-gateway',
    image: `registry.example.com/api-gateway:${tag}`,
    timeoutMs: 60_000,
  };
}

/** `kubectl edit`'s write: a patch of the image by the field manager kubectl edit uses. */
async function editImageByHand(ns: TestNamespace, tag: string): Promise<void> {
  await ns.apps.patchNamespacedDeployment(
    {
      namespace: ns.namespace,
      name: 'api-gateway',
      fieldManager: 'kubectl-edit',
      body: {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'api-gateway', image: `registry.example.com/api-gateway:${tag}` },
              ],
            },
          },
        },
      },
    },
    strategicMergePatch,
  );
}

describe('drift on the local cluster and the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'changectl-drift-'));
      env = await createDevServerEnv();
    },
    { timeout: 120_000 },
  );
  after(async () => {
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cliFor = async (ns: TestNamespace, extra: Record<string, string> = {}) => {
    const vars = cliEnv({
      KUBECONFIG: ns.cluster.kubeconfigPath,
      CHANGECTL_POLICY: await policyFor(dir, ns.namespace),
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      ...extra,
    });
    return (...args: string[]) => changectl(args, vars);
  };

  it('shows a kubectl edit after a change as drift naming its manager, and a later change clears it', async (t: TestContext) => {
    const ns = await namespaceFor(t);
    const run = await cliFor(ns);
    const kubernetes = createKubernetesActivities(ns.kubeConfig, { pollIntervalMs: 200 });
    const first = uniqueChangeId('CHG');
    await asActivityOf('run-first', () => kubernetes.startRollout(rollout(ns, first, '2.5.0')));

    const stamped = await ns.apps.readNamespacedDeployment({
      namespace: ns.namespace,
      name: 'api-gateway',
    });
    const annotations = stamped.metadata?.annotations ?? {};
    assert.equal(annotations[Annotation.changeId], first);
    assert.equal(annotations[Annotation.runId], 'run-first');
    assert.equal(
      annotations[Annotation.specHash],
      specHash(stamped as Parameters<typeof specHash>[0]),
    );

    const clean = await run('drift', '--env', ENV, '--service', 'api-gateway', '--json');
    expectExit(clean, 0);
    const before = JSON.parse(clean.stdout) as DriftReport;
    assert.deepEqual(before.drifted, []);
    assert.deepEqual(
      before.untracked.map((o) => `${o.kind}/${o.name}`),
      ['Service/api-gateway'],
      'the Service no change wrote is listed as never changed through changectl',
    );
    assert.equal(before.scanned, 2);

    await editImageByHand(ns, '2.5.0-hotfix');
    const drifted = await run('drift', '--env', ENV, '--json');
    expectExit(drifted, 1);
    const found = JSON.parse(drifted.stdout) as DriftReport;
    assert.deepEqual(
      found.drifted.map((o) => `${o.namespace}/${o.kind}/${o.name}`),
      [`${ns.namespace}/Deployment/api-gateway`],
    );
    const [object] = found.drifted;
    assert.equal(object?.changeId, first);
    assert.equal(object?.runId, 'run-first');
    assert.equal(object?.changedBy[0]?.manager, 'kubectl-edit');
    assert.ok(object?.changedBy[0]?.at, 'the API server says when');
    assert.ok(object.changectlAt && object.changedBy[0].at >= object.changectlAt);
    assert.notEqual(object.liveHash, object.expectedHash);
    assert.match(drifted.stderr, /drift found: 1 object changed outside changectl/);
    assert.deepEqual(found.untracked.map((o) => `${o.kind}/${o.name}`).sort(), [
      'Deployment/auth-service',
      'Service/api-gateway',
      'Service/auth-service',
    ]);

    const text = await run('drift', '--env', ENV, '--service', 'api-gateway');
    expectExit(text, 1);
    assert.match(
      text.stdout,
      new RegExp(`${ns.namespace}/Deployment/api-gateway\\s+${first}\\s+kubectl-edit \\(Update\\)`),
    );

    const strict = await run('drift', '--env', ENV, '--service', 'auth-service', '--strict');
    expectExit(strict, 1);
    const lenient = await run('drift', '--env', ENV, '--service', 'auth-service');
    expectExit(lenient, 0);

    const second = uniqueChangeId('CHG');
    await asActivityOf('run-second', () => kubernetes.startRollout(rollout(ns, second, '2.6.0')));
    const cleared = await run('drift', '--env', ENV, '--service', 'api-gateway', '--json');
    expectExit(cleared, 0);
    const after = JSON.parse(cleared.stdout) as DriftReport;
    assert.deepEqual(after.drifted, []);
    const restamped = await ns.apps.readNamespacedDeployment({
      namespace: ns.namespace,
      name: 'api-gateway',
    });
    assert.equal(restamped.metadata?.annotations?.[Annotation.changeId], second);
    assert.equal(restamped.metadata?.annotations?.[Annotation.runId], 'run-second');
  });

  it('tracks a ConfigMap a change applies the same way, and its edit by hand', async (t: TestContext) => {
    const ns = await namespaceFor(t);
    const run = await cliFor(ns);
    const kubernetes = createKubernetesActivities(ns.kubeConfig, { pollIntervalMs: 200 });
    const changeId = uniqueChangeId('CHG');
    const { image: _image, ...plan } = rollout(ns, changeId, 'unused');
    await asActivityOf('run-config', () =>
      kubernetes.startRollout({
        ...plan,
        manifests: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'api-gateway-config' },
            data: { LOG_LEVEL: 'info' },
          },
        ],
      }),
    );
    const clean = await run('drift', '--env', ENV, '--service', 'api-gateway', '--json');
    expectExit(clean, 0);
    assert.deepEqual((JSON.parse(clean.stdout) as DriftReport).drifted, []);

    await ns.core.patchNamespacedConfigMap(
      {
        namespace: ns.namespace,
        name: 'api-gateway-config',
        fieldManager: 'kubectl-edit',
        body: { data: { LOG_LEVEL: 'debug' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const drifted = await run('drift', '--env', ENV, '--service', 'api-gateway', '--json');
    expectExit(drifted, 1);
    const [object, ...others] = (JSON.parse(drifted.stdout) as DriftReport).drifted;
    assert.deepEqual(others, []);
    assert.equal(`${object?.kind}/${object?.name}`, 'ConfigMap/api-gateway-config');
    assert.equal(object?.changeId, changeId);
    assert.equal(object?.runId, 'run-config');
    assert.equal(object?.changedBy[0]?.manager, 'kubectl-edit');
  });

  it('refuses a scope the policy does not have', async (t: TestContext) => {
    const ns = await namespaceFor(t, { seed: false });
    const run = await cliFor(ns);
    const r = await run('drift', '--env', 'nowhere');
    expectExit(r, 2);
    assert.match(r.stderr, /environment nowhere is not in the policy/);
  });

  it('a schedule scans on the dev server and notifies once per drift appearance, and once when it clears', async (t: TestContext) => {
    const ns = await namespaceFor(t);
    const taskQueue = uniqueTaskQueue(t.name);
    const notifications = join(dir, `notifications-${ns.namespace}.jsonl`);
    const policyPath = await policyFor(dir, ns.namespace);
    const run = await cliFor(ns, { CHANGECTL_TASK_QUEUE: taskQueue });
    const kubernetes = createKubernetesActivities(ns.kubeConfig, { pollIntervalMs: 200 });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities: {
        ...createPolicyActivities(policyPath),
        ...createDriftActivities(ns.kubeConfig, env.client),
        ...createNotificationActivities({ file: notifications }),
      },
    });
    const drifts = async (): Promise<NotificationRecord[]> => {
      const text = await readFile(notifications, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as NotificationRecord);
    };
    const scheduleId = `changectl-drift-${ENV}-${ns.namespace}`;
    /** Scans of the schedule that ran to the end, as visibility counts them. */
    const scansSoFar = async () =>
      (
        await env.client.workflow.count(
          `TemporalScheduledById = '${scheduleId}' AND ExecutionStatus = 'Completed'`,
        )
      ).count;

    await worker.runUntil(async () => {
      await asActivityOf('run-a', () =>
        kubernetes.startRollout(rollout(ns, uniqueChangeId('CHG'), '2.5.0')),
      );
      const scheduled = await run(
        'drift',
        '--env',
        ENV,
        '--kube-namespace',
        ns.namespace,
        '--schedule',
        '2s',
        '--json',
      );
      expectExit(scheduled, 0);
      assert.deepEqual(JSON.parse(scheduled.stdout), {
        scheduleId,
        every: '2s',
        taskQueue,
        updated: false,
      });
      t.after(() =>
        env.client.schedule
          .getHandle(scheduleId)
          .delete()
          .catch(() => undefined),
      );
      const rescheduled = await run(
        'drift',
        '--env',
        ENV,
        '--kube-namespace',
        ns.namespace,
        '--schedule',
        '2s',
        '--json',
      );
      expectExit(rescheduled, 0);
      assert.equal(
        (JSON.parse(rescheduled.stdout) as { updated: boolean }).updated,
        true,
        'scheduling the same scope again updates its schedule',
      );

      // Clean scans notify nothing.
      await eventually(
        'two scheduled scans',
        async () => ((await scansSoFar()) >= 2 ? true : undefined),
        60_000,
      );
      assert.deepEqual(await drifts(), []);

      await editImageByHand(ns, '2.5.0-hotfix');
      const detected = await eventually(
        'a drift notification',
        async () => {
          const found = (await drifts()).filter((n) => n.kind === 'drift-detected');
          return found.length > 0 ? found : undefined;
        },
        60_000,
      );
      assert.match(detected[0]?.text ?? '', /Deployment\/api-gateway changed by kubectl-edit/);
      // Later scans still see it, and say nothing more.
      const seenAt = await scansSoFar();
      await eventually(
        'two more scans',
        async () => ((await scansSoFar()) >= seenAt + 2 ? true : undefined),
        60_000,
      );
      assert.equal((await drifts()).filter((n) => n.kind === 'drift-detected').length, 1);

      await asActivityOf('run-b', () =>
        kubernetes.startRollout(rollout(ns, uniqueChangeId('CHG'), '2.6.0')),
      );
      const clearedNote = await eventually(
        'a drift-cleared notification',
        async () => (await drifts()).find((n) => n.kind === 'drift-cleared'),
        60_000,
      );
      assert.match(clearedNote.text, /Deployment\/api-gateway/);
      const clearedAt = await scansSoFar();
      await eventually(
        'one more scan',
        async () => ((await scansSoFar()) >= clearedAt + 1 ? true : undefined),
        60_000,
      );
      assert.deepEqual(
        (await drifts()).map((n) => n.kind),
        ['drift-detected', 'drift-cleared'],
      );

      const unscheduled = await run(
        'drift',
        '--env',
        ENV,
        '--kube-namespace',
        ns.namespace,
        '--unschedule',
      );
      expectExit(unscheduled, 0);
      const again = await run(
        'drift',
        '--env',
        ENV,
        '--kube-namespace',
        ns.namespace,
        '--unschedule',
      );
      expectExit(again, 4);
    });
  });
});
