import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { changeWorkflowId } from '../../src/core/change/request';
import type { WatchInput } from '../../src/core/contracts';
import { riskLevelKey } from '../../src/core/search-attributes';
import { startChange } from '../../src/temporal/start';
import { approveUpdate, statusQuery } from '../../workflows/messages';
import { createFakeActivities, testPolicy, testRequest } from '../helpers/fakes';
import { changeWorker, uniqueService, waitForStatus } from '../helpers/planned-run';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

const DAY_MS = 86_400_000;

/** The example policy's risk rules; high risk asks for a third approver, security, 45 minutes. */
const riskPolicy = testPolicy({
  spec: {
    risk: {
      rules: [
        { name: 'production', when: { environments: ['production'] }, atLeast: 'medium' },
        { name: 'several services', when: { servicesAtLeast: 2 }, atLeast: 'high' },
        { name: 'friday afternoon', when: { fridayAfternoon: true }, atLeast: 'high' },
      ],
      requires: { high: { minApprovers: 3, teams: ['security'], minWatch: '45m' } },
    },
  },
});

/** 14:00 UTC on the first Friday at least a day after `from`. */
function nextFridayAfternoon(from: number): string {
  let day = new Date(from + DAY_MS);
  while (day.getUTCDay() !== 5) day = new Date(day.getTime() + DAY_MS);
  day.setUTCHours(14, 0, 0, 0);
  return day.toISOString();
}

describe('planned change: risk raised by policy', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('a Friday-afternoon change to two services is high: a third approver, security, a 45m watch', async (t) => {
    const fakes = createFakeActivities(env.client, { policy: riskPolicy });
    const worker = await changeWorker(env, t.name, fakes.activities);
    const id = uniqueChangeId('CHG');
    const [first, second] = [uniqueService(), uniqueService()];
    const notBefore = nextFridayAfternoon(Date.now());
    const request = testRequest(id, {
      services: [first, second],
      risk: 'medium',
      window: { notBefore },
      rollout: {
        strategy: 'rolling',
        target: { kind: 'Deployment', name: first },
        image: 'registry.example.com/api-gateway:2.5.0',
        timeout: '10m',
      },
    });
    const { log, status, waiting, afterTwo } = await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
      });
      const waiting = await waitForStatus(
        handle,
        (s) => s.state === 'awaiting-approval',
        'awaiting-approval',
      );
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
      const afterTwo = await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
      const done = await handle.executeUpdate(approveUpdate, { args: [{ actor: 'carol' }] });
      assert.equal(done.summary, 'approvals complete');
      const log = await handle.result();
      return { log, status: await handle.query(statusQuery), waiting, afterTwo };
    });

    assert.equal(waiting.risk, 'high');
    assert.equal(waiting.riskDeclared, 'medium');
    assert.deepEqual(waiting.riskRaisedBy, ['several services → high', 'friday afternoon → high']);
    assert.equal(waiting.approvals.required.minApprovers, 3);
    assert.deepEqual(waiting.approvals.required.teams, ['security']);
    assert.ok(waiting.approvals.required.reasons.includes('high risk: 3 approvers'));
    // Two of the usual production approvers are not enough at high risk.
    assert.equal(afterTwo.summary, 'needs 1 more approver');

    assert.equal(status.state, 'completed', status.outcome);
    assert.equal(log.changeLog.risk, 'high');
    assert.deepEqual(
      log.changeLog.approvals.received.map((a) => a.by),
      ['dave', 'bob', 'carol'],
    );
    const watch = fakes.called('watchMetrics')[0]?.args[0] as WatchInput;
    assert.equal(watch.endsAt - watch.startedAt, 45 * 60_000, 'the high-risk minimum watch');
    assert.ok(watch.startedAt >= Date.parse(notBefore), 'ran in its Friday-afternoon slot');
    const description = await env.client.workflow.getHandle(changeWorkflowId(id)).describe();
    assert.equal(description.typedSearchAttributes.get(riskLevelKey), 'high');
  });
});
