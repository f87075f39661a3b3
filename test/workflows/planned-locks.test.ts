import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequestInput } from '../../src/core/change/request';
import { FailureType } from '../../src/core/errors';
import type { ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange, type ChangeWorkflow } from '../../src/temporal/start';
import {
  cancelSignal,
  lockStateQuery,
  releaseLockSignal,
  rejectSignal,
  statusQuery,
  type LockState,
} from '../../workflows/messages';
import {
  createFakeActivities,
  testPolicy,
  testRequest,
  watchResult,
  type ActivityCall,
  type ChangeActivities,
} from '../helpers/fakes';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
// uniqueService: lock workflows outlive a test on the shared server.
import {
  changeWorker,
  eventsOf,
  uniqueService,
  waitForStatus as pollStatus,
  waitUntil,
} from '../helpers/planned-run';

type Handle = WorkflowHandle<ChangeWorkflow>;

/**
 * A change to `service` in staging: standard ones are pre-approved by the test policy and go
 * straight for the lock; normal ones wait for one approver.
 */
function changeTo(
  id: string,
  service: string,
  type: ChangeRequestInput['spec']['type'] = 'standard',
) {
  return testRequest(id, {
    type,
    ...(type === 'standard' ? { standard: 'image-bump' } : {}),
    environment: 'staging',
    namespace: 'staging',
    services: [service],
    rollout: {
      strategy: 'rolling',
      target: { kind: 'Deployment', name: service },
      image: `registry.example.com/${service}:2.5.0`,
      timeout: '10m',
    },
  });
}

/** Polls the status query for up to 10 s. */
const waitForStatus = (handle: Handle, ready: (s: ChangeStatus) => boolean, what: string) =>
  pollStatus(handle, ready, what, 10000);

/** A promise a test resolves when it wants a fake to go on. */
function gate(): { passed: Promise<void>; open: () => void } {
  let open = () => {};
  const passed = new Promise<void>((resolve) => (open = resolve));
  return { passed, open };
}

/** Whether an activity call belongs to change `id` (by its change id or workflow id). */
function isFor(call: ActivityCall, id: string): boolean {
  return new RegExp(`("changeId":"|"workflowId":"change-)${id}"`).test(JSON.stringify(call.args));
}

describe('planned change: one change at a time per service', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function withWorker<T>(
    title: string,
    activities: ChangeActivities,
    body: (taskQueue: string) => Promise<T>,
  ): Promise<T> {
    const worker = await changeWorker(env, title, activities);
    return await worker.runUntil(() => body(worker.options.taskQueue));
  }

  const lockOf = (service: string) => env.client.workflow.getHandle(`lock-staging-${service}`);

  /** Polls the lock until `ready` holds (the lock takes requests and releases as signals). */
  async function waitForLock(
    service: string,
    ready: (s: LockState) => boolean,
    what: string,
  ): Promise<LockState> {
    return await waitUntil(
      () => lockOf(service).query(lockStateQuery),
      ready,
      (last) => `lock: ${what} never happened; last ${JSON.stringify(last)}`,
      10_000,
    );
  }

  const lockIsFree = (service: string) =>
    waitForLock(service, (s) => s.holder === undefined && s.queue.length === 0, 'free');

  it('gives (prod-eu, svc) and (prod, eu-svc) locks of their own: neither waits for the other', async (t) => {
    const service = uniqueService();
    const policy = testPolicy({
      spec: {
        environments: {
          'prod-eu': { namespaces: ['prod-eu'] },
          prod: { namespaces: ['prod'] },
        },
        approvals: {
          expiry: '72h',
          environments: { '*': { minApprovers: 1 } },
          services: {},
          standardPreApproved: ['*'],
        },
      },
    });
    const first = uniqueChangeId('EU');
    const firstWatch = gate();
    const fakes = createFakeActivities(env.client, {
      policy,
      watch: async (input) => {
        if (input.changeId === first) await firstWatch.passed;
        return watchResult(input, 'passed');
      },
    });
    const request = (id: string, environment: string, name: string) =>
      testRequest(id, {
        type: 'standard',
        standard: 'image-bump',
        environment,
        namespace: environment,
        services: [name],
        rollout: {
          strategy: 'rolling',
          target: { kind: 'Deployment', name },
          image: `registry.example.com/${name}:2.5.0`,
          timeout: '10m',
        },
      });
    const logs = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      // The gate opens whatever happens: a held watch would keep the worker from shutting down.
      try {
        const a = await startChange(env.client, request(first, 'prod-eu', service), {
          taskQueue,
        });
        await waitForStatus(a, (s) => s.state === 'watching', 'the prod-eu change watching');
        const b = await startChange(
          env.client,
          request(uniqueChangeId('PROD'), 'prod', `eu-${service}`),
          { taskQueue },
        );
        // On one shared lock the second change would queue behind the first, for good.
        await waitForStatus(
          b,
          (s) => eventsOf(s).includes('lock acquired'),
          'the prod change holding its lock while the prod-eu change holds its own',
        );
        firstWatch.open();
        return [await a.result(), await b.result()];
      } finally {
        firstWatch.open();
      }
    });
    assert.deepEqual(
      logs.map((l) => l.changeLog.state),
      ['completed', 'completed'],
    );
  });

  it('keeps the holder when a release is sent by hand without its token', async (t) => {
    const service = uniqueService();
    const first = uniqueChangeId('HELD');
    const second = uniqueChangeId('NEXT');
    const firstWatch = gate();
    const fakes = createFakeActivities(env.client, {
      watch: async (input) => {
        if (input.changeId === first) await firstWatch.passed;
        return watchResult(input, 'passed');
      },
    });
    const held = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      try {
        return await forgeRelease(taskQueue);
      } finally {
        firstWatch.open();
      }
    });
    async function forgeRelease(taskQueue: string) {
      const a = await startChange(env.client, changeTo(first, service), { taskQueue });
      await waitForStatus(a, (s) => s.state === 'watching', 'first change watching');
      const b = await startChange(env.client, changeTo(second, service), { taskQueue });
      await waitForLock(service, (s) => s.queue.some((q) => q.changeId === second), 'queued');
      // Naming the holder is not enough: without its token the release frees nothing.
      await lockOf(service).signal(releaseLockSignal, {
        lockId: `staging/${service}`,
        workflowId: a.workflowId,
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const state = await lockOf(service).query(lockStateQuery);
      firstWatch.open();
      await a.result();
      await b.result();
      return state;
    }
    assert.equal(held.holder?.changeId, first, 'the forged release left the holder in place');
    assert.ok(
      held.queue.some((q) => q.changeId === second),
      'the next change still queued',
    );
  });

  it('makes the second change on a service wait until the first has finished', async (t) => {
    const service = uniqueService();
    const first = uniqueChangeId('FIRST');
    const second = uniqueChangeId('SECOND');
    const firstWatch = gate();
    const fakes = createFakeActivities(env.client, {
      watch: async (input) => {
        if (input.changeId === first) await firstWatch.passed;
        return watchResult(input, 'passed');
      },
    });
    const seen = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const a = await startChange(env.client, changeTo(first, service), { taskQueue });
      await waitForStatus(a, (s) => s.state === 'watching', 'first change watching');
      const b = await startChange(env.client, changeTo(second, service), { taskQueue });
      const queued = await waitForLock(
        service,
        (s) => s.queue.some((q) => q.changeId === second),
        'second change queued',
      );
      const waiting = await b.query(statusQuery);
      const firstMeanwhile = await a.query(statusQuery);
      const secondCallsWhileQueued = fakes.calls.filter((c) => isFor(c, second)).map((c) => c.name);
      firstWatch.open();
      const logs = [await a.result(), await b.result()];
      return {
        queued,
        waiting,
        firstMeanwhile,
        secondCallsWhileQueued,
        logs,
        after: await lockIsFree(service),
      };
    });

    assert.equal(seen.queued.lockId, `staging/${service}`);
    assert.equal(seen.queued.holder?.changeId, first);
    assert.deepEqual(
      seen.queued.queue.map((q) => q.changeId),
      [second],
    );
    assert.equal(seen.firstMeanwhile.state, 'watching');
    assert.equal(seen.waiting.state, 'scheduled');
    assert.equal(
      seen.waiting.window.waitingFor,
      `waiting for the lock on staging/${service} (one change at a time per service)`,
    );
    // Queued, the second change has asked for the lock and done nothing else.
    assert.deepEqual(
      seen.secondCallsWhileQueued.filter((n) => n !== 'notify'),
      ['requestServiceLock'],
    );

    assert.deepEqual(
      seen.logs.map((l) => l.changeLog.state),
      ['completed', 'completed'],
    );
    const index = (name: string, id: string) =>
      fakes.calls.findIndex((c) => c.name === name && isFor(c, id));
    const firstReleased = index('releaseServiceLock', first);
    assert.ok(index('finalizeRollout', first) < firstReleased);
    assert.ok(firstReleased < index('checkRollbackReadiness', second));
    assert.ok(firstReleased < index('startRollout', second));
    const [firstLog, secondLog] = seen.logs;
    const at = (log: typeof firstLog, event: string) =>
      Date.parse(log?.changeLog.timeline.find((e) => e.event === event)?.at ?? '');
    assert.ok(at(secondLog, 'lock acquired') >= at(firstLog, 'lock released'));
    assert.equal(
      secondLog?.changeLog.timeline.find((e) => e.event === 'lock released')?.detail,
      `staging/${service}`,
    );
    assert.equal(seen.after.holder, undefined);
  });

  it('never lets a rejected change hold the lock, and frees it after a failure or a rollback', async (t) => {
    const service = uniqueService();
    const rejected = uniqueChangeId('REJ');
    const failed = uniqueChangeId('FAIL');
    const rolledBack = uniqueChangeId('RBK');
    const fakes = createFakeActivities(env.client);
    const activities: ChangeActivities = {
      ...fakes.activities,
      async checkRollbackReadiness(target) {
        const ready = await fakes.activities.checkRollbackReadiness(target);
        if (target.changeId === failed)
          throw ApplicationFailure.nonRetryable(
            `deployment ${target.deployment} has no previous revision`,
            FailureType.RollbackNotReady,
          );
        return ready;
      },
      async startRollout(plan) {
        const result = await fakes.activities.startRollout(plan);
        if (plan.changeId === rolledBack)
          throw ApplicationFailure.nonRetryable(
            'progress deadline exceeded',
            FailureType.RolloutFailed,
          );
        return result;
      },
    };
    const seen = await withWorker(t.name, activities, async (taskQueue) => {
      const r = await startChange(env.client, changeTo(rejected, service, 'normal'), {
        taskQueue,
      });
      await waitForStatus(r, (s) => s.state === 'awaiting-approval', 'awaiting approval');
      await r.signal(rejectSignal, { actor: 'bob', reason: 'not this week' });
      const rejectedLog = await r.result();

      const f = await startChange(env.client, changeTo(failed, service), { taskQueue });
      const failedLog = await f.result();
      const afterFailure = await lockIsFree(service);

      const rb = await startChange(env.client, changeTo(rolledBack, service), { taskQueue });
      const rolledBackLog = await rb.result();
      const afterRollback = await lockIsFree(service);
      return { rejectedLog, failedLog, afterFailure, rolledBackLog, afterRollback };
    });

    assert.equal(seen.rejectedLog.changeLog.state, 'rejected');
    assert.equal(
      fakes.calls.filter((c) => isFor(c, rejected) && c.name.endsWith('ServiceLock')).length,
      0,
    );

    assert.equal(seen.failedLog.changeLog.state, 'failed');
    assert.match(seen.failedLog.changeLog.change.result, /pre-flight failed: rollback ready/);
    const lockCalls = (id: string) =>
      fakes.calls.filter((c) => isFor(c, id) && c.name.endsWith('ServiceLock')).map((c) => c.name);
    assert.deepEqual(lockCalls(failed), ['requestServiceLock', 'releaseServiceLock']);
    assert.equal(
      fakes.calls.filter((c) => isFor(c, failed) && c.name === 'startRollout').length,
      0,
    );
    const released = (log: typeof seen.failedLog) =>
      log.changeLog.timeline.filter((e) => e.event === 'lock released').map((e) => e.detail);
    assert.deepEqual(released(seen.failedLog), [`staging/${service}`]);

    assert.equal(seen.rolledBackLog.changeLog.state, 'rolled-back');
    assert.deepEqual(lockCalls(rolledBack), ['requestServiceLock', 'releaseServiceLock']);
    assert.deepEqual(released(seen.rolledBackLog), [`staging/${service}`]);
    // The release comes after the rollback, so nobody else rolls out over it.
    const index = (name: string) =>
      fakes.calls.findIndex((c) => c.name === name && isFor(c, rolledBack));
    assert.ok(index('rollbackRollout') < index('releaseServiceLock'));

    assert.equal(seen.afterFailure.holder, undefined);
    assert.equal(seen.afterRollback.holder, undefined);
  });

  it('drops a change cancelled in the queue, and a completed change frees the lock', async (t) => {
    const service = uniqueService();
    const holder = uniqueChangeId('HOLD');
    const cancelled = uniqueChangeId('CNCL');
    const later = uniqueChangeId('LATER');
    const holderWatch = gate();
    const fakes = createFakeActivities(env.client, {
      watch: async (input) => {
        if (input.changeId === holder) await holderWatch.passed;
        return watchResult(input, 'passed');
      },
    });
    const seen = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const h = await startChange(env.client, changeTo(holder, service), { taskQueue });
      await waitForStatus(h, (s) => s.state === 'watching', 'holder watching');
      const c = await startChange(env.client, changeTo(cancelled, service), { taskQueue });
      await waitForLock(service, (s) => s.queue.some((q) => q.changeId === cancelled), 'queued');
      await c.signal(cancelSignal, { actor: 'alice', reason: 'superseded by CHG-9' });
      const cancelledLog = await c.result();
      const afterCancel = await waitForLock(service, (s) => s.queue.length === 0, 'queue empty');

      holderWatch.open();
      const holderLog = await h.result();
      const afterHolder = await lockIsFree(service);

      const l = await startChange(env.client, changeTo(later, service), { taskQueue });
      const laterLog = await l.result();
      return {
        cancelledLog,
        afterCancel,
        holderLog,
        afterHolder,
        laterLog,
        end: await lockIsFree(service),
      };
    });

    assert.equal(seen.cancelledLog.changeLog.state, 'cancelled');
    assert.equal(
      seen.cancelledLog.changeLog.change.result,
      'cancelled by alice: superseded by CHG-9',
    );
    const cancelEntry = seen.cancelledLog.changeLog.timeline.find(
      (e) => e.event === 'cancel requested',
    );
    assert.equal(cancelEntry?.actor, 'alice');
    assert.equal(seen.afterCancel.holder?.changeId, holder);
    const cancelledCalls = fakes.calls.filter((c) => isFor(c, cancelled)).map((c) => c.name);
    assert.deepEqual(
      cancelledCalls.filter((n) => n !== 'notify'),
      ['requestServiceLock', 'releaseServiceLock'],
    );
    assert.ok(!seen.cancelledLog.changeLog.timeline.some((e) => e.event === 'lock acquired'));

    assert.equal(seen.holderLog.changeLog.state, 'completed');
    assert.equal(seen.afterHolder.holder, undefined);
    assert.equal(seen.laterLog.changeLog.state, 'completed');
    assert.ok(seen.laterLog.changeLog.timeline.some((e) => e.event === 'lock acquired'));
    assert.equal(seen.end.holder, undefined);
  });
  it('gives the lock back when its window closed while it queued, and takes the next window', async (t) => {
    const HOUR_MS = 3_600_000;
    const service = uniqueService();
    const first = uniqueChangeId('FIRST');
    const second = uniqueChangeId('SECOND');
    const now = await env.currentTimeMs();
    const hour = now - (now % HOUR_MS);
    const iso = (ms: number) => new Date(ms).toISOString();
    // Open now for 2h; the first change holds the lock for 3h waiting on a decision nobody makes.
    const fakes = createFakeActivities(env.client, {
      policy: testPolicy({
        spec: {
          windows: [
            {
              name: 'daytime',
              kind: 'allow',
              schedule: `0 ${new Date(hour).getUTCHours()} * * *`,
              duration: '2h',
              timeZone: 'UTC',
            },
          ],
          verification: { onInconclusive: 'hold', holdTimeout: '3h' },
        },
      }),
      watch: (input) =>
        Promise.resolve(watchResult(input, input.changeId === first ? 'inconclusive' : 'passed')),
    });
    const seen = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const a = await startChange(env.client, changeTo(first, service), { taskQueue });
      await waitForStatus(
        a,
        (s) => s.verification.awaitingDecisionUntil !== undefined,
        'first change holding for a decision',
      );
      const b = await startChange(env.client, changeTo(second, service), { taskQueue });
      await waitForLock(service, (s) => s.queue.some((q) => q.changeId === second), 'queued');
      return { firstLog: await a.result(), secondLog: await b.result() };
    });

    assert.equal(seen.firstLog.changeLog.state, 'rolled-back');
    const firstReleased = Date.parse(
      seen.firstLog.changeLog.timeline.find((e) => e.event === 'lock released')?.at ?? '',
    );
    assert.ok(firstReleased >= hour + 2 * HOUR_MS, 'the first change gave the lock back early');

    const log = seen.secondLog;
    console.log(
      iso(now),
      JSON.stringify(seen.firstLog.changeLog.timeline, null, 1),
      JSON.stringify(log.changeLog.timeline, null, 1),
    );
    assert.equal(log.changeLog.state, 'completed');
    const events = log.changeLog.timeline;
    const closed = events.find((e) => e.event === 'window closed while waiting for the lock');
    assert.equal(closed?.actor, 'policy');
    assert.equal(events.filter((e) => e.event === 'lock acquired').length, 2);
    assert.equal(events.filter((e) => e.event === 'lock released').length, 2);
    const lockCalls = fakes.calls
      .filter((c) => isFor(c, second) && c.name.endsWith('ServiceLock'))
      .map((c) => c.name);
    assert.deepEqual(lockCalls, [
      'requestServiceLock',
      'releaseServiceLock',
      'requestServiceLock',
      'releaseServiceLock',
    ]);
    const nextDay = hour + 24 * HOUR_MS;
    const waits = events.filter((e) => e.event === 'scheduled');
    assert.equal(waits.length, 1);
    assert.equal(waits[0]?.actor, 'policy');
    assert.match(
      waits[0]?.detail ?? '',
      new RegExp(`^waiting until ${iso(nextDay)}: outside allow window 'daytime'`),
    );
    const rollingOut = Date.parse(events.find((e) => e.event === 'state: rolling-out')?.at ?? '');
    assert.ok(rollingOut >= nextDay, `rolled out at ${iso(rollingOut)}, outside the window`);
    assert.ok(rollingOut < nextDay + 2 * HOUR_MS);
    assert.match(log.changeLog.verification.tests, /passed: inside the window/);
  });
});
