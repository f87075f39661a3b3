/**
 * How many history events a watch costs, for a 1-hour and a 24-hour watch at a 10 s interval.
 * Runs the watch workflow (runWatch) on the time-skipping test server with a stand-in for the
 * watchMetrics activity, and counts the events of each run.
 */
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { PrometheusActivities, WatchInput, WatchResult } from '../../src/core/contracts';
import { toolPath } from '../../src/stack/tools';
import {
  evaluateMeasurement,
  initialWatchState,
  recordRound,
  summarizeWatch,
} from '../../src/core/verification/engine';
import {
  extendWatchSignal,
  watchEndsAtQuery,
  watchWorkflow,
} from '../../test/fixtures/watch-workflows';

const INTERVAL_MS = 10_000;
const HOUR_MS = 3_600_000;

/** While set, the stand-in holds its segment until the bench has sent an extension. */
let extensionSent: Promise<void> | undefined;

/**
 * Does what the real activity does per round, minus Prometheus and the waiting: every 10 s
 * round of the watch is judged by the real engine and heartbeated, then it returns `passed`
 * at endsAt. Nothing here waits, so the run takes seconds whatever the watch's length.
 */
const watchActivities: Pick<PrometheusActivities, 'watchMetrics'> = {
  async watchMetrics(input: WatchInput): Promise<WatchResult> {
    await extensionSent;
    const limits = {
      failureLimit: input.failureLimit,
      inconclusiveLimit: input.inconclusiveLimit,
      consecutiveErrorLimit: input.consecutiveErrorLimit,
    };
    let state = input.state ?? initialWatchState();
    const first =
      state.lastRoundAt === undefined ? input.startedAt : state.lastRoundAt + input.intervalMs;
    for (let at = first; at < input.endsAt; at += input.intervalMs) {
      const iso = new Date(at).toISOString();
      const round = input.metrics.map((m) =>
        evaluateMeasurement(m, 0.002, input.baseline[m.name], iso),
      );
      state = recordRound(state, round, limits, at).state;
      Context.current().heartbeat(state);
    }
    return { outcome: 'passed', reason: summarizeWatch(state), state, endedAt: input.endsAt };
  },
};

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
  try {
    const workflowsPath = fileURLToPath(
      new URL('../../test/fixtures/watch-workflows.ts', import.meta.url),
    );
    const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: quiet });
    const taskQueue = 'bench-watch-history';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: watchActivities,
    });
    const measure = async (watchMs: number, extendByMs?: number): Promise<void> => {
      const workflowId = `bench-watch-${watchMs}-${extendByMs ?? 0}-${Date.now()}`;
      let send: () => void = () => undefined;
      extensionSent = extendByMs ? new Promise((resolve) => (send = resolve)) : undefined;
      const handle = await env.client.workflow.start(watchWorkflow, {
        taskQueue,
        workflowId,
        args: [
          {
            changeId: 'BENCH-1',
            metrics: [
              { name: 'error-rate', query: 'vector(0.002)', failWhen: '> 0.01' },
              { name: 'p99-latency', query: 'vector(0.002)', failWhen: '> 0.2' },
            ],
            baseline: {},
            intervalMs: INTERVAL_MS,
            watchMs,
            failureLimit: 3,
            inconclusiveLimit: 3,
            consecutiveErrorLimit: 4,
          },
        ],
      });
      if (extendByMs) {
        const endsAt = await handle.query(watchEndsAtQuery);
        await handle.signal(extendWatchSignal, endsAt + extendByMs);
        extensionSent = undefined;
        send();
      }
      const { startedAt, endsAt, result } = await handle.result();
      const history = await handle.fetchHistory();
      const events = history.events?.length ?? 0;
      const rounds = Math.ceil((endsAt - startedAt) / INTERVAL_MS);
      const bytes = JSON.stringify(result).length;
      const label = `watch ${watchMs / HOUR_MS}h @${INTERVAL_MS / 1000}s${
        extendByMs ? ` extended once by ${extendByMs / HOUR_MS}h` : ''
      }`;
      console.log(
        `${label}: ${events} history events (${rounds} rounds, ` +
          `${result.state.measurementsTaken} measurements, result ${(bytes / 1024).toFixed(1)} KiB)`,
      );
    };
    await worker.runUntil(async () => {
      await measure(HOUR_MS);
      await measure(24 * HOUR_MS);
      await measure(24 * HOUR_MS, 24 * HOUR_MS);
    });
    console.log(
      [
        '',
        'What was measured: the events each workflow run recorded on the time-skipping server.',
        'watchMetrics was a stand-in that judged and heartbeated every round with the real engine',
        'and returned at once; the real activity spends the watch sleeping between rounds instead.',
        'Heartbeats are not history events, so the count is the same for the real activity: each',
        'segment of a watch is one ActivityTaskScheduled/Started/Completed whatever its length,',
        'and an extension adds one segment (its count moves by a few events with when the signal',
        'lands among workflow tasks). Not measured here: a worker crash mid-watch (its',
        'retried attempt adds no event; the dev-server test checks one ActivityTaskScheduled).',
      ].join('\n'),
    );
  } finally {
    await env.teardown();
  }
}

const noop = (): void => undefined;
const quiet = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};

await main();
