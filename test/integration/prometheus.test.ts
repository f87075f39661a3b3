import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Worker } from '@temporalio/worker';
import { createPrometheusActivities } from '../../activities/prometheus';
import type {
  MetricCheck,
  PrometheusActivities,
  WatchInput,
  WatchResult,
  WatchState,
} from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import type { PrometheusConfig } from '../../src/prometheus/api';
import { initialWatchState, isWatchState } from '../../src/core/verification/engine';
import { startTestPrometheus, waitUntil, type TestPrometheus } from '../helpers/prometheus';
import {
  createDevServerEnv,
  uniqueChangeId,
  uniqueTaskQueue,
  uniqueWorkflowId,
  workflowBundle,
} from '../helpers/temporal';
import {
  extendWatchSignal,
  watchWorkflow,
  type WatchWorkflowInput,
} from '../fixtures/watch-workflows';

const workflowsPath = fileURLToPath(new URL('../fixtures/watch-workflows.ts', import.meta.url));

const errorRate: MetricCheck = {
  name: 'error-rate',
  query:
    'sum(rate(http_requests_total{service="demo",code=~"5.."}[5s])) / sum(rate(http_requests_total{service="demo"}[5s]))',
  failWhen: '> 0.01',
};
const latency: MetricCheck = {
  name: 'p99-latency',
  query:
    'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{service="demo"}[5s])) by (le))',
  failWhen: '> baseline * 2',
};

const alertRules = `
groups:
  - name: changectl-test
    rules:
      - alert: ChangectlAlwaysFiring
        expr: vector(1)
        for: 0s
        labels:
          severity: test
`;

/**
 * The service under watch: counters and a latency histogram that grow at 200 requests a
 * second while it is scraped, with an error share the test switches.
 */
interface DemoService {
  url: string;
  setErrorShare(share: number): void;
  close(): Promise<void>;
}

const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1];

async function startDemoService(): Promise<DemoService> {
  let errorShare = 0;
  let last = Date.now();
  const totals = { ok: 0, errors: 0, seconds: 0 };
  const server = createServer((_request, response) => {
    const now = Date.now();
    const requests = ((now - last) / 1000) * 200;
    last = now;
    totals.errors += requests * errorShare;
    totals.ok += requests * (1 - errorShare);
    totals.seconds += requests * 0.04;
    const count = totals.ok + totals.errors;
    const labels = 'service="demo"';
    response.setHeader('content-type', 'text/plain; version=0.0.4');
    response.end(
      [
        '# TYPE http_requests_total counter',
        `http_requests_total{${labels},code="200"} ${totals.ok}`,
        `http_requests_total{${labels},code="500"} ${totals.errors}`,
        '# TYPE http_request_duration_seconds histogram',
        // Every request takes 40 ms, so all fall in the first bucket.
        ...BUCKETS.map(
          (le) => `http_request_duration_seconds_bucket{${labels},le="${le}"} ${count}`,
        ),
        `http_request_duration_seconds_bucket{${labels},le="+Inf"} ${count}`,
        `http_request_duration_seconds_sum{${labels}} ${totals.seconds}`,
        `http_request_duration_seconds_count{${labels}} ${count}`,
        '',
      ].join('\n'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    setErrorShare: (share) => {
      errorShare = share;
    },
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
}

function watchInput(overrides: Partial<WatchInput> & { watchMs: number }): WatchInput {
  const { watchMs, ...rest } = overrides;
  const startedAt = Date.now();
  return {
    changeId: uniqueChangeId(),
    metrics: [errorRate],
    baseline: {},
    intervalMs: 1_000,
    startedAt,
    endsAt: startedAt + watchMs,
    failureLimit: 0,
    inconclusiveLimit: 3,
    consecutiveErrorLimit: 3,
    ...rest,
  };
}

interface ActivityRunner {
  run<R>(activity: () => Promise<R>): Promise<R>;
  cancel(): void;
  /** Every WatchState heartbeated so far. */
  heartbeats: WatchState[];
}

/**
 * Runs activities outside a worker, with a context that records heartbeats; `heartbeatDetails`
 * makes it a retried attempt that finds the previous attempt's last heartbeat.
 */
function activityEnvironment(heartbeatDetails?: unknown): ActivityRunner {
  const info = heartbeatDetails === undefined ? undefined : { heartbeatDetails, attempt: 2 };
  // Expected failures would otherwise be logged as warnings.
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  const heartbeats: WatchState[] = [];
  env.on('heartbeat', (details: unknown) => {
    if (isWatchState(details)) heartbeats.push(details);
  });
  return {
    run: (activity) => env.run(activity),
    cancel: () => env.cancel(),
    heartbeats,
  };
}

function isQueryInvalid(error: unknown): boolean {
  return (
    error instanceof ApplicationFailure &&
    error.type === FailureType.QueryInvalid &&
    error.nonRetryable === true
  );
}

function isUnavailable(error: unknown): boolean {
  return (
    error instanceof ApplicationFailure &&
    error.type === FailureType.PrometheusUnavailable &&
    !error.nonRetryable
  );
}

// One service, two Prometheus servers (one to stop mid-watch) and one Temporal dev server for the
// file, started together: Prometheus scrapes a new target only after about 5 s.
let service: DemoService;
let prometheus: TestPrometheus;
let stoppable: TestPrometheus;
let temporal: TestWorkflowEnvironment;

async function withData(server: TestPrometheus): Promise<TestPrometheus> {
  // rate() over 5 s needs two scrapes of the service before it has a value.
  await waitUntil('the error rate to have data', async () =>
    (await server.value(errorRate.query)) === null ? undefined : true,
  );
  return server;
}

before(async () => {
  service = await startDemoService();
  [prometheus, stoppable, temporal] = await Promise.all([
    startTestPrometheus({ targets: [service.url], rules: alertRules }).then(withData),
    startTestPrometheus({ targets: [service.url] }).then(withData),
    createDevServerEnv(),
  ]);
});
after(async () => {
  // Every server is stopped even when one of them fails to stop.
  const stopped = await Promise.allSettled([
    temporal?.teardown(),
    prometheus?.stop(),
    stoppable?.stop(),
    service?.close(),
  ]);
  for (const outcome of stopped) if (outcome.status === 'rejected') throw outcome.reason;
});

describe('Prometheus activities against a real Prometheus', () => {
  let activities: PrometheusActivities;

  before(() => {
    activities = createPrometheusActivities({ url: prometheus.url, timeoutMs: 2_000 });
  });

  it('passes a healthy service, comparing latency with its baseline', async () => {
    const metrics = [errorRate, latency];
    const env = activityEnvironment();
    await env.run(() => activities.validateQueries(metrics));
    const baseline = await env.run(() => activities.captureBaseline(metrics));
    assert.equal(baseline['error-rate'], 0);
    assert.ok((baseline['p99-latency'] ?? 0) > 0 && (baseline['p99-latency'] ?? 1) <= 0.05);

    const input = watchInput({ metrics, baseline, watchMs: 5_000 });
    const result = await env.run(() => activities.watchMetrics(input));

    assert.equal(result.outcome, 'passed', result.reason);
    assert.match(result.reason, /^no metric crossed a limit by .*: \d+ measurements/);
    assert.ok(result.endedAt >= input.endsAt, 'ran until the end of the watch');
    assert.ok(result.endedAt < input.endsAt + 1_000, 'and returned right after it');
    // One measurement per metric per second: 5 rounds unless one ran a whole interval late.
    assert.ok(result.state.measurementsTaken >= 8 && result.state.measurementsTaken <= 10);
    assert.equal(result.state.counts.passed, result.state.measurementsTaken);
    assert.ok(
      env.heartbeats.some((h) => h.measurementsTaken === result.state.measurementsTaken),
      'the final state was heartbeated',
    );
  });

  it('fails within one interval (plus 2 s) of an error spike becoming visible', async (t) => {
    t.after(async () => {
      service.setErrorShare(0);
      await waitUntil('the error rate to settle', async () =>
        ((await prometheus.value(errorRate.query)) ?? 1) <= 0.01 ? true : undefined,
      );
    });
    const env = activityEnvironment();
    const input = watchInput({ watchMs: 15_000 });
    const watching = env
      .run(() => activities.watchMetrics(input))
      .then((result) => ({
        result,
        returnedAt: Date.now(),
      }));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    service.setErrorShare(0.5);
    const visibleAt = await waitUntil(
      'the error spike in Prometheus',
      async () =>
        ((await prometheus.value(errorRate.query)) ?? 0) > 0.01 ? Date.now() : undefined,
      10_000,
      50,
    );
    const { result, returnedAt } = await watching;

    assert.equal(result.outcome, 'failed', result.reason);
    assert.match(
      result.reason,
      /^error-rate failed once, more than failureLimit 0 \(last 0\.\d+ > 0\.01\)$/,
    );
    const lag = returnedAt - visibleAt;
    t.diagnostic(`watchMetrics returned ${lag} ms after the spike was visible in Prometheus`);
    assert.ok(lag <= input.intervalMs + 2_000, `returned ${lag} ms after the spike was visible`);
    assert.ok(result.endedAt < input.endsAt, 'returned before the end of the watch');
  });

  it('resumes from its last heartbeat and measures once more when it missed the end', async () => {
    const now = Date.now();
    const input = watchInput({ watchMs: 0, startedAt: now - 20_000, endsAt: now - 1_000 });
    const heartbeated: WatchState = {
      ...initialWatchState(),
      counts: { passed: 7, failed: 0, inconclusive: 0, error: 0 },
      measurementsTaken: 7,
      lastRoundAt: now - 14_000,
    };
    const segment = { ...initialWatchState(), measurementsTaken: 3, lastRoundAt: now - 16_000 };

    const resumed = await activityEnvironment(heartbeated).run(() =>
      activities.watchMetrics({ ...input, state: segment }),
    );
    assert.equal(resumed.outcome, 'passed', resumed.reason);
    assert.equal(resumed.state.measurementsTaken, 8, 'the heartbeat wins over the input state');
    assert.equal(resumed.state.recent.length, 1, 'one round for the missed end');
    assert.ok((resumed.state.lastRoundAt ?? 0) >= now);

    const fresh = await activityEnvironment('not a watch state').run(() =>
      activities.watchMetrics({ ...input, state: segment }),
    );
    assert.equal(fresh.state.measurementsTaken, 4, 'other details are ignored');

    const complete = { ...heartbeated, lastRoundAt: now - 1_500 };
    const done = await activityEnvironment(complete).run(() => activities.watchMetrics(input));
    assert.equal(done.outcome, 'passed');
    assert.equal(done.state.measurementsTaken, 7, 'no round is owed when the last one was on time');
  });

  it('stops within a second of being cancelled', async () => {
    const env = activityEnvironment();
    const neverFails = { ...errorRate, failWhen: '> 2' };
    const input = watchInput({ metrics: [neverFails], watchMs: 15_000 });
    const watching = env.run(() => activities.watchMetrics(input));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cancelledAt = Date.now();
    env.cancel();
    await assert.rejects(watching, CancelledFailure);
    assert.ok(Date.now() - cancelledAt < 1_200, `stopped after ${Date.now() - cancelledAt} ms`);
  });

  it('refuses a bad query before the change with Prometheus’s own message', async () => {
    const env = activityEnvironment();
    const typo = { name: 'typo', query: 'sum(rate(http_requests_total[5m])', failWhen: '> 1' };
    const range = { name: 'range', query: 'http_requests_total[1m]', failWhen: '> 1' };
    const error: unknown = await env
      .run(() => activities.validateQueries([errorRate, typo, range]))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(isQueryInvalid(error), `non-retryable ${FailureType.QueryInvalid}: ${String(error)}`);
    const message = (error as ApplicationFailure).message;
    assert.match(message, /^metric typo: .*parse error/);
    assert.match(message, /metric range: the query returns a range vector/);
    assert.ok(!message.includes('error-rate'), 'the valid query is not named');
    await assert.rejects(
      env.run(() => activities.captureBaseline([typo])),
      isQueryInvalid,
    );
  });

  it('returns the alerts firing now, narrowed by the policy’s selector', async () => {
    const env = activityEnvironment();
    const firing = await waitUntil('the always-firing alert', async () => {
      const alerts = await env.run(() => activities.firingAlerts({ selector: 'severity="test"' }));
      return alerts.length > 0 ? alerts : undefined;
    });
    assert.deepEqual(firing, [
      {
        name: 'ChangectlAlwaysFiring',
        labels: { alertname: 'ChangectlAlwaysFiring', severity: 'test' },
      },
    ]);
    assert.deepEqual(
      await env.run(() => activities.firingAlerts({ selector: '{severity="test"}' })),
      firing,
    );
    assert.deepEqual(await env.run(() => activities.firingAlerts({ selector: '' })), firing);
    assert.deepEqual(
      await env.run(() => activities.firingAlerts({ selector: 'severity="critical"' })),
      [],
    );
    await assert.rejects(
      env.run(() => activities.firingAlerts({ selector: 'severity=critical' })),
      isQueryInvalid,
    );
  });

  it('is inconclusive, never passed, when Prometheus stops mid-watch', async () => {
    const activities = createPrometheusActivities({ url: stoppable.url, timeoutMs: 1_000 });
    const env = activityEnvironment();
    const input = watchInput({ watchMs: 12_000, consecutiveErrorLimit: 2 });
    const watching = env.run(() => activities.watchMetrics(input));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await stoppable.stop();
    const result = await watching;
    assert.equal(result.outcome, 'inconclusive', result.reason);
    assert.match(
      result.reason,
      /^error-rate could not be measured 3 times in a row, more than consecutiveErrorLimit 2 \(last: Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)\)$/,
    );
    assert.ok(result.state.counts.passed >= 2, 'measured while Prometheus ran');
    assert.equal(result.state.counts.error, 3);
    assert.ok(result.endedAt < input.endsAt);
  });
});

describe('Prometheus activities: credentials and unavailability', () => {
  let server: Server;
  let url: string;
  let seen: IncomingHttpHeaders[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const vector = (value: string) => ({
    status: 'success',
    data: { resultType: 'vector', result: [{ metric: {}, value: [1, value] }] },
  });

  before(async () => {
    server = createServer((request, response) => {
      seen.push(request.headers);
      request.resume();
      response.statusCode = answer.status;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await closeServer(server);
  });

  async function baselineWith(config: Partial<PrometheusConfig>): Promise<unknown> {
    seen = [];
    const activities = createPrometheusActivities({ url, ...config });
    return activityEnvironment()
      .run(() => activities.captureBaseline([errorRate]))
      .then(
        (baseline) => baseline,
        (e: unknown) => e,
      );
  }

  it('sends the worker’s basic or bearer credentials', async () => {
    answer = { status: 200, body: vector('0.5') };
    const basic = { kind: 'basic', username: 'watcher', password: 's3cret-pw' } as const;
    assert.deepEqual(await baselineWith({ auth: basic }), { 'error-rate': 0.5 });
    assert.equal(seen[0]?.authorization, `Basic ${btoa('watcher:s3cret-pw')}`);
    assert.deepEqual(await baselineWith({ auth: { kind: 'bearer', token: 'tok-123' } }), {
      'error-rate': 0.5,
    });
    assert.equal(seen[0]?.authorization, 'Bearer tok-123');
    await baselineWith({});
    assert.equal(seen[0]?.authorization, undefined);
  });

  it('reads NaN as no data and +Inf as a value', async () => {
    answer = { status: 200, body: vector('NaN') };
    assert.deepEqual(await baselineWith({}), { 'error-rate': null });
    answer = {
      status: 200,
      body: { status: 'success', data: { resultType: 'vector', result: [] } },
    };
    assert.deepEqual(await baselineWith({}), { 'error-rate': null });
    answer = {
      status: 200,
      body: { status: 'success', data: { resultType: 'scalar', result: [1, '+Inf'] } },
    };
    assert.deepEqual(await baselineWith({}), { 'error-rate': Infinity });
  });

  it('retries refused credentials and 5xx, and never shows the credentials', async () => {
    answer = { status: 401, body: 'Unauthorized' };
    const refused = await baselineWith({ auth: { kind: 'bearer', token: 'tok-123' } });
    assert.ok(isUnavailable(refused), String(refused));
    assert.match((refused as Error).message, /refused the worker's credentials \(HTTP 401\)/);
    answer = {
      status: 503,
      body: { status: 'error', errorType: 'unavailable', error: 'starting up' },
    };
    const unavailable = await baselineWith({
      url: url.replace('http://', 'http://watcher:s3cret-pw@'),
    });
    assert.ok(isUnavailable(unavailable), String(unavailable));
    assert.equal(seen[0]?.authorization, `Basic ${btoa('watcher:s3cret-pw')}`);
    assert.equal(
      (unavailable as Error).message,
      `Prometheus at ${url} answered HTTP 503: starting up`,
    );
    for (const error of [refused, unavailable]) {
      assert.ok(!JSON.stringify(error).includes('s3cret') && !String(error).includes('s3cret'));
      assert.ok(!String(error).includes('tok-123'));
    }
  });

  it('retries pre-flight checks while Prometheus is unreachable', async () => {
    const activities = createPrometheusActivities({ url: 'http://127.0.0.1:1', timeoutMs: 500 });
    const env = activityEnvironment();
    await assert.rejects(
      env.run(() => activities.validateQueries([errorRate])),
      isUnavailable,
    );
    await assert.rejects(
      env.run(() => activities.firingAlerts({ selector: '' })),
      isUnavailable,
    );
  });
});

describe('the watch in a workflow on a real Temporal server', () => {
  async function createWorker(
    taskQueue: string,
    activities: Partial<PrometheusActivities> = createPrometheusActivities({
      url: prometheus.url,
      timeoutMs: 1_000,
    }),
  ): Promise<Worker> {
    return Worker.create({
      connection: temporal.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities,
      // Heartbeats reach the server every second, so a restarted worker resumes from the
      // last round rather than from one up to 0.8 × heartbeatTimeout earlier.
      maxHeartbeatThrottleInterval: '1s',
    });
  }

  const input = (watchMs: number): WatchWorkflowInput => ({
    changeId: uniqueChangeId(),
    metrics: [errorRate],
    baseline: {},
    intervalMs: 1_000,
    watchMs,
    failureLimit: 3,
    inconclusiveLimit: 3,
    consecutiveErrorLimit: 4,
  });

  async function scheduledActivities(workflowId: string): Promise<number> {
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    return history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length ?? 0;
  }

  async function heartbeatedState(workflowId: string): Promise<WatchState | undefined> {
    const description = await temporal.client.workflow.getHandle(workflowId).describe();
    const payload = description.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
    const details: unknown = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
    return isWatchState(details) ? details : undefined;
  }

  it('keeps the watch clock across a worker restart', async (t) => {
    const taskQueue = uniqueTaskQueue(t.name);
    const workflowId = uniqueWorkflowId(t.name);
    const first = await createWorker(taskQueue);
    const firstRun = first.run();
    let handle;
    try {
      handle = await temporal.client.workflow.start(watchWorkflow, {
        taskQueue,
        workflowId,
        // Long enough that a slow first worker still leaves rounds for the second one.
        args: [input(20_000)],
      });
      await waitUntil('three rounds heartbeated', async () => {
        const state = await heartbeatedState(workflowId);
        return state && state.measurementsTaken >= 3 ? state : undefined;
      });
    } finally {
      first.shutdown();
      await firstRun;
    }
    const stoppedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const recorded = await heartbeatedState(workflowId);
    assert.ok(recorded, 'the server kept the last heartbeat');

    const second = await createWorker(taskQueue);
    const { endsAt, result } = await second.runUntil(handle.result());
    assert.equal(await scheduledActivities(workflowId), 1, 'the restart retried one activity');
    const downtime = Date.now() - stoppedAt;

    assert.equal(result.outcome, 'passed', result.reason);
    assert.ok(result.endedAt >= endsAt, 'the watch ran to its end');
    assert.ok(
      result.endedAt < endsAt + 1_000,
      `ended ${result.endedAt - endsAt} ms after endsAt, not endsAt + the ${downtime} ms downtime`,
    );
    const times = result.state.recent.map((m) => Date.parse(m.at));
    const afterRestart = times.filter((at) => at > stoppedAt).length;
    assert.ok(afterRestart >= 3, 'the new worker measured');
    assert.equal(
      result.state.measurementsTaken,
      recorded.measurementsTaken + afterRestart,
      'the count continues from the heartbeat, not from 0',
    );
    assert.ok(
      times.some((at) => at < stoppedAt),
      'measurements from before the restart are kept',
    );
    assert.ok(
      !times.some((at) => at > stoppedAt + 500 && at < stoppedAt + 2_500),
      'no measurements while no worker ran',
    );
  });

  it('continues an extended watch from where it was', async (t) => {
    const taskQueue = uniqueTaskQueue(t.name);
    const workflowId = uniqueWorkflowId(t.name);
    const worker = await createWorker(taskQueue);
    const result = await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(watchWorkflow, {
        taskQueue,
        workflowId,
        args: [input(5_000)],
      });
      // Extend once the first segment is measuring (on a busy machine that takes a moment).
      await waitUntil('the first round heartbeated', async () => {
        const state = await heartbeatedState(workflowId);
        return state && state.measurementsTaken >= 1 ? state : undefined;
      });
      await handle.signal(extendWatchSignal, Date.now() + 6_000);
      assert.equal(await scheduledActivities(workflowId), 1);
      return handle.result();
    });
    const watch: WatchResult = result.result;
    assert.equal(watch.outcome, 'passed', watch.reason);
    assert.ok(result.endsAt - result.startedAt >= 6_000, 'the extension moved the end');
    assert.ok(watch.endedAt >= result.endsAt && watch.endedAt < result.endsAt + 1_000);
    assert.equal(await scheduledActivities(workflowId), 2, 'the extension ran a second segment');
    const rounds = Math.round((result.endsAt - result.startedAt) / 1_000);
    assert.ok(
      Math.abs(watch.state.measurementsTaken - rounds) <= 1,
      `${watch.state.measurementsTaken} measurements in about ${rounds} rounds: the second segment continued the first`,
    );
  });

  it('ends the watch inconclusive when its activity fails for good', async (t) => {
    const taskQueue = uniqueTaskQueue(t.name);
    const worker = await createWorker(taskQueue, {
      watchMetrics: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable('watch state lost', FailureType.QueryInvalid),
        ),
    });
    const { result } = await worker.runUntil(
      temporal.client.workflow.execute(watchWorkflow, {
        taskQueue,
        workflowId: uniqueWorkflowId(t.name),
        args: [input(60_000)],
      }),
    );
    assert.equal(result.outcome, 'inconclusive');
    assert.equal(result.reason, 'the watch could not run to its end: watch state lost');
    assert.equal(result.state.measurementsTaken, 0);
  });
});
