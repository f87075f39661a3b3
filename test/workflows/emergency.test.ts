import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { changeWorkflowId, type ChangeRequestInput } from '../../src/core/change/request';
import { FailureType } from '../../src/core/errors';
import type { WatchInput } from '../../src/core/contracts';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import type { Policy } from '../../src/core/policy/schema';
import { changeStateKey } from '../../src/core/search-attributes';
import { startChange, type ChangeWorkflow } from '../../src/temporal/start';
import {
  approveSignal,
  approveUpdate,
  documentSignal,
  documentUpdate,
  lockStateQuery,
  rejectUpdate,
  statusQuery,
  type DocumentationInput,
} from '../../workflows/messages';
import {
  createFakeActivities,
  testPolicy,
  testRequest,
  watchResult,
  type FakeScenario,
} from '../helpers/fakes';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
// The lock workflow of a service never ends and is pinned to the task queue of the change that
// started it, so every test changes a service of its own.
import { changeWorker, uniqueService, waitForStatus } from '../helpers/planned-run';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Slack for timers: a timer fires on time, the workflow task that records it a moment later. */
const TIMER_SLACK_MS = 60_000;

/** An emergency change to `service` by alice for INC-42, with any part of the spec replaced. */
function emergencyRequest(
  id: string,
  service: string,
  spec: Partial<ChangeRequestInput['spec']> = {},
  metadata: Partial<ChangeRequestInput['metadata']> = {},
) {
  return testRequest(
    id,
    {
      type: 'emergency',
      incident: 'INC-42',
      services: [service],
      risk: 'high',
      rollout: {
        strategy: 'rolling',
        target: { kind: 'Deployment', name: service },
        image: `registry.example.com/${service}:2.5.1`,
        timeout: '5m',
      },
      ...spec,
    },
    { title: `Hotfix ${service} for INC-42`, ...metadata },
  );
}

/** A planned change to the same service, as the lock test queues it. */
function plannedRequest(id: string, service: string) {
  return testRequest(id, {
    services: [service],
    rollout: {
      strategy: 'rolling',
      target: { kind: 'Deployment', name: service },
      image: `registry.example.com/${service}:2.6.0`,
      timeout: '10m',
    },
  });
}

const goodDoc: DocumentationInput = {
  actor: 'alice',
  rootCause: 'token cache evicted under load',
  changed: 'rolled out the cache fix (2.5.1)',
  pir: 'https://wiki.example.com/pir/INC-42',
};

type Handle = WorkflowHandle<ChangeWorkflow>;

/** Polls the status query for up to 30 s. */
const waitFor = (handle: Handle, done: (s: ChangeStatus) => boolean, what: string) =>
  waitForStatus(handle, done, what, 30_000);

const inState = (handle: Handle, state: ChangeStatus['state']) =>
  waitFor(handle, (s) => s.state === state, `state ${state}`);

/** The states a change went through, from its timeline. */
function states(log: ChangeLog): string[] {
  return log.changeLog.timeline
    .filter((e) => e.event.startsWith('state: '))
    .map((e) => e.event.slice('state: '.length));
}

function events(log: ChangeLog, event: string) {
  return log.changeLog.timeline.filter((e) => e.event === event);
}

function countKinds(notifications: { kind: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of notifications) counts[n.kind] = (counts[n.kind] ?? 0) + 1;
  return counts;
}

/** An update refused by its validator: ERR_REFUSED with a message matching `reason`. */
async function assertRefused(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, `not an update failure: ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, FailureType.Refused);
    assert.match(err.cause.message, reason);
    return true;
  });
}

function emergencyOf(log: ChangeLog): NonNullable<ChangeLog['changeLog']['emergencyRecord']> {
  const record = log.changeLog.emergencyRecord;
  assert.ok(record, 'the change log has no emergency record');
  return record;
}

/** The rollout-side activities, in call order, without notifications and locks. */
function steps(fakes: ReturnType<typeof createFakeActivities>): string[] {
  return fakes.calls
    .map((c) => c.name)
    .filter((n) => !['notify', 'requestServiceLock', 'releaseServiceLock'].includes(n));
}

describe('emergency change', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Starts `request`, has carol approve it as incident commander, documents it on time. */
  async function approvedAndDocumented(
    request: ReturnType<typeof emergencyRequest>,
    taskQueue: string,
  ): Promise<ChangeLog> {
    const handle = await startChange(env.client, request, { taskQueue });
    await inState(handle, 'awaiting-ic-approval');
    await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
    await inState(handle, 'awaiting-documentation');
    await handle.executeUpdate(documentUpdate, { args: [goodDoc] });
    return await handle.result();
  }

  async function workerFor(title: string, scenario: FakeScenario = {}) {
    const fakes = createFakeActivities(env.client, scenario);
    const worker = await changeWorker(env, title, fakes.activities);
    return { taskQueue: worker.options.taskQueue, fakes, worker };
  }

  it('IC approval, short pre-flight past firing alerts, rollout, watch, documentation on time', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name, {
      alertsFiring: ['AuthLoginFailures'],
    });
    const id = uniqueChangeId('EMG');
    const service = uniqueService();
    const { log, status } = await worker.runUntil(async () => {
      // Looser limits than the policy's emergency caps (2), so the caps show.
      const request = emergencyRequest(id, service);
      request.spec.verification = {
        ...request.spec.verification,
        failureLimit: 3,
        inconclusiveLimit: 3,
      };
      const handle = await startChange(env.client, request, { taskQueue });
      const waiting = await inState(handle, 'awaiting-ic-approval');
      assert.match(waiting.approvals.required.summary, /carol, erin/);
      const ack = await handle.executeUpdate(approveUpdate, {
        args: [{ actor: 'carol', comment: 'go' }],
      });
      assert.equal(ack.summary, 'approvals complete');
      const owed = await inState(handle, 'awaiting-documentation');
      assert.ok(owed.emergency?.documentationDueAt);
      assert.equal(owed.emergency.documentation, undefined);
      await handle.executeUpdate(documentUpdate, { args: [goodDoc] });
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });

    assert.equal(status.state, 'completed');
    assert.equal(log.changeLog.state, 'completed');
    assert.equal(log.changeLog.emergency, true);
    assert.deepEqual(states(log), [
      'awaiting-ic-approval',
      'preflight',
      'backing-up',
      'rolling-out',
      'watching',
      'awaiting-documentation',
      'completed',
    ]);
    const record = emergencyOf(log);
    assert.equal(record.incident, 'INC-42');
    assert.equal(record.incidentCommander, 'carol');
    assert.equal(record.breakGlass, false);
    assert.equal(record.approvalOwed, false);
    assert.equal(record.undocumented, false);
    assert.equal(record.reminders, 0);
    assert.equal(record.escalations, 0);
    const doc = record.documentation;
    assert.ok(doc && record.documentationDueAt);
    assert.equal(doc.by, 'alice');
    assert.equal(doc.late, false);
    assert.equal(doc.rootCause, goodDoc.rootCause);
    assert.equal(doc.changed, goodDoc.changed);
    assert.equal(doc.postIncidentReview, goodDoc.pir);
    assert.ok(doc.at <= record.documentationDueAt, `${doc.at} after ${record.documentationDueAt}`);
    assert.match(log.changeLog.change.result, /documented by alice/);
    assert.deepEqual(
      log.changeLog.approvals.received.map((a) => a.by),
      ['carol'],
    );

    // Firing alerts are recorded, not blocking.
    const alerts = status.preflight.checks.find((c) => c.name === 'no firing alerts');
    assert.match(alerts?.detail ?? '', /1 firing: AuthLoginFailures/);
    assert.equal(events(log, 'pre-flight: alerts firing (expected during an incident)').length, 1);
    assert.equal(
      status.preflight.checks.some((c) => c.name === 'inside the window'),
      false,
    );
    assert.deepEqual(steps(fakes), [
      'loadPolicy',
      'checkRollbackReadiness',
      'firingAlerts',
      'validateQueries',
      'captureBaseline',
      'dryRunRollout',
      'createBackup',
      'startRollout',
      'watchMetrics',
      'finalizeRollout',
    ]);
    assert.equal(log.changeLog.backup.name, `changectl-${id.toLowerCase()}`);
    // The tighter watch: the policy's emergency interval and limits, not the request's.
    const watch = fakes.called('watchMetrics')[0]?.args[0] as { intervalMs: number } & Record<
      string,
      unknown
    >;
    assert.equal(watch.intervalMs, 10_000);
    assert.equal(watch.failureLimit, 2);
    assert.equal(watch.inconclusiveLimit, 2);
    assert.deepEqual(countKinds(fakes.notifications), {
      'approval-requested': 1,
      deploying: 1,
      complete: 1,
    });
    assert.deepEqual(fakes.notifications[0]?.audience, ['carol', 'erin']);
    const description = await env.client.workflow.getHandle(changeWorkflowId(id)).describe();
    assert.equal(description.typedSearchAttributes.get(changeStateKey), 'completed');
  });

  it('refuses approval from someone who is not an incident commander', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name);
    const id = uniqueChangeId('EMG');
    const { log, status } = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await assertRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] }),
        /not an incident commander: bob/,
      );
      await handle.signal(approveSignal, { actor: 'dave' });
      const refused = await waitFor(
        handle,
        (s) => s.approvals.refused.length > 0,
        'the refused signal',
      );
      assert.equal(refused.state, 'awaiting-ic-approval');
      assert.deepEqual(refused.approvals.received, []);
      await handle.executeUpdate(rejectUpdate, {
        args: [{ actor: 'erin', reason: 'wrong fix for INC-42' }],
      });
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });

    assert.equal(status.state, 'rejected');
    assert.equal(log.changeLog.state, 'rejected');
    assert.match(log.changeLog.change.result, /rejected by erin: wrong fix for INC-42/);
    // The update was refused before it reached history; the signal is kept.
    assert.deepEqual(
      log.changeLog.approvals.refused.map((r) => [r.by, r.action, r.via]),
      [['dave', 'approve', 'signal']],
    );
    assert.match(log.changeLog.approvals.refused[0]?.reason ?? '', /not an incident commander/);
    const refusedEvents = events(log, 'approve refused');
    assert.equal(refusedEvents.length, 1);
    assert.equal(refusedEvents[0]?.actor, 'dave');
    assert.deepEqual(log.changeLog.approvals.received, []);
    assert.equal(emergencyOf(log).incidentCommander, undefined);
    assert.deepEqual(steps(fakes), ['loadPolicy']);
    assert.deepEqual(countKinds(fakes.notifications), { 'approval-requested': 1, rejected: 1 });
  });

  it('refuses self-approval by a requester who is an incident commander', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name);
    const id = uniqueChangeId('EMG');
    const { log, status } = await worker.runUntil(async () => {
      const handle = await startChange(
        env.client,
        emergencyRequest(id, uniqueService(), {}, { requestedBy: 'carol' }),
        { taskQueue },
      );
      const waiting = await inState(handle, 'awaiting-ic-approval');
      // Only the other incident commander is asked.
      assert.match(waiting.approvals.required.summary, /\(erin\)/);
      await assertRefused(
        handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] }),
        /self-approval: carol requested this change/,
      );
      await handle.signal(approveSignal, { actor: 'carol', comment: 'my own fix' });
      await waitFor(handle, (s) => s.approvals.refused.length > 0, 'the refused signal');
      // Nobody else approves: the approval timeout (30m) ends it.
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });

    assert.equal(status.state, 'rejected');
    assert.match(log.changeLog.change.result, /no incident commander approved within 30m/);
    assert.deepEqual(
      log.changeLog.approvals.refused.map((r) => [r.by, r.action, r.via]),
      [['carol', 'approve', 'signal']],
    );
    assert.match(log.changeLog.approvals.refused[0]?.reason ?? '', /self-approval/);
    const refusedEvents = events(log, 'approve refused');
    assert.equal(refusedEvents.length, 1);
    assert.match(refusedEvents[0]?.detail ?? '', /self-approval: carol/);
    assert.deepEqual(log.changeLog.approvals.received, []);
    assert.deepEqual(steps(fakes), ['loadPolicy']);
    assert.deepEqual(fakes.notifications[0]?.audience, ['erin']);
    assert.deepEqual(countKinds(fakes.notifications), { 'approval-requested': 1, rejected: 1 });
  });

  it('break-glass goes ahead at once and chases the owed approval with the documentation', async (t) => {
    const policy = testPolicy({ spec: { emergency: { breakGlass: true } } });
    const { taskQueue, fakes, worker } = await workerFor(t.name, { policy });
    const id = uniqueChangeId('EMG');
    const { log, owed, reminded, approved } = await worker.runUntil(async () => {
      const handle = await startChange(
        env.client,
        emergencyRequest(id, uniqueService(), { breakGlass: true }),
        { taskQueue },
      );
      const owed = await inState(handle, 'awaiting-documentation');
      // The first reminder (12h) names the approval as owed too.
      await env.sleep(13 * HOUR_MS);
      const reminded = await waitFor(
        handle,
        (s) => (s.emergency?.reminders ?? 0) === 1,
        'the first reminder',
      );
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'erin' }] });
      const approved = await handle.query(statusQuery);
      await handle.executeUpdate(documentUpdate, { args: [goodDoc] });
      const log = await handle.result();
      return { log, owed, reminded, approved };
    });

    assert.equal(owed.emergency?.breakGlass, true);
    assert.equal(owed.emergency.approvalOwed, true);
    assert.match(
      owed.timeline.find((e) => e.event === 'state: awaiting-documentation')?.detail ?? '',
      /the incident commander approval/,
    );
    assert.equal(reminded.state, 'awaiting-documentation');
    assert.equal(approved.emergency?.approvalOwed, false);
    assert.equal(approved.emergency.incidentCommander, 'erin');
    assert.equal(approved.state, 'awaiting-documentation');

    assert.equal(log.changeLog.state, 'completed');
    assert.deepEqual(states(log), [
      'preflight',
      'backing-up',
      'rolling-out',
      'watching',
      'awaiting-documentation',
      'completed',
    ]);
    const record = emergencyOf(log);
    assert.equal(record.breakGlass, true);
    assert.equal(record.approvalOwed, false);
    assert.equal(record.incidentCommander, 'erin');
    assert.equal(record.reminders, 1);
    assert.equal(record.escalations, 0);
    assert.equal(record.documentation?.late, false);
    assert.equal(events(log, 'break-glass declared').length, 1);
    assert.equal(events(log, 'owed approval given').length, 1);
    assert.equal(events(log, 'owed approval given')[0]?.actor, 'erin');
    // It rolled out before anyone approved.
    const timeline = log.changeLog.timeline.map((e) => e.event);
    assert.ok(timeline.indexOf('rollout complete') < timeline.indexOf('approved'));

    const kinds = countKinds(fakes.notifications);
    assert.deepEqual(kinds, {
      'approval-owed': 1,
      deploying: 1,
      complete: 1,
      'documentation-reminder': 1,
    });
    const owedNote = fakes.notifications.find((n) => n.kind === 'approval-owed');
    assert.deepEqual(owedNote?.audience, ['carol', 'erin']);
    const reminder = fakes.notifications.find((n) => n.kind === 'documentation-reminder');
    assert.match(reminder?.text ?? '', /the incident commander approval/);
    assert.ok(steps(fakes).includes('startRollout'));
  });

  it('reminds at 12h and 20h, escalates at 24h and daily, and records late documentation', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name);
    const id = uniqueChangeId('EMG');
    const { log, counted } = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      await inState(handle, 'awaiting-documentation');
      await env.sleep(3 * DAY_MS + 12 * HOUR_MS);
      const counted = await waitFor(
        handle,
        (s) => s.emergency?.escalations === 3,
        'three escalations',
      );
      await handle.executeUpdate(documentUpdate, { args: [{ ...goodDoc, actor: 'carol' }] });
      const log = await handle.result();
      return { log, counted };
    });

    assert.equal(counted.emergency?.reminders, 2);
    assert.equal(counted.state, 'awaiting-documentation');
    assert.equal(log.changeLog.state, 'completed');
    const record = emergencyOf(log);
    assert.equal(record.reminders, 2);
    assert.equal(record.escalations, 3);
    assert.equal(record.undocumented, false);
    assert.equal(record.documentation?.late, true);
    assert.equal(record.documentation.by, 'carol');
    assert.ok(record.documentationDueAt && record.documentation.at > record.documentationDueAt);
    assert.match(log.changeLog.change.result, /documented late by carol/);
    assert.equal(events(log, 'documented (late)').length, 1);

    // Reminders at +12h and +20h, escalations at +24h, +48h, +72h after the change ended.
    const due = Date.parse(record.documentationDueAt);
    const endedAt = due - DAY_MS;
    const offsets = (event: string) =>
      events(log, event).map((e) => Math.round((Date.parse(e.at) - endedAt) / HOUR_MS));
    assert.deepEqual(offsets('documentation reminder'), [12, 20]);
    assert.deepEqual(offsets('documentation escalation'), [24, 48, 72]);
    for (const e of events(log, 'documentation escalation')) {
      const late = (Date.parse(e.at) - due) % DAY_MS;
      assert.ok(late < TIMER_SLACK_MS, `escalation at ${e.at} is off its daily schedule`);
    }
    const kinds = countKinds(fakes.notifications);
    assert.equal(kinds['documentation-reminder'], 2);
    assert.equal(kinds['documentation-escalation'], 3);
    const escalation = fakes.notifications.find((n) => n.kind === 'documentation-escalation');
    assert.deepEqual(escalation?.audience, ['alice', 'carol', 'erin']);
  });

  it('ends completed and flagged undocumented after the policy limit', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name);
    const id = uniqueChangeId('EMG');
    const log = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'erin' }] });
      return await handle.result();
    });

    assert.equal(log.changeLog.state, 'completed');
    const record = emergencyOf(log);
    assert.equal(record.undocumented, true);
    assert.equal(record.documentation, undefined);
    assert.equal(record.reminders, 2);
    assert.equal(record.escalations, 14);
    assert.match(log.changeLog.change.result, /FLAGGED UNDOCUMENTED after 14 days/);
    const flagged = events(log, 'flagged undocumented');
    assert.equal(flagged.length, 1);
    assert.ok(record.documentationDueAt);
    const endedAt = Date.parse(record.documentationDueAt) - DAY_MS;
    const flaggedAfter = Date.parse(flagged[0]?.at ?? '') - endedAt;
    assert.ok(
      flaggedAfter >= 14 * DAY_MS && flaggedAfter < 14 * DAY_MS + TIMER_SLACK_MS,
      `flagged ${flaggedAfter} ms after the change ended`,
    );
    const kinds = countKinds(fakes.notifications);
    assert.equal(kinds['documentation-reminder'], 2);
    assert.equal(kinds['documentation-escalation'], 14);
    assert.match(
      fakes.notifications.filter((n) => n.kind === 'documentation-escalation').at(-1)?.text ?? '',
      /ESCALATION 14/,
    );
  });

  it('watches at least as long as the policy’s emergency watch, however short the request asks', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name, {});
    const id = uniqueChangeId('EMG');
    const request = emergencyRequest(id, uniqueService(), {
      verification: {
        watch: '2m',
        interval: '30s',
        metrics: [{ name: 'error-rate', query: 'sum(rate(errors[1m]))', failWhen: '> 0.01' }],
      },
    });
    await worker.runUntil(() => approvedAndDocumented(request, taskQueue));
    const watch = fakes.called('watchMetrics')[0]?.args[0] as WatchInput;
    // The test policy's emergency watch is the schema default, 10m.
    assert.equal(watch.endsAt - watch.startedAt, 10 * 60_000);
  });

  it('rolls back when the watch fails and still owes the documentation', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name, {
      // The watch fails; the check after the rollback passes.
      watch: (input, call) => Promise.resolve(watchResult(input, call === 1 ? 'failed' : 'passed')),
    });
    const id = uniqueChangeId('EMG');
    const { log, owed } = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      const owed = await inState(handle, 'awaiting-documentation');
      await handle.executeUpdate(documentUpdate, { args: [goodDoc] });
      const log = await handle.result();
      return { log, owed };
    });

    assert.ok(owed.rollout.rollback);
    assert.equal(log.changeLog.state, 'rolled-back');
    assert.deepEqual(states(log), [
      'awaiting-ic-approval',
      'preflight',
      'backing-up',
      'rolling-out',
      'watching',
      'awaiting-documentation',
      'rolled-back',
    ]);
    assert.match(log.changeLog.change.result, /^rolled back: verification failed/);
    assert.match(log.changeLog.change.result, /documented by alice/);
    assert.match(log.changeLog.rollout.rollback?.reason ?? '', /verification failed/);
    const record = emergencyOf(log);
    assert.equal(record.documentation?.late, false);
    assert.equal(record.undocumented, false);
    assert.equal(fakes.called('rollbackRollout').length, 1);
    assert.equal(fakes.called('finalizeRollout').length, 0);
    assert.deepEqual(countKinds(fakes.notifications), {
      'approval-requested': 1,
      deploying: 1,
      'rolled-back': 1,
    });
  });

  it('records a failed best-effort backup and goes on', async (t) => {
    const { taskQueue, fakes, worker } = await workerFor(t.name, {
      backupFails: 'BackupStorageLocation unavailable',
    });
    const id = uniqueChangeId('EMG');
    const log = await worker.runUntil(() =>
      approvedAndDocumented(emergencyRequest(id, uniqueService()), taskQueue),
    );
    assert.equal(log.changeLog.state, 'completed');
    assert.equal(log.changeLog.backup.name, undefined);
    assert.match(log.changeLog.backup.error ?? '', /BackupStorageLocation unavailable/);
    assert.match(log.changeLog.verification.issues, /backup: BackupStorageLocation unavailable/);
    assert.equal(events(log, 'backup failed').length, 1);
    assert.equal(fakes.called('startRollout').length, 1);
  });

  it('fails before any rollout when policy requires the backup and it fails', async (t) => {
    const policy = testPolicy({ spec: { emergency: { backupRequired: true } } });
    const { taskQueue, fakes, worker } = await workerFor(t.name, {
      policy,
      backupFails: 'BackupStorageLocation unavailable',
    });
    const id = uniqueChangeId('EMG');
    const log = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      return await handle.result();
    });
    assert.equal(log.changeLog.state, 'failed');
    assert.match(log.changeLog.change.result, /backup failed: .*nothing was changed/);
    assert.equal(fakes.called('startRollout').length, 0);
    // Nothing changed, so there is nothing to document.
    assert.equal(states(log).includes('awaiting-documentation'), false);
    assert.equal(emergencyOf(log).reminders, 0);
  });

  it('bypasses a freeze and windows, and records each bypass', async (t) => {
    const now = await env.currentTimeMs();
    const policy: Policy = testPolicy({
      spec: {
        freezes: [
          {
            name: 'year-end',
            from: new Date(now - HOUR_MS).toISOString(),
            to: new Date(now + 30 * DAY_MS).toISOString(),
            reason: 'year-end trading',
          },
        ],
        windows: [
          // Always inside a deny window, and never inside an allow window long enough.
          { name: 'always-deny', kind: 'deny', schedule: '* * * * *', duration: '1h' },
          { name: 'leap-day', kind: 'allow', schedule: '0 3 29 2 *', duration: '1m' },
        ],
      },
    });
    const { taskQueue, fakes, worker } = await workerFor(t.name, { policy });
    const id = uniqueChangeId('EMG');
    const log = await worker.runUntil(() =>
      approvedAndDocumented(emergencyRequest(id, uniqueService()), taskQueue),
    );

    assert.equal(log.changeLog.state, 'completed');
    const bypassed = log.changeLog.window.bypassed;
    assert.deepEqual(bypassed.map((b) => [b.kind, b.name]).sort(), [
      ['deny', 'always-deny'],
      ['freeze', 'year-end'],
      ['outside-allow', 'leap-day'],
    ]);
    const freeze = events(log, 'bypassed freeze');
    assert.equal(freeze.length, 1);
    assert.match(freeze[0]?.detail ?? '', /year-end trading/);
    assert.equal(events(log, 'bypassed deny').length, 1);
    assert.equal(events(log, 'bypassed outside-allow').length, 1);
    assert.ok(log.changeLog.window.scheduledFor);
    assert.ok(steps(fakes).includes('startRollout'));
    assert.equal(countKinds(fakes.notifications).scheduled, undefined);
  });

  it('refuses incomplete documentation and a review that is not a URL, naming the field', async (t) => {
    const { taskQueue, worker } = await workerFor(t.name);
    const id = uniqueChangeId('EMG');
    const log = await worker.runUntil(async () => {
      const handle = await startChange(env.client, emergencyRequest(id, uniqueService()), {
        taskQueue,
      });
      await inState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      await inState(handle, 'awaiting-documentation');
      const { rootCause: _omitted, ...noRootCause } = goodDoc;
      await assertRefused(
        handle.executeUpdate(documentUpdate, {
          args: [noRootCause as DocumentationInput],
        }),
        /missing root cause/,
      );
      await assertRefused(
        handle.executeUpdate(documentUpdate, { args: [{ ...goodDoc, changed: '  ' }] }),
        /missing what changed/,
      );
      await assertRefused(
        handle.executeUpdate(documentUpdate, { args: [{ ...goodDoc, pir: 'see slack' }] }),
        /post-incident review must be an http\(s\) URL, got "see slack"/,
      );
      await assertRefused(
        handle.executeUpdate(documentUpdate, { args: [{ ...goodDoc, actor: 'mallory' }] }),
        /unknown person 'mallory'/,
      );
      const still = await handle.query(statusQuery);
      assert.equal(still.state, 'awaiting-documentation');
      assert.equal(still.emergency?.documentation, undefined);
      // A signal cannot be answered, so its refusal is kept in the timeline instead.
      await handle.signal(documentSignal, { ...goodDoc, pir: 'wiki/INC-42' });
      await waitFor(handle, (s) => s.approvals.refused.length > 0, 'the refused signal');
      await handle.executeUpdate(documentUpdate, { args: [goodDoc] });
      return await handle.result();
    });
    assert.equal(log.changeLog.state, 'completed');
    assert.equal(emergencyOf(log).documentation?.postIncidentReview, goodDoc.pir);
    assert.equal(events(log, 'documented').length, 1);
    assert.deepEqual(
      log.changeLog.approvals.refused.map((r) => [r.by, r.action, r.via]),
      [['alice', 'document', 'signal']],
    );
    const refused = events(log, 'documentation refused');
    assert.equal(refused.length, 1);
    assert.match(refused[0]?.detail ?? '', /post-incident review must be an http\(s\) URL/);
  });

  it('goes first in the lock queue but never rolls out beside a running rollout', async (t) => {
    const service = uniqueService();
    const first = uniqueChangeId('CHG');
    const waiting = uniqueChangeId('CHG');
    const urgent = uniqueChangeId('EMG');
    let releaseFirst = (): void => undefined;
    const firstWatching = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const { taskQueue, fakes, worker } = await workerFor(t.name, {
      // The first planned change stays in its watch until the test lets it go.
      watch: async (input) => {
        if (input.changeId === first) await firstWatching;
        return watchResult(input, 'passed');
      },
    });
    const scenario = async () => {
      const lock = env.client.workflow.getHandle(`lock-production-${service}`);
      const planned = await startChange(env.client, plannedRequest(first, service), { taskQueue });
      await inState(planned, 'awaiting-approval');
      await planned.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      await planned.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
      await inState(planned, 'watching');

      const queued = await startChange(env.client, plannedRequest(waiting, service), {
        taskQueue,
      });
      await inState(queued, 'awaiting-approval');
      await queued.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      await queued.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
      await waitFor(queued, (s) => /waiting for the lock/.test(s.window.waitingFor ?? ''), 'lock');

      const emergency = await startChange(env.client, emergencyRequest(urgent, service), {
        taskQueue,
      });
      await inState(emergency, 'awaiting-ic-approval');
      await emergency.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      await waitFor(
        emergency,
        (s) => /waiting for the lock/.test(s.window.waitingFor ?? ''),
        'the emergency to queue for the lock',
      );
      const queue = await lock.query(lockStateQuery);
      assert.equal(queue.holder?.changeId, first);
      assert.deepEqual(
        queue.queue.map((q) => q.changeId),
        [urgent, waiting],
      );
      // Still only the first change has rolled out.
      assert.deepEqual(
        fakes.called('startRollout').map((c) => (c.args[0] as { changeId: string }).changeId),
        [first],
      );
      const held = await emergency.query(statusQuery);
      assert.ok(!['rolling-out', 'watching'].includes(held.state), held.state);

      releaseFirst();
      await inState(emergency, 'awaiting-documentation');
      await emergency.executeUpdate(documentUpdate, { args: [goodDoc] });
      const logs = {
        first: await planned.result(),
        urgent: await emergency.result(),
        waiting: await queued.result(),
      };
      assert.equal(logs.first.changeLog.state, 'completed');
      assert.equal(logs.urgent.changeLog.state, 'completed');
      assert.equal(logs.waiting.changeLog.state, 'completed');
      return fakes.calls
        .filter((c) => ['startRollout', 'finalizeRollout', 'releaseServiceLock'].includes(c.name))
        .map((c) => {
          const arg = c.args[0] as { changeId?: string; plan?: { changeId: string } } & {
            workflowId?: string;
          };
          const changeId =
            arg.changeId ?? arg.plan?.changeId ?? arg.workflowId?.replace(/^change-/, '');
          return `${c.name} ${changeId}`;
        });
    };
    // Let the first watch go even when an assertion fails, or the worker never shuts down.
    const order = await worker.runUntil(scenario().finally(releaseFirst));

    // One rollout at a time: each change starts only after the one before released the lock,
    // and the emergency goes before the planned change that queued first.
    const at = (entry: string) => {
      const i = order.indexOf(entry);
      assert.ok(i >= 0, `${entry} missing from ${JSON.stringify(order)}`);
      return i;
    };
    assert.ok(at(`finalizeRollout ${first}`) < at(`releaseServiceLock ${first}`));
    assert.ok(at(`releaseServiceLock ${first}`) < at(`startRollout ${urgent}`));
    assert.ok(at(`finalizeRollout ${urgent}`) < at(`releaseServiceLock ${urgent}`));
    assert.ok(at(`releaseServiceLock ${urgent}`) < at(`startRollout ${waiting}`));
  });
});
