/**
 * How many history events a whole planned change costs, on the time-skipping test server with
 * the test suite's stand-in activities: approved and completed; approved, held for a nightly
 * window, then completed; and rolled back after a failed watch. The count is what Temporal
 * stores and replays per change; the stand-ins answer at once, and the real activities add no
 * events of their own (their heartbeats and retries are not history events).
 */
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { changeWorkflowId } from '../../src/core/change/request';
import { changeSearchAttributes } from '../../src/core/search-attributes';
import { indexedValueTypes } from '../../src/temporal/search-attributes';
import { startChange } from '../../src/temporal/start';
import { toolPath } from '../../src/stack/tools';
import { approveUpdate, statusQuery } from '../../workflows/messages';
import {
  createFakeActivities,
  testPolicy,
  testRequest,
  type FakeScenario,
} from '../../test/helpers/fakes';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

interface Scenario {
  label: string;
  fakes: FakeScenario;
}

const scenarios: Scenario[] = [
  { label: 'normal change, 2 approvals, completed', fakes: {} },
  {
    label: 'same, held for a nightly window first',
    fakes: {
      policy: testPolicy({
        spec: {
          windows: [
            {
              name: 'nightly',
              kind: 'allow',
              schedule: '0 2 * * *',
              duration: '4h',
              timeZone: 'UTC',
              environments: ['production'],
            },
          ],
        },
      }),
    },
  },
  { label: 'normal change, watch failed, rolled back', fakes: { watch: 'failed' } },
];

/** `activityTaskScheduledEventAttributes` → `ActivityTaskScheduled`. */
function eventName(event: object): string {
  for (const [key, value] of Object.entries(event)) {
    if (value && key.endsWith('EventAttributes')) {
      const name = key.slice(0, -'EventAttributes'.length);
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return 'Unknown';
}

const noop = (): void => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

type Fakes = ReturnType<typeof createFakeActivities>;

/**
 * Runs one change through approvals to its end. All scenarios share one worker (whose
 * activities answer as the current scenario's stand-ins) and one task queue, as a deployment
 * does: the per-service lock workflow outlives each change and must keep finding a worker.
 */
async function runChange(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  id: string,
): Promise<string> {
  const handle = await startChange(env.client, testRequest(id), { taskQueue });
  for (;;) {
    const s = await handle.query(statusQuery);
    if (s.state === 'awaiting-approval') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
  const log = await handle.result();
  return log.changeLog.state;
}

async function printHistory(
  env: TestWorkflowEnvironment,
  scenario: Scenario,
  id: string,
  state: string,
): Promise<void> {
  const history = await env.client.workflow.getHandle(changeWorkflowId(id)).fetchHistory();
  const events = history.events ?? [];
  const counts = new Map<string, number>();
  for (const event of events) {
    const name = eventName(event);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const of = (name: string) => counts.get(name) ?? 0;
  console.log(
    `${scenario.label.padEnd(42)} ${String(events.length).padStart(4)} events ` +
      `(ended ${state}; ${of('ActivityTaskScheduled')} activities, ${of('TimerStarted')} timers, ` +
      `${of('WorkflowTaskCompleted')} workflow tasks, ${of('WorkflowExecutionUpdateAccepted')} updates, ` +
      `${of('WorkflowExecutionSignaled')} signals, ${of('SignalExternalWorkflowExecutionInitiated')} signals sent)`,
  );
}

Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
});
const env = await TestWorkflowEnvironment.createTimeSkipping({
  server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
});
try {
  // Registered as on a real namespace; the test server adds them but cannot list them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: indexedValueTypes(changeSearchAttributes),
  });
  const taskQueue = `bench-change-history-${Date.now()}`;
  let current: Fakes = createFakeActivities(env.client);
  const activities = Object.fromEntries(
    Object.keys(current.activities).map((name) => [
      name,
      (...args: unknown[]) =>
        (current.activities[name as keyof Fakes['activities']] as (...a: unknown[]) => unknown)(
          ...args,
        ),
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: quiet }),
    activities,
  });
  await worker.runUntil(async () => {
    for (const scenario of scenarios) {
      current = createFakeActivities(env.client, scenario.fakes);
      const id = `BENCH-${Date.now()}`;
      const state = await runChange(env, taskQueue, id);
      await printHistory(env, scenario, id, state);
    }
  });
  console.log(
    [
      '',
      'What was measured: the events of each change workflow, approved by two people (updates),',
      'with stand-in activities that answer at once. The real activities add no events: a watch',
      'of any length is one activity, heartbeats and retries are not events. Not counted: the',
      "per-service lock workflow's own history (a few events per change it serves).",
    ].join('\n'),
  );
} finally {
  await env.teardown();
}
