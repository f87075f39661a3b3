import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { createDriftActivities } from '../../activities/drift';
import type { createNotificationActivities } from '../../activities/notifications';
import type { createPolicyActivities } from '../../activities/policy';
import type { Notification } from '../../src/core/contracts';
import type { DriftReport, DriftScope, ObjectDrift } from '../../src/core/drift/index';
import { FailureType } from '../../src/core/errors';
import { driftScan } from '../../workflows/drift-scan';
import { testPolicy } from '../helpers/fakes';
import {
  createTimeSkippingEnv,
  uniqueTaskQueue,
  uniqueWorkflowId,
  workflowBundle,
} from '../helpers/temporal';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

type ScanActivities = ReturnType<typeof createDriftActivities> &
  ReturnType<typeof createPolicyActivities> &
  ReturnType<typeof createNotificationActivities>;

const policy = testPolicy({
  spec: { environments: { production: { namespaces: ['production'] } } },
});

function drifted(name: string): ObjectDrift {
  return {
    kind: 'Deployment',
    namespace: 'production',
    name,
    status: 'drifted',
    changeId: 'CHG-1',
    liveHash: 'sha256:live',
    expectedHash: 'sha256:left',
    changedBy: [{ manager: 'kubectl-edit', operation: 'Update', at: '2026-12-01T10:00:00.000Z' }],
    events: [],
  };
}

function report(scope: DriftScope, names: string[]): DriftReport {
  return {
    scannedAt: '2026-12-01T10:00:00.000Z',
    scope,
    scanned: 3,
    drifted: names.map(drifted),
    untracked: [],
  };
}

/** Scan activities over a previous scan's drift and the drift found now. */
function fakeScan(previous: string[] | undefined, now: string[]) {
  const notifications: Notification[] = [];
  const scopes: DriftScope[] = [];
  const activities: ScanActivities = {
    loadPolicy: () => Promise.resolve(policy),
    scanDrift: (scope) => {
      scopes.push(scope);
      return Promise.resolve(report(scope, now));
    },
    previousDriftScan: () =>
      Promise.resolve(previous === undefined ? undefined : report({ namespaces: [] }, previous)),
    notify: (notification) => {
      notifications.push(notification);
      return Promise.resolve();
    },
  };
  return { activities, notifications, scopes };
}

describe('drift scan workflow', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function scan(
    title: string,
    fake: ReturnType<typeof fakeScan>,
    input: Parameters<typeof driftScan>[0],
  ) {
    const taskQueue = uniqueTaskQueue(title);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities: fake.activities,
    });
    return worker.runUntil(
      env.client.workflow.execute(driftScan, {
        taskQueue,
        workflowId: uniqueWorkflowId(title),
        args: [input],
      }),
    );
  }

  it("notifies drift that appeared and drift that cleared since the schedule's last scan, nothing else", async (t) => {
    const fake = fakeScan(['api-gateway', 'auth-service'], ['api-gateway', 'billing']);
    const result = await scan(t.name, fake, {
      environment: 'production',
      scheduleId: 'changectl-drift-production',
    });
    assert.deepEqual(fake.scopes, [
      {
        environment: 'production',
        namespaces: [{ namespace: 'production', environment: 'production' }],
      },
    ]);
    assert.deepEqual(result.appeared, ['production/Deployment/billing']);
    assert.deepEqual(result.cleared, ['production/Deployment/auth-service']);
    assert.deepEqual(
      fake.notifications.map((n) => [n.kind, n.changeId]),
      [
        ['drift-detected', 'changectl-drift-production'],
        ['drift-cleared', 'changectl-drift-production'],
      ],
    );
    assert.match(
      fake.notifications[0]?.text ?? '',
      /production\/Deployment\/billing changed by kubectl-edit at 2026-12-01T10:00:00.000Z \(last change CHG-1\)/,
    );
    assert.doesNotMatch(fake.notifications[0]?.text ?? '', /api-gateway/);
  });

  it('says nothing when the drift is what the last scan saw', async (t) => {
    const fake = fakeScan(['api-gateway'], ['api-gateway']);
    const result = await scan(t.name, fake, { scheduleId: 'changectl-drift' });
    assert.deepEqual(
      result.drifted.map((o) => o.name),
      ['api-gateway'],
    );
    assert.deepEqual(fake.notifications, []);
  });

  it('fails for good on a scope the policy does not have', async (t) => {
    const fake = fakeScan(undefined, []);
    await assert.rejects(scan(t.name, fake, { environment: 'qa' }), (err: Error) => {
      const cause = (err as { cause?: { type?: string; message?: string } }).cause;
      assert.equal(cause?.type, FailureType.InvalidRequest);
      assert.match(cause?.message ?? '', /environment qa is not in the policy/);
      return true;
    });
  });
});
