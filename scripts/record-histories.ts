/**
 * Records the workflow histories that test/workflows/replay.test.ts replays against the current
 * workflow code. Each path runs on its own time-skipping server with the test fakes, checks that
 * it ended the way its name says, and is replayed from its JSON before the fixture is written, so
 * a fixture that would not replay is never saved. Exits 1 if any path could not be recorded.
 *
 *   npm run record-histories                        # every path
 *   npm run record-histories -- planned-completed   # only the named ones
 *
 * Change ids, the task queue and every input are fixed, so recording again changes only ids and
 * times inside the history, unless the workflow code changed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { changeWorkflowId, type ChangeRequest } from '../src/core/change/request';
import type { ChangeLog, ChangeState } from '../src/core/lifecycle/status';
import { changeStateKey } from '../src/core/search-attributes';
import { startChange, type ChangeWorkflow } from '../src/temporal/start';
import { approveUpdate, cancelSignal, documentUpdate } from '../workflows/messages';
import {
  createFakeActivities,
  type ChangeActivities,
  testPolicy,
  testRequest,
  watchResult,
  type FakeScenario,
} from '../test/helpers/fakes';
import { historyFromJson, historyToJson, type History } from '../test/helpers/history-json';
import { createTimeSkippingEnv, workflowBundle } from '../test/helpers/temporal';

const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
const historiesDir = fileURLToPath(new URL('../test/fixtures/histories/', import.meta.url));
const taskQueue = 'record-histories';
/** Real time a recording may wait for one state, and for the whole path, before it gives up. */
const STATE_TIMEOUT_MS = 30_000;
const PATH_TIMEOUT_MS = 120_000;

type Handle = WorkflowHandle<ChangeWorkflow>;
type HistoryEvent = NonNullable<History['events']>[number];

interface Recording {
  name: string;
  request: ChangeRequest;
  scenario?: (client: Client) => FakeScenario;
  /** Activities that replace the fakes' own for this path. */
  activities?: (client: Client, fakes: ChangeActivities) => Partial<ChangeActivities>;
  /** Sends the path's messages; runs while the worker does. */
  drive?: (handle: Handle) => Promise<void>;
  /** What the change log must show, or the recording is of the wrong path. */
  expect: (log: ChangeLog) => string | undefined;
}

const emergencyRequest = (id: string) =>
  testRequest(id, { type: 'emergency', incident: 'INC-42' }, { title: 'Hotfix api-gateway' });

/** A blue/green change to api-gateway with the default cleanup delay. */
const blueGreenRequest = (id: string) =>
  testRequest(id, {
    rollout: {
      strategy: 'blueGreen',
      target: { kind: 'Deployment', name: 'api-gateway' },
      service: 'api-gateway',
      image: 'registry.example.com/api-gateway:2.5.0',
      timeout: '10m',
    },
  });

/** A canary of api-gateway with an analysed pause, and a check beside the metric. */
const canaryRequest = (id: string) => {
  const request = testRequest(id, {
    rollout: {
      strategy: 'canary',
      target: { kind: 'Deployment', name: 'api-gateway' },
      image: 'registry.example.com/api-gateway:2.5.0',
      steps: [{ setWeight: 20 }, { pause: '2m' }, { setWeight: 60 }],
      timeout: '10m',
    },
  });
  request.spec.verification.checks = [{ name: 'pods-ready', podsReady: {} }];
  return request;
};

const recordings: Recording[] = [
  {
    name: 'planned-completed',
    request: testRequest('REPLAY-1'),
    drive: async (handle) => {
      await waitForState(handle, 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave', comment: 'lgtm' }] });
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
    },
    expect: (log) => expectState(log, 'completed'),
  },
  {
    name: 'planned-rolled-back',
    request: testRequest('REPLAY-2'),
    scenario: () => ({
      // The watch breaches; the check after the rollback finds the service healthy again.
      watch: (input, call) => Promise.resolve(watchResult(input, call === 1 ? 'failed' : 'passed')),
    }),
    drive: approveTwice,
    expect: (log) => expectState(log, 'rolled-back'),
  },
  {
    name: 'planned-cancelled',
    request: testRequest('REPLAY-3'),
    scenario: (client) => ({
      watch: async (input, call) => {
        if (call > 1) return watchResult(input, 'passed');
        const workflowId = changeWorkflowId(input.changeId);
        await client.workflow
          .getHandle(workflowId)
          .signal(cancelSignal, { actor: 'bob', reason: 'customer reports errors' });
        // Heartbeat only once the cancellation is in history: every heartbeat of an activity
        // whose cancellation is pending costs a workflow task on the time-skipping server.
        await waitForEvent(
          client,
          workflowId,
          (event) => event.activityTaskCancelRequestedEventAttributes != null,
          2,
        );
        return await heartbeatUntilCancelled();
      },
    }),
    // The rollback waits until the cancelled watch is closed in history, so the two never race.
    activities: (client, fakes) => ({
      rollbackRollout: async (input) => {
        await waitForEvent(
          client,
          changeWorkflowId(input.plan.changeId),
          (event) => event.activityTaskCanceledEventAttributes != null,
          1,
        );
        return await fakes.rollbackRollout(input);
      },
    }),
    drive: approveTwice,
    expect: (log) =>
      expectState(log, 'cancelled') ??
      (log.changeLog.rollout.rollback
        ? undefined
        : 'expected a rollback before the cancel ended it'),
  },
  {
    name: 'planned-blue-green-completed',
    request: blueGreenRequest('REPLAY-6'),
    // As the blue/green strategy reports: green serves, the original deployment served.
    activities: () => ({
      startRollout: (plan) =>
        Promise.resolve({
          strategy: 'blueGreen' as const,
          activeDeployment: `${plan.deployment}-green`,
          previousDeployment: plan.deployment,
          previousSelector: { app: plan.deployment },
          ...(plan.image ? { image: plan.image } : {}),
          appliedObjects: [`Deployment/${plan.deployment}-green`, `Service/${plan.deployment}`],
          message: `switched to ${plan.deployment}-green`,
        }),
    }),
    drive: approveTwice,
    expect: (log) =>
      expectState(log, 'completed') ??
      (log.changeLog.rollout.cleanup?.deletedAt ? undefined : 'expected the old colour deleted'),
  },
  {
    name: 'planned-canary-completed',
    request: canaryRequest('REPLAY-7'),
    drive: approveTwice,
    expect: (log) => expectState(log, 'completed'),
  },
  {
    name: 'emergency-completed',
    request: emergencyRequest('REPLAY-4'),
    drive: async (handle) => {
      await waitForState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      await waitForState(handle, 'awaiting-documentation');
      await handle.executeUpdate(documentUpdate, {
        args: [
          {
            actor: 'alice',
            rootCause: 'JWT refresh loop under load',
            changed: 'api-gateway 2.4.3 → 2.5.0',
            pir: 'https://wiki.example.com/pir/INC-42',
          },
        ],
      });
    },
    expect: (log) =>
      expectState(log, 'completed') ??
      (log.changeLog.emergencyRecord?.documentation?.late === false
        ? undefined
        : 'expected documentation on time'),
  },
  {
    name: 'emergency-undocumented',
    request: emergencyRequest('REPLAY-5'),
    // Two days instead of fourteen keep the fixture small; every kind of timer still fires.
    scenario: () => ({
      policy: testPolicy({ spec: { emergency: { documentation: { maxDays: 2 } } } }),
    }),
    drive: async (handle) => {
      await waitForState(handle, 'awaiting-ic-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
    },
    expect: (log) => {
      const record = log.changeLog.emergencyRecord;
      if (log.changeLog.state !== 'completed' || !record?.undocumented)
        return `expected completed and flagged undocumented, got ${log.changeLog.state}`;
      if (record.reminders < 1 || record.escalations < 1)
        return `expected reminders and escalations, got ${record.reminders} and ${record.escalations}`;
      return undefined;
    },
  },
];

async function approveTwice(handle: Handle): Promise<void> {
  await waitForState(handle, 'awaiting-approval');
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
}

function expectState(log: ChangeLog, state: ChangeLog['changeLog']['state']): string | undefined {
  return log.changeLog.state === state
    ? undefined
    : `expected ${state}, got ${log.changeLog.state}: ${log.changeLog.change.result}`;
}

/**
 * Waits until the change is in `state` with nothing in flight: no workflow task and no activity
 * open. It reads history rather than querying the workflow: the time-skipping server answers a
 * query with a workflow task, which would land in the fixture a different number of times on
 * every recording.
 */
async function waitForState(handle: Handle, state: ChangeState): Promise<void> {
  const deadline = Date.now() + STATE_TIMEOUT_MS;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const current = changeStateIn(events);
    if (current === state && isIdle(events)) return;
    if (Date.now() > deadline)
      throw new Error(`${handle.workflowId} never rested in ${state}; it is ${current}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until history holds an event that `matches`, no workflow task is in flight and at most
 * `openActivities` activities are open (the ones the caller runs in).
 */
async function waitForEvent(
  client: Client,
  workflowId: string,
  matches: (event: HistoryEvent) => boolean,
  openActivities: number,
): Promise<void> {
  const deadline = Date.now() + STATE_TIMEOUT_MS;
  for (;;) {
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    if (events.some(matches) && isIdle(events, openActivities)) return;
    if (Date.now() > deadline) throw new Error(`${workflowId}: the awaited event never came`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The last ChangeState the workflow upserted (or started with). */
function changeStateIn(events: HistoryEvent[]): string | undefined {
  let state: string | undefined;
  for (const event of events) {
    const payload =
      event.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields?.[
        changeStateKey.name
      ] ??
      event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[
        changeStateKey.name
      ];
    if (payload) state = defaultPayloadConverter.fromPayload<string>(payload);
  }
  return state;
}

/** No workflow task in flight and at most `openActivities` activities open. */
function isIdle(events: HistoryEvent[], openActivities = 0): boolean {
  const last = events[events.length - 1];
  if (last?.workflowTaskScheduledEventAttributes || last?.workflowTaskStartedEventAttributes)
    return false;
  const open = new Set<string>();
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes) open.add(String(event.eventId));
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (closed) open.delete(String(closed.scheduledEventId));
  }
  return open.size <= openActivities;
}

/** Ends the watch the way a cancelled one ends: its heartbeat learns of the cancellation. */
async function heartbeatUntilCancelled(): Promise<never> {
  const context = Context.current();
  context.heartbeat();
  // Rejects with a CancelledFailure once the cancellation arrives.
  return await context.cancelled;
}

async function record(recording: Recording): Promise<History> {
  const env: TestWorkflowEnvironment = await createTimeSkippingEnv();
  try {
    const fakes = createFakeActivities(env.client, recording.scenario?.(env.client) ?? {});
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      // A fixed identity instead of pid@host: one less thing that differs between recordings.
      identity: 'record-histories',
      workflowBundle: await workflowBundle(workflowsPath),
      activities: {
        ...fakes.activities,
        ...recording.activities?.(env.client, fakes.activities),
      },
      // Cancellation reaches an activity with its next heartbeat; do not hold heartbeats back.
      maxHeartbeatThrottleInterval: '50ms',
      defaultHeartbeatThrottleInterval: '50ms',
    });
    return await worker.runUntil(
      withTimeout(PATH_TIMEOUT_MS, `${recording.name} did not end`, async () => {
        const handle = await startChange(env.client, recording.request, {
          taskQueue,
          submittedAt: '2026-01-01T00:00:00.000Z',
        });
        await recording.drive?.(handle);
        const log = await handle.result();
        const wrong = recording.expect(log);
        if (wrong) throw new Error(`${recording.name}: ${wrong}`);
        return await handle.fetchHistory();
      }),
    );
  } finally {
    await env.teardown();
  }
}

/** A path that changed so that it never ends fails the recording instead of hanging it. */
async function withTimeout<T>(ms: number, message: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !recordings.some((r) => r.name === name));
  if (unknown.length) {
    console.error(
      `unknown history: ${unknown.join(', ')}; known: ${recordings.map((r) => r.name).join(', ')}`,
    );
    process.exit(2);
  }
  const chosen = wanted.length ? recordings.filter((r) => wanted.includes(r.name)) : recordings;
  await mkdir(historiesDir, { recursive: true });
  const bundle = await workflowBundle(workflowsPath);
  const failed: string[] = [];
  for (const recording of chosen) {
    try {
      const history = await record(recording);
      const json = historyToJson(history);
      // Replayed as the replay test will read it, so a fixture that fails there is never written.
      await Worker.runReplayHistory(
        { workflowBundle: bundle, replayName: recording.name },
        historyFromJson(JSON.parse(json)),
        changeWorkflowId(recording.request.metadata.id),
      );
      const path = `${historiesDir}${recording.name}.json`;
      await writeFile(path, json);
      console.log(`wrote ${relative(process.cwd(), path)} (${history.events?.length ?? 0} events)`);
    } catch (err) {
      failed.push(recording.name);
      console.error(`${recording.name}: not recorded:`, err);
    }
  }
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

await main();
