import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../src/core/errors';
import type { ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange, type ChangeWorkflow } from '../../src/temporal/start';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  rejectSignal,
  rejectUpdate,
  statusQuery,
} from '../../workflows/messages';
import { createFakeActivities, testRequest, type ChangeActivities } from '../helpers/fakes';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
import { changeWorker, createHold, waitForStatus as pollStatus } from '../helpers/planned-run';

const HOUR_MS = 3_600_000;

type Handle = WorkflowHandle<ChangeWorkflow>;

/** Polls the status query for up to 10 s. */
const waitForStatus = (handle: Handle, ready: (s: ChangeStatus) => boolean, what: string) =>
  pollStatus(handle, ready, what, 10000);

const inState = (handle: Handle, state: ChangeStatus['state']) =>
  waitForStatus(handle, (s) => s.state === state, `state ${state}`);

/** The update is refused by its validator with ERR_REFUSED and a message saying why. */
async function assertUpdateRefused(update: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(update, (err: unknown) => {
    assert.ok(
      err instanceof WorkflowUpdateFailedError,
      `expected WorkflowUpdateFailedError, got ${String(err)}`,
    );
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, FailureType.Refused);
    assert.match(err.cause.message, reason);
    return true;
  });
}

/** A refused signal leaves no approval behind: it is kept in approvals.refused and the timeline. */
async function assertSignalRefused(
  handle: Handle,
  by: string,
  action: 'approve' | 'reject',
  reason: RegExp,
): Promise<ChangeStatus> {
  const status = await waitForStatus(
    handle,
    (s) => s.approvals.refused.some((r) => r.by === by && r.action === action),
    `${action} by ${by} refused`,
  );
  const refused = status.approvals.refused.find((r) => r.by === by && r.action === action);
  assert.equal(refused?.via, 'signal');
  assert.match(refused?.reason ?? '', reason);
  const entry = status.timeline.find((e) => e.actor === by && e.event === `${action} refused`);
  assert.ok(entry, `no '${action} refused' timeline entry by ${by}`);
  assert.match(entry.detail ?? '', reason);
  return status;
}

/** Activity names called, leaving out notifications. */
const calledNames = (calls: { name: string }[]) =>
  calls.map((c) => c.name).filter((n) => n !== 'notify');

describe('planned change: approvals', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Runs `body` with a worker on a task queue of the test's own. */
  async function withWorker<T>(
    title: string,
    activities: ChangeActivities,
    body: (taskQueue: string) => Promise<T>,
  ): Promise<T> {
    const worker = await changeWorker(env, title, activities);
    return await worker.runUntil(() => body(worker.options.taskQueue));
  }

  it('answers "not ready" (not a refusal) to an approval sent before its policy is loaded', async (t) => {
    const fakes = createFakeActivities(env.client);
    const hold = createHold();
    const activities = {
      ...fakes.activities,
      loadPolicy: async () => {
        await hold.hold();
        return await fakes.activities.loadPolicy();
      },
    };
    const id = uniqueChangeId('RDY');
    const status = await withWorker(t.name, activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await hold.entered;
      await assert.rejects(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
          assert.ok(err.cause instanceof ApplicationFailure);
          assert.equal(err.cause.type, FailureType.NotReady);
          assert.match(err.cause.message, /still loading its policy/);
          return true;
        },
      );
      hold.release();
      await inState(handle, 'awaiting-approval');
      const ack = await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      assert.equal(ack.state, 'awaiting-approval');
      const status = await handle.query(statusQuery);
      // Ended before the worker stops: a run left open would hold the test server's clock.
      await handle.executeUpdate(rejectUpdate, { args: [{ actor: 'bob', reason: 'test over' }] });
      await handle.result();
      return status;
    });
    assert.deepEqual(
      status.approvals.received.map((a) => a.by),
      ['dave'],
    );
    assert.deepEqual(status.approvals.refused, [], 'waiting for the policy is no refusal');
  });

  it('ends rejected when an approver rejects by update, before anything is rolled out', async (t) => {
    const fakes = createFakeActivities(env.client);
    const id = uniqueChangeId('REJ');
    const { log, status, ack } = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await inState(handle, 'awaiting-approval');
      await assert.rejects(
        handle.executeUpdate(rejectUpdate, { args: [{ actor: 'bob', reason: '  ' }] }),
        (err: unknown) =>
          err instanceof WorkflowUpdateFailedError &&
          err.cause instanceof ApplicationFailure &&
          err.cause.type === FailureType.InvalidRequest,
      );
      const ack = await handle.executeUpdate(rejectUpdate, {
        args: [{ actor: 'bob', reason: 'clashes with the payments migration' }],
      });
      const log = await handle.result();
      return { log, ack, status: await handle.query(statusQuery) };
    });
    assert.equal(ack.state, 'awaiting-approval');
    assert.equal(status.state, 'rejected');
    assert.equal(log.changeLog.state, 'rejected');
    assert.equal(
      log.changeLog.change.result,
      'rejected by bob: clashes with the payments migration',
    );
    assert.deepEqual(log.changeLog.approvals.received, []);
    assert.deepEqual(status.approvals.rejected && { ...status.approvals.rejected, at: '' }, {
      by: 'bob',
      at: '',
      reason: 'clashes with the payments migration',
    });
    const rejected = log.changeLog.timeline.find((e) => e.event === 'rejected');
    assert.equal(rejected?.actor, 'bob');
    assert.equal(rejected?.detail, 'clashes with the payments migration');
    assert.ok(log.changeLog.timeline.some((e) => e.event === 'state: rejected'));
    assert.ok(!log.changeLog.timeline.some((e) => e.event === 'state: scheduled'));
    // Nothing past the policy was touched: no lock, no pre-flight, no backup, no rollout.
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'rejected'],
    );
    assert.deepEqual(fakes.notifications[1]?.audience, ['alice']);
    assert.match(fakes.notifications[1]?.text ?? '', /REJECTED/);
  });

  it('ends rejected when an approver rejects by signal, even after an approval', async (t) => {
    const fakes = createFakeActivities(env.client);
    const id = uniqueChangeId('REJ');
    const { log, status } = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await inState(handle, 'awaiting-approval');
      await handle.signal(approveSignal, { actor: 'dave', comment: 'fine by platform' });
      await waitForStatus(handle, (s) => s.approvals.received.length === 1, 'approval by dave');
      await handle.signal(rejectSignal, { actor: 'carol', reason: 'no rollback tested' });
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });
    assert.equal(status.state, 'rejected');
    assert.equal(log.changeLog.state, 'rejected');
    assert.equal(log.changeLog.change.result, 'rejected by carol: no rollback tested');
    assert.deepEqual(
      log.changeLog.approvals.received.map((a) => a.by),
      ['dave'],
    );
    const events = log.changeLog.timeline.map((e) => `${e.actor}: ${e.event}`);
    assert.ok(events.includes('dave: approved'));
    assert.ok(events.includes('carol: rejected'));
    assert.equal(
      log.changeLog.timeline.find((e) => e.event === 'rejected')?.detail,
      'no rollback tested',
    );
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
    assert.equal(fakes.called('requestServiceLock').length, 0);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'rejected'],
    );
  });

  it('expires unapproved after the policy expiry, reminding approvers on the way', async (t) => {
    const fakes = createFakeActivities(env.client);
    const id = uniqueChangeId('EXP');
    const { log, waiting } = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      const waiting = await inState(handle, 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      return { waiting, log: await handle.result() };
    });
    const asked = Date.parse(
      waiting.timeline.find((e) => e.event === 'state: awaiting-approval')?.at ?? '',
    );
    assert.equal(Date.parse(waiting.approvals.expiresAt ?? ''), asked + 72 * HOUR_MS);

    assert.equal(log.changeLog.state, 'rejected');
    assert.equal(
      log.changeLog.change.result,
      'approvals expired after 72h: needs 1 more approver, including someone from sre',
    );
    // Reminders every 24h until the 72h expiry: two reminders, then the end.
    const hoursAfterAsking = (event: string) =>
      log.changeLog.timeline
        .filter((e) => e.event === event)
        .map((e) => Math.round((Date.parse(e.at) - asked) / HOUR_MS));
    assert.deepEqual(hoursAfterAsking('approval reminder'), [24, 48]);
    assert.deepEqual(hoursAfterAsking('state: rejected'), [72]);
    assert.ok(
      log.changeLog.timeline
        .filter((e) => e.event === 'approval reminder')
        .every((e) => e.actor === 'policy'),
    );
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'approval-reminder', 'approval-reminder', 'rejected'],
    );
    for (const reminder of fakes.notifications.filter((n) => n.kind === 'approval-reminder')) {
      assert.match(
        reminder.text,
        new RegExp(`REMINDER: ${id} .* still needs 1 more approver, including someone from sre`),
      );
    }
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
  });

  /**
   * Starts a normal production change (alice requests; 2 approvers including sre), waits for
   * approvals, runs `attempt`, then cancels it; returns the status before the cancel and the log.
   */
  async function refusalCase(title: string, attempt: (handle: Handle) => Promise<ChangeStatus>) {
    const fakes = createFakeActivities(env.client);
    const id = uniqueChangeId('REF');
    const result = await withWorker(title, fakes.activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await inState(handle, 'awaiting-approval');
      const status = await attempt(handle);
      await handle.signal(cancelSignal, { actor: 'alice', reason: 'test over' });
      return { status, log: await handle.result() };
    });
    assert.equal(result.log.changeLog.state, 'cancelled');
    // The refused signal is in the change log; the refused update never reached history.
    assert.deepEqual(
      result.log.changeLog.approvals.refused.map((r) => r.via),
      ['signal'],
    );
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
    return result;
  }

  it('refuses an approval from someone not in the people directory', async (t) => {
    const reason = /^unknown person 'mallory': not in the policy's people directory$/;
    const { status } = await refusalCase(t.name, async (handle) => {
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'mallory' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'mallory' });
      return await assertSignalRefused(handle, 'mallory', 'approve', reason);
    });
    assert.deepEqual(status.approvals.received, []);
    assert.equal(
      status.approvals.required.summary,
      'needs 2 more approvers, including someone from sre',
    );
  });

  it('refuses an approval that cannot bring in the missing required team', async (t) => {
    const reason = /^not in a required team: erin is in payments; still needed: someone from sre$/;
    const { status } = await refusalCase(t.name, async (handle) => {
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'erin' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'erin', comment: 'looks fine' });
      return await assertSignalRefused(handle, 'erin', 'approve', reason);
    });
    assert.deepEqual(
      status.approvals.received.map((a) => a.by),
      ['dave'],
    );
    assert.equal(status.state, 'awaiting-approval');
  });

  it('refuses self-approval by the requester', async (t) => {
    const reason = /^self-approval: alice requested this change$/;
    const { status } = await refusalCase(t.name, async (handle) => {
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'alice' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'alice' });
      return await assertSignalRefused(handle, 'alice', 'approve', reason);
    });
    assert.deepEqual(status.approvals.received, []);
  });

  it('refuses a second approval by the same person', async (t) => {
    const { status } = await refusalCase(t.name, async (handle) => {
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob', comment: 'sre ok' }] });
      const first = (await handle.query(statusQuery)).approvals.received[0];
      assert.ok(first);
      assert.equal(first.by, 'bob');
      const reason = new RegExp(`^already approved: bob approved at ${first.at}$`);
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'bob' });
      return await assertSignalRefused(handle, 'bob', 'approve', reason);
    });
    assert.deepEqual(
      status.approvals.received.map((a) => a.by),
      ['bob'],
    );
    assert.equal(status.approvals.required.summary, 'needs 1 more approver');
  });

  it('refuses approvals and rejections after a rejection decided the change', async (t) => {
    // Hold the 'rejected' notification so the change stays open, already decided, for a while.
    const fakes = createFakeActivities(env.client);
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const activities: ChangeActivities = {
      ...fakes.activities,
      async notify(notification) {
        if (notification.kind === 'rejected') await gate;
        return await fakes.activities.notify(notification);
      },
    };
    const id = uniqueChangeId('DEC');
    const reason = /^decision already made: rejected by bob$/;
    const { log, status } = await withWorker(t.name, activities, async (taskQueue) => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await inState(handle, 'awaiting-approval');
      await handle.executeUpdate(rejectUpdate, { args: [{ actor: 'bob', reason: 'not today' }] });
      await inState(handle, 'rejected');
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] }),
        reason,
      );
      await assertUpdateRefused(
        handle.executeUpdate(rejectUpdate, { args: [{ actor: 'dave', reason: 'me too' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'carol' });
      await handle.signal(rejectSignal, { actor: 'dave', reason: 'me too' });
      await assertSignalRefused(handle, 'carol', 'approve', reason);
      const status = await assertSignalRefused(handle, 'dave', 'reject', reason);
      openGate();
      return { status, log: await handle.result() };
    });
    assert.equal(log.changeLog.state, 'rejected');
    assert.equal(log.changeLog.change.result, 'rejected by bob: not today');
    assert.deepEqual(status.approvals.received, []);
    assert.equal(status.approvals.rejected?.by, 'bob');
    assert.deepEqual(
      log.changeLog.approvals.refused.map((r) => `${r.by} ${r.action} via ${r.via}`),
      ['carol approve via signal', 'dave reject via signal'],
    );
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
  });

  it('refuses approvals and rejections once quorum has moved the change on', async (t) => {
    const fakes = createFakeActivities(env.client);
    const id = uniqueChangeId('DEC');
    const { log, status, ack } = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const start = await env.currentTimeMs();
      // A requested start a day out keeps the approved change waiting in 'scheduled'.
      const request = testRequest(id, {
        window: { notBefore: new Date(start + 24 * HOUR_MS).toISOString() },
      });
      const handle = await startChange(env.client, request, { taskQueue });
      await inState(handle, 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      const ack = await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
      await inState(handle, 'scheduled');
      const reason = /^decision already made: the change is scheduled$/;
      await assertUpdateRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] }),
        reason,
      );
      await assertUpdateRefused(
        handle.executeUpdate(rejectUpdate, { args: [{ actor: 'carol', reason: 'late' }] }),
        reason,
      );
      await handle.signal(approveSignal, { actor: 'carol' });
      await handle.signal(rejectSignal, { actor: 'erin', reason: 'late' });
      await assertSignalRefused(handle, 'carol', 'approve', reason);
      const status = await assertSignalRefused(handle, 'erin', 'reject', reason);
      await handle.signal(cancelSignal, { actor: 'alice', reason: 'test over' });
      return { ack, status, log: await handle.result() };
    });
    assert.deepEqual(ack, { state: 'awaiting-approval', summary: 'approvals complete' });
    assert.deepEqual(
      status.approvals.received.map((a) => a.by),
      ['dave', 'bob'],
    );
    assert.equal(status.approvals.rejected, undefined);
    assert.equal(log.changeLog.state, 'cancelled');
    assert.equal(log.changeLog.change.result, 'cancelled by alice: test over');
    assert.deepEqual(
      log.changeLog.approvals.refused.map((r) => `${r.by} ${r.action} via ${r.via}`),
      ['carol approve via signal', 'erin reject via signal'],
    );
    // Cancelled while waiting for its start: no lock was ever asked for.
    assert.deepEqual(calledNames(fakes.calls), ['loadPolicy']);
  });

  it('skips approval for a standard change the policy pre-approves, and only for it', async (t) => {
    const fakes = createFakeActivities(env.client);
    const preApprovedId = uniqueChangeId('STD');
    const notPreApprovedId = uniqueChangeId('STD');
    const { log, elsewhere } = await withWorker(t.name, fakes.activities, async (taskQueue) => {
      const staging = testRequest(preApprovedId, {
        type: 'standard',
        standard: 'image-bump',
        environment: 'staging',
        namespace: 'staging',
      });
      const log = await (await startChange(env.client, staging, { taskQueue })).result();

      // The same standard change in production is not pre-approved by this policy.
      const production = await startChange(
        env.client,
        testRequest(notPreApprovedId, { type: 'standard', standard: 'image-bump' }),
        { taskQueue },
      );
      const elsewhere = await inState(production, 'awaiting-approval');
      await production.signal(cancelSignal, { actor: 'alice', reason: 'test over' });
      await production.result();
      return { log, elsewhere };
    });
    assert.equal(log.changeLog.state, 'completed');
    assert.equal(log.changeLog.approvals.required, 'standard change pre-approved in staging');
    assert.deepEqual(log.changeLog.approvals.received, []);
    const preApproved = log.changeLog.timeline.find((e) => e.event === 'pre-approved');
    assert.equal(preApproved?.actor, 'policy');
    assert.equal(preApproved?.detail, 'standard change pre-approved in staging');
    assert.ok(!log.changeLog.timeline.some((e) => e.event === 'state: awaiting-approval'));
    assert.ok(log.changeLog.timeline.some((e) => e.event === 'state: rolling-out'));
    const forStaging = (name: string) =>
      fakes.called(name).filter((c) => JSON.stringify(c.args).includes(preApprovedId));
    assert.equal(forStaging('startRollout').length, 1);
    assert.deepEqual(
      fakes.notifications.filter((n) => n.changeId === preApprovedId).map((n) => n.kind),
      ['deploying', 'complete'],
    );

    assert.equal(elsewhere.approvals.required.preApproved, false);
    assert.ok(
      elsewhere.approvals.required.reasons.includes('standard change not pre-approved here'),
    );
    assert.equal(
      elsewhere.approvals.required.summary,
      'needs 2 more approvers, including someone from sre',
    );
  });
});
