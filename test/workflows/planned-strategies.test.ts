import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequestInput } from '../../src/core/change/request';
import type {
  CheckWatchInput,
  RollbackInput,
  RolloutPlan,
  RolloutResult,
  WatchInput,
} from '../../src/core/contracts';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange } from '../../src/temporal/start';
import { rollbackSignal, statusQuery } from '../../workflows/messages';
import {
  createFakeActivities,
  watchResult,
  type ChangeActivities,
  type FakeScenario,
} from '../helpers/fakes';
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
        // carol is an incident commander: she may roll back a service no team owns.
        await handle.signal(rollbackSignal, { actor: 'carol', reason: 'login errors after all' });
      },
    );
    assert.equal(status.state, 'rolled-back');
    assert.equal(
      status.outcome,
      'rolled back: rollback requested by carol: login errors after all',
    );
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

/** The fakes with startRollout answering as the canary strategy does. */
function canaryFakes(env: TestWorkflowEnvironment, scenario: FakeScenario = {}): Fakes {
  const fakes = createFakeActivities(env.client, scenario);
  fakes.activities.startRollout = (plan) => {
    fakes.calls.push({ name: 'startRollout', args: [plan] });
    return Promise.resolve({
      strategy: 'canary',
      canaryDeployment: `${plan.deployment}-canary`,
      stableReplicas: 3,
      image: plan.image,
      appliedObjects: [`Deployment/${plan.deployment}-canary`],
      message: `canary ${plan.deployment}-canary created at zero replicas`,
    });
  };
  return fakes;
}

const steps = [
  { setWeight: 10 },
  { pause: '2m' },
  { setWeight: 50 },
  { pause: { duration: '5m' } },
];

function canaryRequest(id: string, service: string) {
  return serviceRequest(id, service, {
    rollout: {
      strategy: 'canary',
      target: { kind: 'Deployment', name: service },
      image: 'registry.example.com/api-gateway:2.6.0-erroring',
      steps,
      timeout: '10m',
    },
  });
}

/** The watch ends with `outcome` on call `failing` (1-based), and passes otherwise. */
function watchFailingAt(failing: number, outcome: 'failed' | 'inconclusive' = 'failed') {
  return (input: WatchInput, call: number) =>
    Promise.resolve(
      call === failing
        ? watchResult(input, outcome, `error-rate ${outcome} once, more than failureLimit 0`)
        : watchResult(input, 'passed'),
    );
}

function kubernetesSteps(fakes: Fakes): string[] {
  return fakes.calls
    .map((c) => c.name)
    .filter((n) =>
      [
        'startRollout',
        'setCanaryWeight',
        'watchMetrics',
        'watchChecks',
        'promoteCanary',
        'rollbackRollout',
        'finalizeRollout',
      ].includes(n),
    );
}

describe('planned change: canary analysis per step', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function runCanary(
    title: string,
    fakes: Fakes,
    request = canaryRequest(uniqueChangeId('CHG'), uniqueService()),
  ) {
    const worker = await changeWorker(env, title, fakes.activities);
    return await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });
  }

  it('analyses each pause for its duration, then promotes and watches', async (t) => {
    const fakes = canaryFakes(env);
    const { status } = await runCanary(t.name, fakes);
    assert.equal(status.state, 'completed', status.outcome);
    assert.deepEqual(kubernetesSteps(fakes), [
      'startRollout',
      'setCanaryWeight',
      'watchMetrics',
      'setCanaryWeight',
      'watchMetrics',
      'promoteCanary',
      'watchMetrics',
      'finalizeRollout',
    ]);
    const windows = fakes
      .called('watchMetrics')
      .map((c) => (c.args[0] as WatchInput).endsAt - (c.args[0] as WatchInput).startedAt);
    assert.deepEqual(windows, [2 * 60_000, 5 * 60_000, 15 * 60_000]);
    assert.deepEqual(status.rollout.canaryStep, { step: 4, of: 4, weight: 50, analysis: 'passed' });
    assertEventsInOrder(status, [
      'canary at 10%',
      'canary analysis step 2/4 at 10%',
      'canary analysis passed',
      'canary at 50%',
      'canary analysis step 4/4 at 50%',
      'canary analysis passed',
      'canary promoted',
      'watch passed',
    ]);
  });

  it('rolls back at the first step when the canary fails its analysis, before any promotion', async (t) => {
    const fakes = canaryFakes(env, { watch: watchFailingAt(1) });
    const { status, log } = await runCanary(t.name, fakes);
    assert.equal(status.state, 'rolled-back');
    assert.match(
      status.outcome ?? '',
      /^rolled back: canary analysis failed at step 2\/4 at 10%: error-rate failed once/,
    );
    assert.deepEqual(kubernetesSteps(fakes).slice(0, 4), [
      'startRollout',
      'setCanaryWeight',
      'watchMetrics',
      'rollbackRollout',
    ]);
    assert.equal(fakes.called('promoteCanary').length, 0);
    assert.equal(fakes.called('setCanaryWeight').length, 1, 'never raised to 50%');
    const rollback = fakes.called('rollbackRollout')[0]?.args[0] as RollbackInput;
    assert.equal(rollback.rollout?.canaryDeployment?.endsWith('-canary'), true);
    assert.deepEqual(status.rollout.canaryStep, { step: 2, of: 4, weight: 10, analysis: 'failed' });
    assert.equal(status.verification.outcome, 'failed');
    assert.match(log.changeLog.verification.results, /^failed: error-rate failed once/);
    assert.ok(!eventsOf(status).includes('state: watching'));
  });

  it('rolls back at a later step, and on an inconclusive step', async (t) => {
    const later = canaryFakes(env, { watch: watchFailingAt(2) });
    const { status } = await runCanary(`${t.name} later`, later);
    assert.equal(status.state, 'rolled-back');
    assert.match(status.outcome ?? '', /canary analysis failed at step 4\/4 at 50%/);
    assert.equal(later.called('setCanaryWeight').length, 2);
    assert.equal(later.called('promoteCanary').length, 0);

    const unsure = canaryFakes(env, { watch: watchFailingAt(1, 'inconclusive') });
    const inconclusive = await runCanary(`${t.name} inconclusive`, unsure);
    assert.equal(inconclusive.status.state, 'rolled-back');
    assert.match(inconclusive.status.outcome ?? '', /canary analysis inconclusive at step 2\/4/);
    assert.equal(unsure.called('promoteCanary').length, 0);
  });

  it('runs the checks on the canary’s pods during a step', async (t) => {
    const fakes = canaryFakes(env);
    const service = uniqueService();
    const request = canaryRequest(uniqueChangeId('CHG'), service);
    request.spec.verification.checks = [{ name: 'pods-ready', podsReady: {} }];
    const { status } = await runCanary(t.name, fakes, request);
    assert.equal(status.state, 'completed', status.outcome);
    const deployments = fakes
      .called('watchChecks')
      .map((c) => (c.args[0] as CheckWatchInput).deployments);
    assert.deepEqual(deployments, [[`${service}-canary`], [`${service}-canary`], [service]]);
  });
});
