import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequest } from '../../src/core/change/request';
import type { GateActivities, GateInput, GateResult } from '../../src/core/contracts';
import { startChange } from '../../src/temporal/start';
import { statusQuery } from '../../workflows/messages';
import { createFakeActivities, type ChangeActivities } from '../helpers/fakes';
import {
  approveAsDaveAndBob,
  assertEventsInOrder,
  changeWorker,
  serviceRequest,
  uniqueService,
} from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

type Answer = 'pass' | 'fail' | 'timeout';

/** The gate activity answering per webhook name as a Flagger webhook would. */
function gateFakes(env: TestWorkflowEnvironment, answers: Record<string, Answer>) {
  const fakes = createFakeActivities(env.client);
  const asked: GateInput[] = [];
  const runGate = (input: GateInput): Promise<GateResult> => {
    asked.push(input);
    const answer = answers[input.webhook] ?? 'fail';
    const base = { name: input.payload.name, webhook: input.webhook, phase: input.payload.phase };
    const at = new Date().toISOString();
    if (answer === 'pass')
      return Promise.resolve({ ...base, passed: true, status: 200, message: 'ok', at });
    if (answer === 'timeout')
      return Promise.resolve({
        ...base,
        passed: false,
        message: `${input.webhook} did not answer within ${input.timeoutMs} ms`,
        at,
      });
    return Promise.resolve({ ...base, passed: false, status: 403, message: 'refused', at });
  };
  const activities: ChangeActivities & GateActivities = { ...fakes.activities, runGate };
  return { fakes, activities, asked };
}

function gated(id: string, service: string, preflight: string[], promotion: string[] = []) {
  const request: ChangeRequest = serviceRequest(id, service);
  if (preflight.length) {
    request.spec.preflight = {
      gates: preflight.map((webhook) => ({ name: `${webhook}-gate`, webhook, timeout: '10s' })),
    };
  }
  if (promotion.length) {
    request.spec.rollout = {
      ...request.spec.rollout,
      strategy: 'canary',
      steps: [{ setWeight: 20 }, { pause: '1m' }, { setWeight: 60 }],
    };
    request.spec.promotion = {
      gates: promotion.map((webhook) => ({ name: `${webhook}-gate`, webhook, timeout: '10s' })),
    };
  }
  return request;
}

describe('planned change: gates', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(title: string, answers: Record<string, Answer>, request: ChangeRequest) {
    const { fakes, activities, asked } = gateFakes(env, answers);
    const worker = await changeWorker(env, title, activities);
    const status = await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
      });
      await approveAsDaveAndBob(handle);
      await handle.result();
      return await handle.query(statusQuery);
    });
    return { fakes, asked, status };
  }

  it('asks the pre-rollout gates after the checks and before the backup', async (t) => {
    const service = uniqueService();
    const id = uniqueChangeId('CHG');
    const { fakes, asked, status } = await run(
      t.name,
      { smoke: 'pass', capacity: 'pass' },
      gated(id, service, ['smoke', 'capacity']),
    );
    assert.equal(status.state, 'completed', status.outcome);
    assert.deepEqual(
      asked.map((g) => [g.webhook, g.timeoutMs, g.payload.phase]),
      [
        ['smoke', 10_000, 'pre-rollout'],
        ['capacity', 10_000, 'pre-rollout'],
      ],
    );
    assert.deepEqual(asked[0]?.payload, {
      name: 'smoke-gate',
      namespace: 'production',
      phase: 'pre-rollout',
      changeId: id,
      services: [service],
      images: ['registry.example.com/api-gateway:2.5.0'],
    });
    assert.deepEqual(
      status.gates?.map((g) => [g.name, g.passed]),
      [
        ['smoke-gate', true],
        ['capacity-gate', true],
      ],
    );
    assert.ok(status.preflight.checks.some((c) => c.name === 'gate smoke-gate' && c.ok));
    assert.ok(fakes.called('createBackup').length === 1);
    assertEventsInOrder(status, [
      'gate smoke-gate passed',
      'gate capacity-gate passed',
      'pre-flight passed',
      'state: backing-up',
    ]);
  });

  for (const answer of ['fail', 'timeout'] as const) {
    it(`fails the change with nothing changed when a pre-rollout gate answers ${answer}`, async (t) => {
      const { fakes, asked, status } = await run(
        t.name,
        { smoke: answer, capacity: 'pass' },
        gated(uniqueChangeId('CHG'), uniqueService(), ['smoke', 'capacity']),
      );
      assert.equal(status.state, 'failed');
      const said = answer === 'fail' ? 'refused' : 'smoke did not answer within 10000 ms';
      assert.equal(
        status.outcome,
        `pre-flight failed: gate smoke-gate: ${said}; nothing was changed`,
      );
      assert.equal(asked.length, 1, 'the gates after a failed one are not asked');
      assert.deepEqual(
        status.gates?.map((g) => g.passed),
        [false],
      );
      assert.equal(fakes.called('createBackup').length, 0);
      assert.equal(fakes.called('startRollout').length, 0);
    });
  }

  it('asks the promotion gates before the last canary step; a refusal rolls back', async (t) => {
    const passed = await run(
      `${t.name} pass`,
      { release: 'pass' },
      gated(uniqueChangeId('CHG'), uniqueService(), [], ['release']),
    );
    assert.equal(passed.status.state, 'completed', passed.status.outcome);
    assert.deepEqual(
      passed.asked.map((g) => [g.payload.phase, g.payload.step]),
      [['confirm-promotion', 3]],
    );
    assert.deepEqual(
      passed.fakes.called('setCanaryWeight').map((c) => (c.args[0] as { weight: number }).weight),
      [20, 60],
    );

    const refused = await run(
      `${t.name} refused`,
      { release: 'fail' },
      gated(uniqueChangeId('CHG'), uniqueService(), [], ['release']),
    );
    assert.equal(refused.status.state, 'rolled-back');
    assert.equal(
      refused.status.outcome,
      'rolled back: promotion gate release-gate failed before step 3/3: refused',
    );
    assert.deepEqual(
      refused.fakes.called('setCanaryWeight').map((c) => (c.args[0] as { weight: number }).weight),
      [20],
    );
    assert.equal(refused.fakes.called('promoteCanary').length, 0);
    assert.equal(refused.fakes.called('rollbackRollout').length, 1);
  });
});
