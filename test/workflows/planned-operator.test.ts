import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RollbackInput, WatchInput } from '../../src/core/contracts';
import type { ChangeRequestInput } from '../../src/core/change/request';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange } from '../../src/temporal/start';
import {
  cancelSignal,
  extendSignal,
  rollbackSignal,
  statusQuery,
  type LockState,
} from '../../workflows/messages';
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
  createHold,
  eventsOf,
  lockStateOf,
  serviceRequest,
  uniqueService,
  waitForStatus,
  type ChangeHandle,
  type Hold,
} from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
import { UNVERIFIED_NOTE } from '../../workflows/record';

type Fakes = ReturnType<typeof createFakeActivities>;

/** A watch whose first call holds until released (then passes); later calls pass at once. */
function heldWatch(hold: Hold): FakeScenario['watch'] {
  return async (input: WatchInput, call: number) => {
    if (call === 1) await hold.hold();
    return watchResult(input, 'passed');
  };
}

/** The same fakes with one activity held (after it is recorded) until the test lets it go. */
function holding<K extends keyof ChangeActivities>(
  fakes: Fakes,
  name: K,
  hold: Hold,
): ChangeActivities {
  const original = fakes.activities[name] as (...args: unknown[]) => Promise<unknown>;
  const held = async (...args: unknown[]) => {
    const result = original(...args);
    await hold.hold();
    return await result;
  };
  return { ...fakes.activities, [name]: held };
}

describe('planned change: operator messages', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  interface Run {
    id: string;
    service: string;
    log: ChangeLog;
    status: ChangeStatus;
    /** Undefined when the change never asked for the lock. */
    lock?: LockState;
  }

  /**
   * Runs one change to its end; `drive` approves it (or not) and acts on the running change
   * before its result is awaited (and time skips).
   */
  async function runChange(
    title: string,
    activities: ChangeActivities,
    drive: (handle: ChangeHandle) => Promise<void>,
    spec: Partial<ChangeRequestInput['spec']> = {},
  ): Promise<Run> {
    const worker = await changeWorker(env, title, activities);
    const id = uniqueChangeId('CHG');
    const service = uniqueService();
    // Queries of a closed workflow replay it on a worker, so they run while the worker does.
    return await worker.runUntil(async () => {
      const handle = await startChange(env.client, serviceRequest(id, service, spec), {
        taskQueue: worker.options.taskQueue,
      });
      await drive(handle);
      const log = await handle.result();
      const status = await handle.query(statusQuery);
      const asked = status.timeline.some((e) => e.event === 'lock acquired');
      return {
        id,
        service,
        log,
        status,
        ...(asked ? { lock: await lockStateOf(env, service) } : {}),
      };
    });
  }

  /** Approves, then waits until the held step is running in `state`. */
  async function approveAndReach(handle: ChangeHandle, state: string, hold: Hold) {
    await approveAsDaveAndBob(handle);
    await hold.entered;
    return await waitForStatus(handle, (s) => s.state === state, state);
  }

  function kinds(fakes: Fakes): string[] {
    return fakes.notifications.map((n) => n.kind);
  }

  function assertLockReleased(run: Run): void {
    assertEventsInOrder(run.status, ['lock acquired', 'lock released']);
    assert.equal(run.lock?.holder, undefined);
    assert.deepEqual(run.lock?.queue, []);
  }

  it('rolls back and restores the backup when an operator asks during the watch', async (t) => {
    const hold = createHold();
    const fakes = createFakeActivities(env.client, { watch: heldWatch(hold) });
    const run = await runChange(t.name, fakes.activities, async (handle) => {
      await approveAndReach(handle, 'watching', hold);
      await handle.signal(rollbackSignal, {
        actor: 'bob',
        reason: 'p99 latency climbing',
        restoreBackup: true,
      });
    });
    const { status, log } = run;
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.outcome, 'rolled back: rollback requested by bob: p99 latency climbing');
    assert.equal(log.changeLog.change.result, status.outcome);
    const rollback = fakes.called('rollbackRollout')[0]?.args[0] as RollbackInput;
    assert.equal(rollback.rollout?.revision, 5);
    assert.equal(rollback.reason, 'rollback requested by bob: p99 latency climbing');
    const backupName = `changectl-${run.id.toLowerCase()}`;
    assert.deepEqual(
      fakes.called('restoreBackup').map((c) => c.args[0]),
      [{ changeId: run.id, backupName }],
    );
    assert.deepEqual(status.backup.restore, {
      name: `${backupName}-restore`,
      phase: 'Completed',
      backupName,
    });
    assert.equal(fakes.called('finalizeRollout').length, 0);
    // A watch cut short gave no verdict: the ended change must not read as still watching.
    assert.equal(status.verification.outcome, 'inconclusive');
    assert.equal(
      status.verification.summary,
      'watch stopped early: rollback requested by bob: p99 latency climbing',
    );
    assert.match(log.changeLog.verification.results, /^inconclusive: watch stopped early: /);
    // The held watch, then the check after the rollback and restore.
    assert.equal(fakes.called('watchMetrics').length, 2);
    const requested = status.timeline.find((e) => e.event === 'rollback requested');
    assert.equal(requested?.actor, 'bob');
    assert.equal(requested?.detail, 'p99 latency climbing (with backup restore)');
    assertEventsInOrder(status, [
      'state: watching',
      'rollback requested',
      'rolling back',
      'rolled back',
      'backup restored',
      'after rollback: passed',
      'state: rolled-back',
    ]);
    assert.deepEqual(kinds(fakes), ['approval-requested', 'deploying', 'rolled-back']);
    assert.match(
      fakes.notifications[2]?.text ?? '',
      /\nReason: rollback requested by bob: p99 latency climbing\n/,
    );
    assertLockReleased(run);
  });

  it('watches longer when an operator extends the watch', async (t) => {
    const hold = createHold();
    const fakes = createFakeActivities(env.client, { watch: heldWatch(hold) });
    let endsBefore = '';
    let endsAfter = '';
    const run = await runChange(t.name, fakes.activities, async (handle) => {
      const watching = await approveAndReach(handle, 'watching', hold);
      endsBefore = watching.verification.watchEndsAt ?? '';
      await handle.signal(extendSignal, { actor: 'bob', duration: '10m' });
      const extended = await waitForStatus(
        handle,
        (s) => s.verification.watchEndsAt !== endsBefore,
        'the watch to be extended',
      );
      endsAfter = extended.verification.watchEndsAt ?? '';
      hold.release();
    });
    const { status } = run;
    assert.equal(status.state, 'completed');
    assert.equal(Date.parse(endsAfter) - Date.parse(endsBefore), 10 * 60_000);
    assert.equal(status.verification.watchEndsAt, endsAfter);
    // The first segment ended where the watch ended then; a second one watched the extra 10m,
    // on the same clock and from the state the first one reached.
    const [first, second, ...rest] = fakes
      .called('watchMetrics')
      .map((c) => c.args[0] as WatchInput);
    assert.deepEqual(rest, []);
    assert.equal(first?.endsAt, Date.parse(endsBefore));
    assert.equal(second?.endsAt, Date.parse(endsAfter));
    assert.equal(second?.startedAt, first?.startedAt);
    assert.equal(second?.state?.measurementsTaken, 1);
    assert.equal(fakes.called('finalizeRollout').length, 1);
    assert.equal(fakes.called('rollbackRollout').length, 0);
    const extended = status.timeline.find((e) => e.event === 'watch extended');
    assert.equal(extended?.actor, 'bob');
    assert.equal(extended?.detail, 'by 10m');
    assert.deepEqual(kinds(fakes), ['approval-requested', 'deploying', 'complete']);
    assertLockReleased(run);
  });

  describe('cancel', () => {
    const reason = 'superseded by a later change';

    function assertCancelledCleanly(run: Run, fakes: Fakes, by: string): void {
      const { status, log } = run;
      assert.equal(status.state, 'cancelled');
      assert.equal(status.outcome, `cancelled by ${by}: ${reason}`);
      assert.equal(log.changeLog.state, 'cancelled');
      for (const step of ['startRollout', 'rollbackRollout', 'finalizeRollout', 'watchMetrics']) {
        assert.equal(fakes.called(step).length, 0, `${step} must not run`);
      }
      assert.equal(status.rollout.rollback, undefined);
      const requested = status.timeline.find((e) => e.event === 'cancel requested');
      assert.equal(requested?.actor, by);
      assert.equal(requested?.detail, reason);
      const last = fakes.notifications.at(-1);
      assert.equal(last?.kind, 'cancelled');
      assert.equal(
        last?.text,
        // The test policy trusts stated names, so every notification says so.
        `⏹️ CANCELLED: ${run.id} Upgrade api-gateway to v2.5.0\nReason: cancelled by ${by}: ${reason}\n${UNVERIFIED_NOTE}`,
      );
    }

    it('ends a change awaiting approval, before anything is checked', async (t) => {
      const fakes = createFakeActivities(env.client);
      const run = await runChange(t.name, fakes.activities, async (handle) => {
        await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 'awaiting-approval');
        await handle.signal(rollbackSignal, { actor: 'bob', reason: 'wrong image' });
        await handle.signal(cancelSignal, { actor: 'alice', reason });
      });
      assertCancelledCleanly(run, fakes, 'alice');
      // Nothing to roll back yet: the rollback is refused with what to do instead.
      const ignored = run.status.timeline.find((e) => e.event === 'rollback ignored');
      assert.equal(ignored?.actor, 'bob');
      assert.equal(
        ignored?.detail,
        'nothing rolled out yet (awaiting-approval); cancel the change instead',
      );
      assert.deepEqual(
        fakes.calls.map((c) => c.name).filter((n) => n !== 'notify'),
        ['loadPolicy'],
      );
      assert.deepEqual(kinds(fakes), ['approval-requested', 'cancelled']);
      assert.equal(run.lock, undefined, 'the lock was never asked for');
    });

    it('ends a scheduled change waiting for its window, before it takes the lock', async (t) => {
      const fakes = createFakeActivities(env.client);
      const notBefore = new Date((await env.currentTimeMs()) + 6 * 3_600_000).toISOString();
      let scheduled: ChangeStatus | undefined;
      const run = await runChange(
        t.name,
        fakes.activities,
        async (handle) => {
          await approveAsDaveAndBob(handle);
          scheduled = await waitForStatus(
            handle,
            (s) => s.state === 'scheduled' && s.window.waitingFor !== undefined,
            'waiting for the window',
          );
          await handle.signal(cancelSignal, { actor: 'dave', reason });
        },
        { window: { notBefore } },
      );
      assert.equal(scheduled?.window.scheduledFor, notBefore);
      assert.match(scheduled?.window.waitingFor ?? '', new RegExp(`^waiting until ${notBefore}`));
      assertCancelledCleanly(run, fakes, 'dave');
      assert.deepEqual(
        fakes.calls.map((c) => c.name).filter((n) => n !== 'notify'),
        ['loadPolicy'],
      );
      assert.deepEqual(kinds(fakes), ['approval-requested', 'scheduled', 'cancelled']);
      assert.equal(fakes.notifications[1]?.text.startsWith(`📅 SCHEDULED: ${run.id}`), true);
      // Cancelled long before the window opened: no timer had to fire.
      assert.ok(Date.parse(run.status.endedAt ?? '') < Date.parse(notBefore));
      assert.equal(run.lock, undefined, 'the lock was never asked for');
    });

    it('ends a change in pre-flight, with nothing changed', async (t) => {
      const hold = createHold();
      const fakes = createFakeActivities(env.client);
      const run = await runChange(
        t.name,
        holding(fakes, 'checkRollbackReadiness', hold),
        async (handle) => {
          await approveAndReach(handle, 'preflight', hold);
          await handle.signal(cancelSignal, { actor: 'alice', reason });
        },
      );
      assertCancelledCleanly(run, fakes, 'alice');
      assert.equal(fakes.called('firingAlerts').length, 0, 'pre-flight stopped where it was');
      assert.equal(fakes.called('createBackup').length, 0);
      assert.deepEqual(run.status.preflight.checks, []);
      assert.deepEqual(kinds(fakes), ['approval-requested', 'cancelled']);
      assertLockReleased(run);
    });

    it('ends a change while it backs up, with nothing rolled out', async (t) => {
      const hold = createHold();
      const fakes = createFakeActivities(env.client);
      const run = await runChange(t.name, holding(fakes, 'createBackup', hold), async (handle) => {
        await approveAndReach(handle, 'backing-up', hold);
        await handle.signal(cancelSignal, { actor: 'alice', reason });
      });
      assertCancelledCleanly(run, fakes, 'alice');
      assert.equal(fakes.called('createBackup').length, 1);
      assert.equal(run.status.backup.name, undefined);
      assert.ok(!eventsOf(run.status).includes('backup failed'));
      assert.deepEqual(kinds(fakes), ['approval-requested', 'cancelled']);
      assertLockReleased(run);
    });

    function assertRolledBackThenCancelled(run: Run, fakes: Fakes): RollbackInput {
      const { status } = run;
      assert.equal(status.state, 'cancelled');
      assert.equal(status.outcome, `cancelled by bob: ${reason}; rolled back`);
      assert.equal(run.log.changeLog.state, 'cancelled');
      const rollbacks = fakes.called('rollbackRollout');
      assert.equal(rollbacks.length, 1);
      const rollback = rollbacks[0]?.args[0] as RollbackInput;
      assert.equal(rollback.reason, `cancelled by bob: ${reason}`);
      assert.equal(status.rollout.rollback?.reason, `cancelled by bob: ${reason}`);
      assert.equal(fakes.called('finalizeRollout').length, 0);
      assert.equal(fakes.called('restoreBackup').length, 0);
      assertEventsInOrder(status, [
        'cancel requested',
        'rolling back',
        'rolled back',
        'after rollback: passed',
        'state: cancelled',
      ]);
      assert.deepEqual(kinds(fakes), ['approval-requested', 'deploying', 'cancelled']);
      assert.match(
        fakes.notifications[2]?.text ?? '',
        new RegExp(
          `^⚠️ ROLLED BACK: ${run.service} v2.5.0 → v2.4.3 \\(${run.id}\\)\nReason: cancelled by bob: ${reason}\n`,
        ),
      );
      assertLockReleased(run);
      return rollback;
    }

    it('rolls back a change that is rolling out, then ends it cancelled', async (t) => {
      const hold = createHold();
      const fakes = createFakeActivities(env.client);
      const run = await runChange(t.name, holding(fakes, 'startRollout', hold), async (handle) => {
        await approveAndReach(handle, 'rolling-out', hold);
        await handle.signal(cancelSignal, { actor: 'bob', reason });
      });
      const rollback = assertRolledBackThenCancelled(run, fakes);
      assert.equal(rollback.rollout, undefined, 'the interrupted rollout never reported');
      assert.equal(rollback.before.revision, 4);
      assert.ok(!eventsOf(run.status).includes('state: watching'));
      // Only the check after the rollback watched the service.
      assert.equal(fakes.called('watchMetrics').length, 1);
    });

    it('rolls back a change that is being watched, then ends it cancelled', async (t) => {
      const hold = createHold();
      const fakes = createFakeActivities(env.client, { watch: heldWatch(hold) });
      const run = await runChange(t.name, fakes.activities, async (handle) => {
        await approveAndReach(handle, 'watching', hold);
        await handle.signal(cancelSignal, { actor: 'bob', reason });
      });
      const rollback = assertRolledBackThenCancelled(run, fakes);
      assert.equal(rollback.rollout?.revision, 5, 'the rollback knows what it undoes');
      assert.equal(fakes.called('watchMetrics').length, 2);
      assert.equal(run.status.verification.outcome, 'inconclusive');
      assert.equal(
        run.status.verification.summary,
        `watch stopped early: cancelled by bob: ${reason}`,
      );
    });
  });
});
