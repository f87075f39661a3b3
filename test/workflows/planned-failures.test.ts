import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RollbackInput, WatchInput } from '../../src/core/contracts';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange } from '../../src/temporal/start';
import { decideSignal, statusQuery, type LockState } from '../../workflows/messages';
import { createFakeActivities, testPolicy, watchResult, type FakeScenario } from '../helpers/fakes';
import {
  approveAsDaveAndBob,
  assertEventsInOrder,
  changeWorker,
  eventsOf,
  lockStateOf,
  serviceRequest,
  uniqueService,
  waitForStatus,
  type ChangeHandle,
} from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
import { UNVERIFIED_NOTE } from '../../workflows/record';

/** The calls that change something or observe the service, in order (not notify or the lock). */
function stepsOf(fakes: ReturnType<typeof createFakeActivities>): string[] {
  return fakes.calls
    .map((c) => c.name)
    .filter((n) => !['notify', 'requestServiceLock', 'releaseServiceLock'].includes(n));
}

/** A watch that ends with `first`, and whose later calls (the check after a rollback) pass. */
function watchThen(first: 'failed' | 'inconclusive'): FakeScenario['watch'] {
  return (input: WatchInput, call: number) =>
    Promise.resolve(watchResult(input, call === 1 ? first : 'passed'));
}

describe('planned change: failures and rollbacks', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /**
   * Runs one approved change to its end under a scenario; `meanwhile` acts on the running
   * change before its result is awaited (and time skips).
   */
  async function runApprovedChange(
    title: string,
    scenario: FakeScenario,
    meanwhile?: (handle: ChangeHandle) => Promise<void>,
  ): Promise<{
    id: string;
    service: string;
    fakes: ReturnType<typeof createFakeActivities>;
    log: ChangeLog;
    status: ChangeStatus;
    lock: LockState;
  }> {
    const fakes = createFakeActivities(env.client, scenario);
    const worker = await changeWorker(env, title, fakes.activities);
    const id = uniqueChangeId('CHG');
    const service = uniqueService();
    // Queries of a closed workflow replay it on a worker, so they run while the worker does.
    return await worker.runUntil(async () => {
      const handle = await startChange(env.client, serviceRequest(id, service), {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      await meanwhile?.(handle);
      const log = await handle.result();
      return {
        id,
        service,
        fakes,
        log,
        status: await handle.query(statusQuery),
        lock: await lockStateOf(env, service),
      };
    });
  }

  function assertNothingChanged(
    run: Awaited<ReturnType<typeof runApprovedChange>>,
    outcome: RegExp,
  ): void {
    const { fakes, log, status, lock } = run;
    assert.equal(status.state, 'failed');
    assert.match(status.outcome ?? '', outcome);
    assert.match(status.outcome ?? '', /nothing was changed$/);
    assert.equal(log.changeLog.state, 'failed');
    assert.equal(log.changeLog.change.result, status.outcome);
    for (const step of ['startRollout', 'rollbackRollout', 'finalizeRollout', 'watchMetrics']) {
      assert.equal(fakes.called(step).length, 0, `${step} must not run`);
    }
    assert.equal(status.rollout.result, undefined);
    assert.equal(status.verification.outcome, 'not-run');
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'failed'],
    );
    assert.equal(
      fakes.notifications[1]?.text,
      // The test policy trusts stated names, so every notification says so.
      `❌ FAILED: ${run.id} Upgrade api-gateway to v2.5.0\nReason: ${status.outcome}\n${UNVERIFIED_NOTE}`,
    );
    const events = eventsOf(status);
    assert.ok(events.includes('lock acquired'), events.join(', '));
    assert.ok(events.includes('lock released'), events.join(', '));
    assert.equal(fakes.called('releaseServiceLock').length, 1);
    assert.equal(lock.holder, undefined);
    assert.deepEqual(lock.queue, []);
  }

  it('fails in pre-flight when the deployment cannot be rolled back, before any backup', async (t) => {
    const run = await runApprovedChange(t.name, {
      readinessFails: 'deployment has no previous revision to roll back to',
    });
    assertNothingChanged(
      run,
      /^pre-flight failed: rollback ready: deployment has no previous revision to roll back to;/,
    );
    assert.deepEqual(stepsOf(run.fakes), ['loadPolicy', 'checkRollbackReadiness']);
    assert.deepEqual(run.status.preflight.checks, [
      {
        name: 'rollback ready',
        ok: false,
        detail: 'deployment has no previous revision to roll back to',
      },
    ]);
    assert.equal(run.status.backup.name, undefined);
    assert.ok(eventsOf(run.status).includes('pre-flight: rollback ready failed'));
  });

  it('fails in pre-flight while alerts are firing, before any backup', async (t) => {
    const run = await runApprovedChange(t.name, {
      alertsFiring: ['HighErrorRate', 'PodCrashLooping'],
    });
    assertNothingChanged(run, /^pre-flight failed: alerts firing: HighErrorRate, PodCrashLooping;/);
    assert.deepEqual(stepsOf(run.fakes), ['loadPolicy', 'checkRollbackReadiness', 'firingAlerts']);
    assert.deepEqual(
      run.status.preflight.checks.map((c) => [c.name, c.ok, c.detail]),
      [
        ['rollback ready', true, run.status.preflight.checks[0]?.detail],
        ['no firing alerts', false, '2 firing: HighErrorRate, PodCrashLooping'],
      ],
    );
    assert.equal(run.status.backup.name, undefined);
    assert.match(
      run.log.changeLog.verification.issues,
      /no firing alerts: 2 firing: HighErrorRate, PodCrashLooping/,
    );
  });

  it('fails in pre-flight when the server rejects the dry run, before any backup', async (t) => {
    const run = await runApprovedChange(t.name, {
      dryRunFails: 'admission webhook denied the request: image not signed',
    });
    assertNothingChanged(
      run,
      /^pre-flight failed: server-side dry run: admission webhook denied the request: image not signed;/,
    );
    assert.deepEqual(stepsOf(run.fakes), [
      'loadPolicy',
      'checkRollbackReadiness',
      'firingAlerts',
      'validateQueries',
      'captureBaseline',
      'dryRunRollout',
    ]);
    assert.deepEqual(
      run.status.preflight.checks.map((c) => [c.name, c.ok]),
      [
        ['rollback ready', true],
        ['no firing alerts', true],
        ['queries valid', true],
        ['baseline captured', true],
        ['server-side dry run', false],
      ],
    );
    assert.equal(run.status.backup.name, undefined);
    assert.ok(!eventsOf(run.status).includes('pre-flight passed'));
  });

  it('fails when the backup fails, before anything rolls out', async (t) => {
    const run = await runApprovedChange(t.name, {
      backupFails: 'backup changectl-x ended PartiallyFailed: volume snapshot failed',
    });
    assertNothingChanged(
      run,
      /^backup failed: backup changectl-x ended PartiallyFailed: volume snapshot failed;/,
    );
    assert.deepEqual(stepsOf(run.fakes).slice(-2), ['dryRunRollout', 'createBackup']);
    assert.equal(run.fakes.called('createBackup').length, 1, 'a non-retryable failure is final');
    assert.deepEqual(run.status.backup, {
      error: 'backup changectl-x ended PartiallyFailed: volume snapshot failed',
    });
    assertEventsInOrder(run.status, ['pre-flight passed', 'state: backing-up', 'backup failed']);
    assert.ok(!eventsOf(run.status).includes('state: rolling-out'));
    assert.match(
      run.log.changeLog.verification.issues,
      /backup: backup changectl-x ended PartiallyFailed/,
    );
  });

  it('rolls back a failed rollout and checks the service afterwards', async (t) => {
    const run = await runApprovedChange(t.name, {
      rolloutFails: `deployment exceeded its progress deadline`,
    });
    const { fakes, status, log, lock } = run;
    assert.equal(status.state, 'rolled-back');
    assert.equal(
      status.outcome,
      'rolled back: rollout failed: deployment exceeded its progress deadline',
    );
    assert.equal(log.changeLog.state, 'rolled-back');
    assert.deepEqual(stepsOf(fakes).slice(-4), [
      'createBackup',
      'startRollout',
      'rollbackRollout',
      'watchMetrics',
    ]);
    const rollback = fakes.called('rollbackRollout')[0]?.args[0] as RollbackInput;
    assert.equal(rollback.rollout, undefined, 'the failed rollout never reported');
    assert.equal(rollback.before.revision, 4);
    assert.equal(rollback.reason, 'rollout failed: deployment exceeded its progress deadline');
    // The only watch is the short check after the rollback: three rounds, unhealthy only if
    // all three fail (more than two failures in all).
    const check = fakes.called('watchMetrics')[0]?.args[0] as WatchInput;
    assert.equal(check.endsAt - check.startedAt, 3 * 30_000);
    assert.equal(check.failureLimit, 2);
    assert.equal(fakes.called('finalizeRollout').length, 0);
    assert.equal(fakes.called('restoreBackup').length, 0);
    assert.equal(status.verification.outcome, 'not-run');
    assert.equal(status.rollout.rollback?.revision, 6);
    assertEventsInOrder(status, [
      'rollout failed',
      'rolling back',
      'rolled back',
      'after rollback: passed',
    ]);
    assert.ok(!eventsOf(status).includes('state: watching'));
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'rolled-back'],
    );
    const text = fakes.notifications[2]?.text ?? '';
    assert.match(
      text,
      new RegExp(`^⚠️ ROLLED BACK: ${run.service} v2.5.0 → v2.4.3 \\(${run.id}\\)\n`),
    );
    assert.match(text, /\nReason: rollout failed: deployment exceeded its progress deadline\n/);
    assert.match(text, /\nServices restored: \d\d:\d\d UTC\n/);
    assert.equal(lock.holder, undefined);
  });

  it('ends failed and asks for manual action when the rollback itself fails', async (t) => {
    const run = await runApprovedChange(t.name, {
      watch: 'failed',
      rollbackFails: 'deployments.apps "x" is forbidden',
    });
    const { fakes, status } = run;
    assert.equal(status.state, 'failed');
    assert.equal(
      status.outcome,
      'ROLLBACK FAILED after "verification failed: error-rate failed": deployments.apps "x" is forbidden; manual action needed: ' +
        `kubectl rollout undo deployment/${run.service} -n production`,
    );
    assertEventsInOrder(status, [
      'watch failed',
      'rolling back',
      'rollback failed',
      'state: failed',
    ]);
    // Nobody is told the service is fine: no check after a rollback that did not happen.
    assert.equal(fakes.called('watchMetrics').length, 1);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'failed'],
      'one page for the failed rollback, not two',
    );
    assert.equal(
      fakes.notifications[2]?.text,
      `🚨 ROLLBACK FAILED: ${run.id} Upgrade api-gateway to v2.5.0\nReason: ${status.outcome}\n${UNVERIFIED_NOTE}`,
    );
    assert.equal(run.lock.holder, undefined);
  });

  it('rolls back automatically when the watch sees a breach', async (t) => {
    const run = await runApprovedChange(t.name, { watch: watchThen('failed') });
    const { fakes, status, log, lock } = run;
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.outcome, 'rolled back: verification failed: error-rate failed');
    assert.equal(log.changeLog.change.result, status.outcome);
    assert.match(log.changeLog.verification.issues, /rolled back: verification failed/);
    assert.deepEqual(stepsOf(fakes).slice(-4), [
      'startRollout',
      'watchMetrics',
      'rollbackRollout',
      'watchMetrics',
    ]);
    const [watch, check] = fakes.called('watchMetrics').map((c) => c.args[0] as WatchInput);
    assert.equal(watch!.endsAt - watch!.startedAt, 15 * 60_000);
    assert.equal(check!.endsAt - check!.startedAt, 3 * 30_000);
    const rollback = fakes.called('rollbackRollout')[0]?.args[0] as RollbackInput;
    assert.equal(rollback.rollout?.revision, 5, 'the rollback knows what it undoes');
    assert.equal(fakes.called('finalizeRollout').length, 0);
    assert.equal(status.verification.outcome, 'failed');
    assert.equal(status.verification.evaluations[0]?.status, 'failed');
    assertEventsInOrder(status, [
      'state: watching',
      'watch failed',
      'rolling back',
      'rolled back',
      'after rollback: passed',
    ]);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'rolled-back'],
    );
    assert.match(
      fakes.notifications[2]?.text ?? '',
      /^⚠️ ROLLED BACK: .*\nReason: verification failed: error-rate failed\nRolled back at: \d\d:\d\d UTC\nServices restored: /,
    );
    assert.equal(lock.holder, undefined);
  });

  it('says so when the service is not healthy after the rollback', async (t) => {
    const run = await runApprovedChange(t.name, { watch: 'failed' });
    assert.equal(run.status.state, 'rolled-back');
    assert.equal(
      run.status.outcome,
      'rolled back: verification failed: error-rate failed (service not confirmed healthy afterwards)',
    );
    assert.ok(eventsOf(run.status).includes('after rollback: failed'));
    assert.match(
      run.fakes.notifications.at(-1)?.text ?? '',
      /\nServices NOT confirmed healthy after rollback \(\d\d:\d\d UTC\): needs attention\n/,
    );
  });

  it('rolls back an inconclusive watch when the policy says so', async (t) => {
    const run = await runApprovedChange(t.name, { watch: watchThen('inconclusive') });
    const { fakes, status } = run;
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.outcome, 'rolled back: verification inconclusive: error-rate inconclusive');
    assert.equal(status.verification.outcome, 'inconclusive');
    assert.equal(fakes.called('rollbackRollout').length, 1);
    assert.equal(fakes.called('finalizeRollout').length, 0);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'rolled-back'],
    );
  });

  describe('inconclusive watch under a hold policy', () => {
    const hold = testPolicy({
      spec: { verification: { onInconclusive: 'hold', holdTimeout: '30m' } },
    });

    async function awaitDecisionRequest(handle: ChangeHandle): Promise<ChangeStatus> {
      return await waitForStatus(
        handle,
        (s) => s.verification.awaitingDecisionUntil !== undefined,
        'a pending decision',
      );
    }

    it('completes when an operator decides to proceed', async (t) => {
      let pending: ChangeStatus | undefined;
      const run = await runApprovedChange(
        t.name,
        { policy: hold, watch: watchThen('inconclusive') },
        async (handle) => {
          pending = await awaitDecisionRequest(handle);
          await handle.signal(decideSignal, {
            actor: 'bob',
            decision: 'proceed',
            reason: 'traffic too low to judge; logs are clean',
          });
        },
      );
      const { fakes, status } = run;
      assert.equal(pending?.state, 'watching');
      assert.equal(status.state, 'completed');
      assert.equal(status.outcome, 'completed: error-rate inconclusive; bob decided to proceed');
      assert.equal(status.verification.awaitingDecisionUntil, undefined);
      assert.equal(fakes.called('finalizeRollout').length, 1);
      assert.equal(fakes.called('rollbackRollout').length, 0);
      assert.equal(fakes.called('watchMetrics').length, 1);
      const decided = status.timeline.find((e) => e.event === 'decided: proceed');
      assert.equal(decided?.actor, 'bob');
      assert.equal(decided?.detail, 'traffic too low to judge; logs are clean');
      assert.deepEqual(
        fakes.notifications.map((n) => n.kind),
        ['approval-requested', 'deploying', 'needs-decision', 'complete'],
      );
      assert.match(
        fakes.notifications[2]?.text ?? '',
        new RegExp(
          `^❓ DECISION NEEDED: ${run.id} verification inconclusive \\(error-rate inconclusive\\)\\. Send 'decide' with proceed or rollback before ${pending?.verification.awaitingDecisionUntil?.replace(/\./g, '\\.')}, or it rolls back\\.\nUNVERIFIED: `,
        ),
      );
      assert.match(fakes.notifications[3]?.text ?? '', /^✅ COMPLETE: /);
    });

    it('rolls back when an operator decides to roll back', async (t) => {
      const run = await runApprovedChange(
        t.name,
        { policy: hold, watch: watchThen('inconclusive') },
        async (handle) => {
          await awaitDecisionRequest(handle);
          await handle.signal(decideSignal, {
            actor: 'carol',
            decision: 'rollback',
            reason: 'cannot tell; not worth the risk',
          });
        },
      );
      const { fakes, status } = run;
      assert.equal(status.state, 'rolled-back');
      assert.equal(
        status.outcome,
        'rolled back: rollback decided by carol: cannot tell; not worth the risk',
      );
      assert.equal(fakes.called('rollbackRollout').length, 1);
      assert.equal(fakes.called('finalizeRollout').length, 0);
      assert.deepEqual(
        fakes.notifications.map((n) => n.kind),
        ['approval-requested', 'deploying', 'needs-decision', 'rolled-back'],
      );
      assert.match(
        fakes.notifications[3]?.text ?? '',
        /\nReason: rollback decided by carol: cannot tell; not worth the risk\n/,
      );
      assert.equal(run.lock.holder, undefined);
    });

    it('rolls back when nobody decides before the hold times out', async (t) => {
      const run = await runApprovedChange(t.name, {
        policy: hold,
        watch: watchThen('inconclusive'),
      });
      const { fakes, status } = run;
      assert.equal(status.state, 'rolled-back');
      assert.equal(
        status.outcome,
        'rolled back: verification inconclusive and no decision within 30m',
      );
      assert.equal(status.verification.awaitingDecisionUntil, undefined);
      const events = eventsOf(status);
      assert.ok(!events.some((e) => e.startsWith('decided')));
      const watchedAt = status.timeline.find((e) => e.event === 'watch inconclusive')?.at;
      const rollingBackAt = status.timeline.find((e) => e.event === 'rolling back')?.at;
      assert.equal(Date.parse(rollingBackAt!) - Date.parse(watchedAt!) >= 30 * 60_000, true);
      assert.equal(fakes.called('rollbackRollout').length, 1);
      assert.deepEqual(
        fakes.notifications.map((n) => n.kind),
        ['approval-requested', 'deploying', 'needs-decision', 'rolled-back'],
      );
    });
  });
});
