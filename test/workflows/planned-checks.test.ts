import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequest } from '../../src/core/change/request';
import type { CheckWatchInput, WatchInput } from '../../src/core/contracts';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { startChange } from '../../src/temporal/start';
import { statusQuery } from '../../workflows/messages';
import { createFakeActivities, watchResult, type FakeScenario } from '../helpers/fakes';
import {
  approveAsDaveAndBob,
  assertEventsInOrder,
  changeWorker,
  createHold,
  serviceRequest,
  uniqueService,
} from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

function withChecks(id: string, service: string): ChangeRequest {
  const request = serviceRequest(id, service);
  request.spec.verification.checks = [
    { name: 'pods-ready', podsReady: {} },
    { name: 'restarts', restarts: { failWhen: '> 0' } },
    {
      name: 'health',
      http: { service, port: 8080, path: '/healthz', expectStatus: 200, timeout: '5s' },
    },
    { name: 'error-logs', logs: { pattern: 'ERROR', failWhen: '> 0' } },
  ];
  return request;
}

/** The checks' watch as the activity reports it: each check measured once with `outcome`. */
function checksEnd(outcome: 'passed' | 'failed', reason?: string) {
  return (input: CheckWatchInput) => {
    const metrics = input.checks.map((c) => ({ name: c.name, query: '', failWhen: '' }));
    return Promise.resolve(watchResult({ ...input, metrics, baseline: {} }, outcome, reason));
  };
}

describe('planned change: post-change checks', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function runChange(title: string, scenario: FakeScenario, request: ChangeRequest) {
    const fakes = createFakeActivities(env.client, scenario);
    const worker = await changeWorker(env, title, fakes.activities);
    const ended = await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      const log: ChangeLog = await handle.result();
      const status: ChangeStatus = await handle.query(statusQuery);
      return { log, status };
    });
    return { fakes, ...ended };
  }

  it('measures the checks beside the metrics, over the same watch and limits', async (t) => {
    const service = uniqueService();
    const { fakes, status } = await runChange(
      t.name,
      { checks: checksEnd('passed') },
      withChecks(uniqueChangeId('CHG'), service),
    );
    assert.equal(status.state, 'completed', status.outcome);
    const metrics = fakes.called('watchMetrics')[0]?.args[0] as WatchInput;
    const checks = fakes.called('watchChecks')[0]?.args[0] as CheckWatchInput;
    assert.deepEqual(
      checks.checks.map((c) => c.name),
      ['pods-ready', 'restarts', 'health', 'error-logs'],
    );
    assert.deepEqual(checks.deployments, [service]);
    assert.equal(checks.namespace, 'production');
    assert.deepEqual(
      [checks.startedAt, checks.endsAt, checks.intervalMs],
      [metrics.startedAt, metrics.endsAt, metrics.intervalMs],
    );
    assert.deepEqual(
      [checks.failureLimit, checks.inconclusiveLimit, checks.consecutiveErrorLimit],
      [0, 0, 4],
    );
    assert.equal(checks.since, Date.parse(status.rollout.startedAt ?? ''));
    assert.ok(checks.since <= checks.startedAt, 'restarts and logs count from the rollout on');
    assert.deepEqual(status.verification.evaluations.map((m) => m.metric).sort(), [
      'error-rate',
      'pods-ready',
    ]);
    assert.match(status.verification.summary ?? '', /no metric or check crossed a limit/);
  });

  it('rolls back on a failed check, ending the metrics watch', async (t) => {
    const hold = createHold();
    const reason = 'pods-ready failed once, more than failureLimit 0 (last svc 2/3 ready)';
    const { fakes, status, log } = await runChange(
      t.name,
      {
        checks: checksEnd('failed', reason),
        watch: async (input, call) => {
          if (call === 1) await hold.hold();
          return watchResult(input, 'passed');
        },
      },
      withChecks(uniqueChangeId('CHG'), uniqueService()),
    );
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.outcome, `rolled back: verification failed: ${reason}`);
    assert.ok(hold.cancelled, 'the metrics watch was cancelled');
    assert.equal(status.verification.outcome, 'failed');
    assert.equal(log.changeLog.verification.results, `failed: ${reason}`);
    assert.equal(fakes.called('rollbackRollout').length, 1);
    assertEventsInOrder(status, ['watch failed', 'rolling back', 'rolled back']);
    const rolledBack = fakes.notifications.find((n) => n.kind === 'rolled-back');
    assert.match(rolledBack?.text ?? '', /pods-ready failed once/);
  });

  it('runs no checks watch for a request without checks', async (t) => {
    const { fakes, status } = await runChange(
      t.name,
      {},
      serviceRequest(uniqueChangeId('CHG'), uniqueService()),
    );
    assert.equal(status.state, 'completed');
    assert.equal(fakes.called('watchChecks').length, 0);
  });
});
