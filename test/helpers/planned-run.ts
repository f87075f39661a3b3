/**
 * What the change workflow tests share: the one worker factory, a request on a service
 * of its own (so each test has its own lock workflow, on its own task queue), polling the
 * `status` query until a condition holds, and activity steps that hold until the test lets them
 * go, so an operator's message arrives while the step runs.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { ChangeRequest, ChangeRequestInput } from '../../src/core/change/request';
import type { ChangeStatus } from '../../src/core/lifecycle/status';
import type { ChangeWorkflow } from '../../src/temporal/start';
import {
  approveUpdate,
  lockStateQuery,
  statusQuery,
  type LockState,
} from '../../workflows/messages';
import { testRequest, type ChangeActivities } from './fakes';
import { uniqueTaskQueue, workflowBundle } from './temporal';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export type ChangeHandle = WorkflowHandle<ChangeWorkflow>;

/**
 * The worker of every workflow test: the workflows bundle, the given activities, a task queue of
 * its own derived from the test's title (`worker.options.taskQueue`). Heartbeats go out at once rather than throttled to most of the heartbeat
 * timeout, so a cancelled activity learns of it within a moment, as on a busy real worker.
 */
export async function changeWorker(
  env: TestWorkflowEnvironment,
  title: string,
  activities: ChangeActivities,
): Promise<Worker> {
  return await Worker.create({
    connection: env.nativeConnection,
    taskQueue: uniqueTaskQueue(title),
    workflowBundle: await workflowBundle(workflowsPath),
    activities,
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
}

/** A normal change to a service no other test touches (the deployment has the service's name). */
export function serviceRequest(
  id: string,
  service: string,
  spec: Partial<ChangeRequestInput['spec']> = {},
): ChangeRequest {
  return testRequest(id, {
    services: [service],
    rollout: {
      strategy: 'rolling',
      target: { kind: 'Deployment', name: service },
      image: 'registry.example.com/api-gateway:2.5.0',
      timeout: '10m',
    },
    ...spec,
  });
}

export function uniqueService(): string {
  return `svc-${Math.floor(Math.random() * 1e9)}`;
}

/**
 * The one wait of the workflow tests: reads until `done` holds, every 50 ms; after `timeoutMs`
 * fails with what it waited for and what it saw last.
 */
export async function waitUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  describe: (last: T) => string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(describe(value));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls the status query until `done` holds; fails with the last state seen after `timeoutMs`. */
export async function waitForStatus(
  handle: ChangeHandle,
  done: (status: ChangeStatus) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<ChangeStatus> {
  return await waitUntil(
    () => handle.query(statusQuery),
    done,
    (status) =>
      `timed out waiting for ${what}; state ${status.state}, last events: ${status.timeline
        .slice(-5)
        .map((e) => e.event)
        .join(', ')}`,
    timeoutMs,
  );
}

/** The quorum testPolicy asks of a production change: two distinct approvers. */
export async function approveAsDaveAndBob(handle: ChangeHandle): Promise<void> {
  await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 'awaiting-approval');
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave', comment: 'lgtm' }] });
  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
}

/** The lock of a service in production, as its lock workflow holds it. */
export async function lockStateOf(
  env: TestWorkflowEnvironment,
  service: string,
): Promise<LockState> {
  return await env.client.workflow.getHandle(`lock-production-${service}`).query(lockStateQuery);
}

/** The timeline's event names, in order. */
export function eventsOf(status: ChangeStatus): string[] {
  return status.timeline.map((e) => e.event);
}

export interface Hold {
  /** Resolves once the held activity has started. */
  readonly entered: Promise<void>;
  /** Whether the activity saw its cancellation. */
  readonly cancelled: boolean;
  /** Lets the held activity go on. */
  release(): void;
  /** Called inside an activity: heartbeats until released; throws when the activity is cancelled. */
  hold(): Promise<void>;
}

export function createHold(): Hold {
  let enter: () => void = () => undefined;
  const entered = new Promise<void>((resolve) => {
    enter = resolve;
  });
  let released = false;
  let cancelled = false;
  return {
    entered,
    get cancelled() {
      return cancelled;
    },
    release() {
      released = true;
    },
    async hold() {
      enter();
      const context = Context.current();
      try {
        while (!released) {
          context.heartbeat();
          await context.sleep(50);
        }
      } catch (err) {
        cancelled = true;
        throw err;
      }
    },
  };
}

/** Asserts that the timeline has each of `expected`, in that order (other events may come between). */
export function assertEventsInOrder(status: ChangeStatus, expected: string[]): void {
  const events = eventsOf(status);
  let from = 0;
  for (const event of expected) {
    const at = events.indexOf(event, from);
    assert.ok(at !== -1, `expected '${event}' after position ${from} in: ${events.join(', ')}`);
    from = at + 1;
  }
}
