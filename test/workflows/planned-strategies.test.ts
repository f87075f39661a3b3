import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequestInput } from '../../src/core/change/request';
import type { RollbackInput, RolloutPlan, RolloutResult } from '../../src/core/contracts';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange } from '../../src/temporal/start';
import { rollbackSignal, statusQuery } from '../../workflows/messages';
import { createFakeActivities, type ChangeActivities } from '../helpers/fakes';
import {
  approveAsDaveAndBob,
  assertEventsInOrder,
  changeWorker,
  eventsOf,
  serviceRequest,
  uniqueService,
  waitForStatus,
  type ChangeHandle,
} from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

type Fakes = ReturnType<typeof createFakeActivities>;

/** What the blue/green strategy reports: green now serves, the original deployment served. */
function blueGreenResult(plan: RolloutPlan): RolloutResult {
  return {
    strategy: 'blueGreen',
    activeDeployment: `${plan.deployment}-green`,
    previousDeployment: plan.deployment,
    previousSelector: { app: plan.deployment },
    image: plan.image,
    previousImage: 'registry.example.com/api-gateway:2.4.3',
    appliedObjects: [`Deployment/${plan.deployment}-green`, `Service/${plan.deployment}`],
    message: `Service ${plan.deployment} switched from ${plan.deployment} to ${plan.deployment}-green`,
  };
}

/** The fakes with startRollout answering as the blue/green strategy does. */
function blueGreenFakes(env: TestWorkflowEnvironment): Fakes {
  const fakes = createFakeActivities(env.client);
  fakes.activities.startRollout = (plan) => {
    fakes.calls.push({ name: 'startRollout', args: [plan] });
    return Promise.resolve(blueGreenResult(plan));
  };
  return fakes;
}

function blueGreenRequest(
  id: string,
  service: string,
  rollout: Partial<ChangeRequestInput['spec']['rollout']> = {},
) {
  return serviceRequest(id, service, {
    rollout: {
      strategy: 'blueGreen',
      target: { kind: 'Deployment', name: service },
      service,
      image: 'registry.example.com/api-gateway:2.5.0',
      timeout: '10m',
      ...rollout,
    },
  });
}

function eventAt(status: ChangeStatus, event: string): number {
  const entry = status.timeline.find((e) => e.event === event);
  assert.ok(entry, `no '${event}' in: ${eventsOf(status).join(', ')}`);
  return Date.parse(entry.at);
}

/** Slack for timers: a timer fires on time, the workflow task that records it a moment later. */
const TIMER_SLACK_MS = 60_000;

/** The step after a timer of `timerMs` came when it fired (workflow time), not before. */
function assertWithinTimer(elapsedMs: number, timerMs: number): void {
  assert.ok(elapsedMs >= timerMs, `${elapsedMs} ms is before the ${timerMs} ms timer`);
  assert.ok(elapsedMs < timerMs + TIMER_SLACK_MS, `${elapsedMs} ms is long after the timer`);
}

describe('planned change: blue/green cleanup', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function runChange(
    title: string,
    activities: ChangeActivities,
    request: ReturnType<typeof blueGreenRequest>,
    drive: (handle: ChangeHandle) => Promise<void> = () => Promise.resolve(),
  ): Promise<{ log: ChangeLog; status: ChangeStatus }> {
    const worker = await changeWorker(env, title, activities);
    return await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      await drive(handle);
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });
  }

  it('scales the old colour to zero after the watch and deletes it 10 minutes later', async (t) => {
    const fakes = blueGreenFakes(env);
    const service = uniqueService();
    const { log, status } = await runChange(
      t.name,
      fakes.activities,
      blueGreenRequest(uniqueChangeId('CHG'), service),
      async (handle) => {
        const cleaning = await waitForStatus(
          handle,
          (s) => s.state === 'cleaning-up',
          'cleaning-up',
        );
        assert.equal(cleaning.rollout.cleanup?.deployment, service);
        assert.equal(cleaning.rollout.cleanup?.deletedAt, undefined);
        assert.equal(fakes.called('cleanupRollout').length, 0, 'nothing deleted before the timer');
      },
    );
    assert.equal(status.state, 'completed');
    const steps = fakes.calls.map((c) => c.name);
    assert.deepEqual(steps.slice(steps.indexOf('watchMetrics')), [
      'watchMetrics',
      'finalizeRollout',
      'cleanupRollout',
      'notify',
      'releaseServiceLock',
    ]);
    const cleanup = fakes.called('cleanupRollout')[0]?.args[0] as { rollout: RolloutResult };
    assert.equal(cleanup.rollout.previousDeployment, service);
    // The durable timer: deleted 10 minutes (workflow time) after the old colour went to zero.
    const scaledDown = eventAt(status, 'old colour scaled to zero');
    assert.equal(Date.parse(status.rollout.cleanup?.deleteAt ?? '') - scaledDown, 600_000);
    assertWithinTimer(eventAt(status, 'old colour cleaned up') - scaledDown, 600_000);
    assert.equal(status.rollout.cleanup?.message, `deleted ${service}`);
    assert.ok(status.rollout.cleanup?.deletedAt);
    assert.deepEqual(log.changeLog.rollout.cleanup, status.rollout.cleanup);
    assertEventsInOrder(status, [
      'watch passed',
      'state: cleaning-up',
      'old colour scaled to zero',
      'old colour cleaned up',
      'state: completed',
    ]);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'complete'],
    );
  });

  it('waits the request’s cleanupAfter', async (t) => {
    const fakes = blueGreenFakes(env);
    const { status } = await runChange(
      t.name,
      fakes.activities,
      blueGreenRequest(uniqueChangeId('CHG'), uniqueService(), { cleanupAfter: '45m' }),
    );
    assert.equal(status.state, 'completed');
    const scaledDown = eventAt(status, 'old colour scaled to zero');
    assertWithinTimer(eventAt(status, 'old colour cleaned up') - scaledDown, 45 * 60_000);
  });

  it('switches back when a rollback comes before the old colour is deleted', async (t) => {
    const fakes = blueGreenFakes(env);
    const service = uniqueService();
    const { status } = await runChange(
      t.name,
      fakes.activities,
      blueGreenRequest(uniqueChangeId('CHG'), service),
      async (handle) => {
        await waitForStatus(handle, (s) => s.state === 'cleaning-up', 'cleaning-up');
        await handle.signal(rollbackSignal, { actor: 'bob', reason: 'login errors after all' });
      },
    );
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.outcome, 'rolled back: rollback requested by bob: login errors after all');
    assert.equal(fakes.called('cleanupRollout').length, 0, 'the old colour is kept');
    const rollback = fakes.called('rollbackRollout')[0]?.args[0] as RollbackInput;
    assert.equal(rollback.rollout?.previousDeployment, service);
    assert.equal(rollback.rollout?.activeDeployment, `${service}-green`);
    assertEventsInOrder(status, [
      'old colour scaled to zero',
      'rollback requested',
      'rolling back',
      'rolled back',
      'state: rolled-back',
    ]);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'rolled-back'],
    );
  });

  it('keeps rolling changes as they were: no cleanup timer', async (t) => {
    const fakes = createFakeActivities(env.client);
    const service = uniqueService();
    const worker = await changeWorker(env, t.name, fakes.activities);
    const status = await worker.runUntil(async () => {
      const handle = await startChange(env.client, serviceRequest(uniqueChangeId('CHG'), service), {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      await handle.result();
      return await handle.query(statusQuery);
    });
    assert.equal(status.state, 'completed');
    assert.equal(fakes.called('cleanupRollout').length, 0);
    assert.equal(status.rollout.cleanup, undefined);
    assert.ok(!eventsOf(status).includes('state: cleaning-up'));
  });
});
