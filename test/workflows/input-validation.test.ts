import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../src/core/errors';
import { createFakeActivities, testRequest } from '../helpers/fakes';
import { changeWorker } from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

// A client other than the CLI can start a change workflow with any input; the workflow checks
// it again by the loader's rules and fails at once, before any activity, naming the field.
describe('a change workflow started with an invalid request', { timeout: 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function failureOf(t: { name: string }, request: unknown): Promise<ApplicationFailure> {
    const fakes = createFakeActivities(env.client);
    const worker = await changeWorker(env, t.name, fakes.activities);
    const { taskQueue } = worker.options;
    const error = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('plannedChange', {
        taskQueue,
        workflowId: `change-${uniqueChangeId('BAD')}`,
        args: [{ request }],
      });
      return await handle.result().then(
        () => assert.fail('the workflow accepted an invalid request'),
        (err: unknown) => err,
      );
    });
    assert.deepEqual(fakes.calls, []);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure, String(error.cause));
    assert.equal(error.cause.type, FailureType.InvalidRequest);
    return error.cause;
  }

  it('names every missing or wrong field', async (t) => {
    const request = JSON.parse(JSON.stringify(testRequest(uniqueChangeId('BAD')))) as {
      spec: Record<string, unknown>;
    };
    delete request.spec.impact;
    request.spec.risk = 'enormous';
    const failure = await failureOf(t, request);
    assert.match(failure.message, /spec\.impact: /);
    assert.match(failure.message, /spec\.risk: /);
  });

  it('refuses a constructor key as a field, not with a TypeError from inside zod', async (t) => {
    const request = JSON.parse(
      JSON.stringify(testRequest(uniqueChangeId('BAD'))).replace(
        '"spec":{',
        '"spec":{"constructor":null,',
      ),
    ) as unknown;
    const failure = await failureOf(t, request);
    assert.match(failure.message, /spec\.constructor: 'constructor' is not a field name/);
  });
});
