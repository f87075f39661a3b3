import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequestInput } from '../../src/core/change/request';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange, type ChangeWorkflow } from '../../src/temporal/start';
import { rescheduleSignal } from '../../workflows/messages';
import { createFakeActivities, testPolicy, testRequest } from '../helpers/fakes';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';
import { changeWorker, uniqueService, waitForStatus as pollStatus } from '../helpers/planned-run';

const HOUR_MS = 3_600_000;

type Handle = WorkflowHandle<ChangeWorkflow>;
type Spec = Partial<ChangeRequestInput['spec']>;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A standard change in staging (pre-approved by the test policy, so it goes straight to its
 * window) to a service of its own: the per-service lock workflow outlives a test, so tests
 * sharing one server never share a lock.
 */
function standardChange(id: string, spec: Spec = {}) {
  const service = uniqueService();
  return testRequest(id, {
    type: 'standard',
    standard: 'image-bump',
    environment: 'staging',
    namespace: 'staging',
    services: [service],
    rollout: {
      strategy: 'rolling',
      target: { kind: 'Deployment', name: service },
      image: `registry.example.com/${service}:2.5.0`,
      timeout: '10m',
    },
    ...spec,
  });
}

/** Polls the status query for up to 10 s. */
const waitForStatus = (handle: Handle, ready: (s: ChangeStatus) => boolean, what: string) =>
  pollStatus(handle, ready, what, 10000);

/** Waits until the change sleeps for its start (its 'scheduled' notice is out). */
const waitingForStart = (handle: Handle) =>
  waitForStatus(
    handle,
    (s) => s.state === 'scheduled' && s.timeline.some((e) => e.event === 'scheduled'),
    'waiting for its start',
  );

/** When the change log's first `event` happened, in epoch ms. */
function eventAt(log: ChangeLog, event: string): number {
  const entry = log.changeLog.timeline.find((e) => e.event === event);
  assert.ok(entry, `no '${event}' in the timeline`);
  return Date.parse(entry.at);
}

describe('planned change: windows, freezes and requested start', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /**
   * Starts the change under `policy` and runs `whileWaiting` once it sleeps for its start; then
   * lets time skip to the end. `now` is the test server's clock, which earlier tests moved on.
   */
  async function runChange(
    title: string,
    setup: (now: number) => {
      policy?: ReturnType<typeof testPolicy>;
      spec?: Spec;
      whileWaiting?: (handle: Handle, waiting: ChangeStatus) => Promise<void>;
    },
  ) {
    const now = await env.currentTimeMs();
    const hour = now - (now % HOUR_MS);
    const { policy, spec, whileWaiting } = setup(hour);
    const fakes = createFakeActivities(env.client, policy ? { policy } : {});
    const worker = await changeWorker(env, title, fakes.activities);
    const { taskQueue } = worker.options;
    const id = uniqueChangeId('WIN');
    const run = await worker.runUntil(async () => {
      const handle = await startChange(env.client, standardChange(id, spec), { taskQueue });
      const waiting = await waitingForStart(handle);
      // Nothing past the policy happens while the change sleeps.
      const early = fakes.calls.map((c) => c.name).filter((n) => n !== 'notify');
      await whileWaiting?.(handle, waiting);
      const log = await handle.result();
      return { waiting, early, log };
    });
    assert.deepEqual(run.early, ['loadPolicy']);
    assert.equal(run.log.changeLog.state, 'completed');
    const scheduled = fakes.notifications.filter((n) => n.kind === 'scheduled');
    assert.ok(scheduled.length >= 1, 'no scheduled notification');
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind).filter((k) => k !== 'scheduled'),
      ['deploying', 'complete'],
    );
    const inside = run.log.changeLog.verification.tests;
    assert.match(inside, /passed: inside the window/);
    return { ...run, fakes, hour, scheduled };
  }

  it('sleeps until the allow window opens, then rolls out inside it', async (t) => {
    let opens = 0;
    const { waiting, log, scheduled } = await runChange(t.name, (hour) => {
      opens = hour + 3 * HOUR_MS;
      const policy = testPolicy({
        spec: {
          windows: [
            {
              name: 'nightly',
              kind: 'allow',
              schedule: `0 ${new Date(opens).getUTCHours()} * * *`,
              duration: '2h',
              timeZone: 'UTC',
            },
          ],
        },
      });
      return { policy };
    });
    assert.equal(waiting.window.scheduledFor, iso(opens));
    assert.equal(waiting.window.windowEnd, iso(opens + 2 * HOUR_MS));
    assert.deepEqual(waiting.window.windowNames, ['nightly']);
    assert.match(waiting.window.waitingFor ?? '', /outside allow window 'nightly'/);
    const entry = waiting.timeline.find((e) => e.event === 'scheduled');
    assert.equal(entry?.actor, 'policy');
    assert.match(scheduled[0]?.text ?? '', new RegExp(`SCHEDULED: .* for ${iso(opens)}`));

    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= opens, `rolled out at ${iso(rollingOut)}, before ${iso(opens)}`);
    assert.ok(
      rollingOut < opens + 2 * HOUR_MS,
      `rolled out at ${iso(rollingOut)}, after it closed`,
    );
    assert.ok(eventAt(log, 'lock acquired') >= opens);
    const when = Date.parse(log.changeLog.window.scheduledFor ?? '');
    assert.ok(when >= opens && when < opens + 2 * HOUR_MS);
    assert.deepEqual(log.changeLog.window.windowNames, ['nightly']);
    assert.equal(log.changeLog.window.waitingFor, undefined);
  });

  it('waits out a deny window, which wins over an open allow window', async (t) => {
    let denyEnds = 0;
    const { waiting, log } = await runChange(t.name, (hour) => {
      denyEnds = hour + 3 * HOUR_MS;
      const now = `0 ${new Date(hour).getUTCHours()} * * *`;
      const policy = testPolicy({
        spec: {
          windows: [
            { name: 'business', kind: 'allow', schedule: now, duration: '8h', timeZone: 'UTC' },
            { name: 'batch-jobs', kind: 'deny', schedule: now, duration: '3h', timeZone: 'UTC' },
          ],
        },
      });
      return { policy };
    });
    assert.equal(waiting.window.scheduledFor, iso(denyEnds));
    assert.match(
      waiting.window.waitingFor ?? '',
      new RegExp(`deny window 'batch-jobs'.* until ${iso(denyEnds).replace('.000Z', 'Z')}`),
    );
    assert.doesNotMatch(waiting.window.waitingFor ?? '', /business/);
    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= denyEnds, `rolled out at ${iso(rollingOut)}, inside the deny window`);
    assert.deepEqual(log.changeLog.window.windowNames, ['business']);
  });

  it('holds a standard change until a freeze ends', async (t) => {
    let thaw = 0;
    const { waiting, log } = await runChange(t.name, (hour) => {
      thaw = hour + 5 * HOUR_MS;
      const policy = testPolicy({
        spec: {
          freezes: [
            {
              name: 'year-end',
              from: iso(hour - HOUR_MS),
              to: iso(thaw),
              reason: 'year-end sales',
              environments: ['staging'],
            },
          ],
        },
      });
      return { policy };
    });
    assert.equal(waiting.window.scheduledFor, iso(thaw));
    assert.match(waiting.window.waitingFor ?? '', /freeze 'year-end': year-end sales/);
    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= thaw, `rolled out at ${iso(rollingOut)}, during the freeze`);
  });

  it("does not start before the request's notBefore", async (t) => {
    let notBefore = 0;
    const { waiting, log } = await runChange(t.name, (hour) => {
      notBefore = hour + 2 * HOUR_MS;
      return { spec: { window: { notBefore: iso(notBefore) } } };
    });
    assert.equal(waiting.window.notBefore, iso(notBefore));
    assert.equal(waiting.window.scheduledFor, iso(notBefore));
    assert.match(waiting.window.waitingFor ?? '', /not before the requested time/);
    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= notBefore, `rolled out at ${iso(rollingOut)}, before notBefore`);
  });

  it('moves a waiting change earlier when rescheduled', async (t) => {
    let first = 0;
    let moved = 0;
    let rescheduled: ChangeStatus | undefined;
    const { log } = await runChange(t.name, (hour) => {
      first = hour + 48 * HOUR_MS;
      moved = hour + 2 * HOUR_MS;
      return {
        spec: { window: { notBefore: iso(first) } },
        whileWaiting: async (handle, waiting) => {
          assert.equal(waiting.window.scheduledFor, iso(first));
          await handle.signal(rescheduleSignal, { actor: 'alice', notBefore: iso(moved) });
          rescheduled = await waitForStatus(
            handle,
            (s) => s.window.scheduledFor === iso(moved),
            'the new start',
          );
        },
      };
    });
    assert.equal(rescheduled?.state, 'scheduled');
    assert.equal(rescheduled?.window.notBefore, iso(moved));
    const entry = log.changeLog.timeline.find((e) => e.event === 'rescheduled');
    assert.equal(entry?.actor, 'alice');
    assert.equal(entry?.detail, `not before ${iso(moved)}`);
    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= moved, `rolled out at ${iso(rollingOut)}, before the new start`);
    assert.ok(rollingOut < first, `rolled out at ${iso(rollingOut)}: the old timer held it`);
  });

  it('moves a change waiting for a window to the next window when rescheduled past it', async (t) => {
    let opens = 0;
    let moved = 0;
    const { log, scheduled } = await runChange(t.name, (hour) => {
      opens = hour + 3 * HOUR_MS;
      moved = opens + HOUR_MS;
      const policy = testPolicy({
        spec: {
          windows: [
            {
              name: 'nightly',
              kind: 'allow',
              schedule: `0 ${new Date(opens).getUTCHours()} * * *`,
              duration: '2h',
              timeZone: 'UTC',
            },
          ],
        },
      });
      return {
        policy,
        whileWaiting: async (handle) => {
          await handle.signal(rescheduleSignal, { actor: 'bob', notBefore: iso(moved) });
          // An hour into the window leaves 1h, room for the 25m the change needs.
          await waitForStatus(handle, (s) => s.window.scheduledFor === iso(moved), 'the new start');
          await handle.signal(rescheduleSignal, {
            actor: 'bob',
            notBefore: iso(opens + 100 * 60_000),
          });
          await waitForStatus(
            handle,
            (s) => s.window.scheduledFor === iso(opens + 24 * HOUR_MS),
            'the next window',
          );
        },
      };
    });
    // 1h40m into a 2h window leaves 20m, too little: the next night's window it is.
    const nextNight = opens + 24 * HOUR_MS;
    assert.equal(log.changeLog.window.notBefore, iso(opens + 100 * 60_000));
    assert.equal(
      log.changeLog.timeline.filter((e) => e.event === 'rescheduled' && e.actor === 'bob').length,
      2,
    );
    const rollingOut = eventAt(log, 'state: rolling-out');
    assert.ok(rollingOut >= nextNight, `rolled out at ${iso(rollingOut)}, not the next window`);
    assert.ok(rollingOut < nextNight + 2 * HOUR_MS);
    assert.ok(scheduled.some((n) => n.text.includes(iso(nextNight))));
  });
});
