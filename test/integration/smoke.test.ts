import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { changeIdKey, changeStateKey } from '../../src/core/search-attributes';
import {
  createDevServerEnv,
  createTimeSkippingEnv,
  uniqueTaskQueue,
  uniqueWorkflowId,
  workflowBundle,
} from '../helpers/temporal';
import { smokeWorkflow, type SmokeActivities } from '../fixtures/smoke-workflows';

const workflowsPath = fileURLToPath(new URL('../fixtures/smoke-workflows.ts', import.meta.url));
const activities: SmokeActivities = { greet: (name) => Promise.resolve(`hello ${name}`) };

async function runSmoke(env: TestWorkflowEnvironment, title: string): Promise<string> {
  const taskQueue = uniqueTaskQueue(title);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(workflowsPath),
    activities,
  });
  return worker.runUntil(
    env.client.workflow.execute(smokeWorkflow, {
      taskQueue,
      workflowId: uniqueWorkflowId(title),
      args: ['changectl'],
    }),
  );
}

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('skips an hour-long timer and runs an activity', async (t) => {
    const started = Date.now();
    assert.equal(await runSmoke(env, t.name), 'hello changectl');
    assert.ok(Date.now() - started < 60_000, 'the hour-long timer was skipped');
  });
});

describe('Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('has the change search attributes registered', async () => {
    const response = await env.connection.operatorService.listSearchAttributes({
      namespace: env.namespace ?? 'default',
    });
    for (const key of [changeIdKey, changeStateKey]) {
      assert.ok(key.name in response.customAttributes, `${key.name} is registered`);
    }
  });

  it('runs a workflow with a timer and an activity', async (t) => {
    const taskQueue = uniqueTaskQueue(t.name);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities,
    });
    const workflowId = uniqueWorkflowId(t.name);
    const result = await worker.runUntil(
      env.client.workflow.execute(smokeWorkflow, {
        taskQueue,
        workflowId,
        args: ['dev-server', 200],
      }),
    );
    assert.equal(result, 'hello dev-server');
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    assert.ok(
      history.events?.some((e) => e.timerFiredEventAttributes),
      'a real timer fired',
    );
  });
});
