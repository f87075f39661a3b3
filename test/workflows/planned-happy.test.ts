import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { changeWorkflowId } from '../../src/core/change/request';
import { changeStateKey } from '../../src/core/search-attributes';
import { startChange } from '../../src/temporal/start';
import { approveUpdate, statusQuery } from '../../workflows/messages';
import { createFakeActivities, testRequest } from '../helpers/fakes';
import { changeWorker, waitForStatus } from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

describe('planned change: happy path', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('goes from request through two approvals to completed', async (t) => {
    const fakes = createFakeActivities(env.client);
    const worker = await changeWorker(env, t.name, fakes.activities);
    const { taskQueue } = worker.options;
    const id = uniqueChangeId('CHG');
    // Queries of a closed workflow replay it on a worker, so they run while the worker does.
    const { log, status } = await worker.runUntil(async () => {
      const handle = await startChange(env.client, testRequest(id), { taskQueue });
      await waitForStatus(handle, (s) => s.state === 'awaiting-approval', 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave', comment: 'lgtm' }] });
      const ack = await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
      assert.equal(ack.summary, 'approvals complete');
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery) };
    });
    assert.equal(status.state, 'completed');
    assert.equal(log.changeLog.state, 'completed');
    assert.deepEqual(
      log.changeLog.approvals.received.map((a) => a.by),
      ['dave', 'bob'],
    );
    assert.equal(log.changeLog.backup.name, `changectl-${id.toLowerCase()}`);
    const order = fakes.calls
      .map((c) => c.name)
      .filter((n) => !['notify', 'requestServiceLock', 'releaseServiceLock'].includes(n));
    assert.deepEqual(order, [
      'loadPolicy',
      'checkRollbackReadiness',
      'firingAlerts',
      'validateQueries',
      'captureBaseline',
      'dryRunRollout',
      'createBackup',
      'startRollout',
      'watchMetrics',
      'finalizeRollout',
    ]);
    assert.deepEqual(
      fakes.notifications.map((n) => n.kind),
      ['approval-requested', 'deploying', 'complete'],
    );
    assert.match(fakes.notifications[1]?.text ?? '', /DEPLOYING: api-gateway v2.4.3 → v2.5.0/);
    const description = await env.client.workflow.getHandle(changeWorkflowId(id)).describe();
    assert.deepEqual(description.typedSearchAttributes.get(changeStateKey), 'completed');
  });
});
