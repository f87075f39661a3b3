/**
 * Lifecycle throughput on one worker and the real dev server: whole planned changes per second
 * (two approvals each, the test suite's stand-in activities that answer at once), against a
 * bare workflow that runs the same number of activities one after another, in the same run.
 * The ratio is what changectl's own workflow logic costs. Goal: >= 0.8x.
 */
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { changeWorkflowId } from '../../src/core/change/request';
import { startChange } from '../../src/temporal/start';
import { projectRoot } from '../../src/stack/tools';
import { approveUpdate, statusQuery } from '../../workflows/messages';
import { createFakeActivities } from '../../test/helpers/fakes';
import { serviceRequest } from '../../test/helpers/planned-run';
import { createDevServerEnv, workflowBundle } from '../../test/helpers/temporal';
import { inBatches } from './stats';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 40);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);

const env = await createDevServerEnv();
try {
  const taskQueue = `bench-throughput-${Date.now()}`;
  const fakes = createFakeActivities(env.client);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(
      join(projectRoot, 'test', 'fixtures', 'bench-workflows.ts'),
    ),
    activities: { step: async (i: number) => Promise.resolve(i >= 0 ? 1 : 0) },
  });
  const changeWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `${taskQueue}-changes`,
    workflowBundle: await workflowBundle(join(projectRoot, 'workflows', 'index.ts')),
    activities: fakes.activities,
  });
  await worker.runUntil(() =>
    changeWorker.runUntil(async () => {
      // Each service its own lock, so changes run side by side as on a real platform.
      const ids = Array.from({ length: CHANGES }, (_, i) => `THRU-${Date.now() % 1e6}${i}`);
      const started = Date.now();
      await inBatches(ids, CONCURRENCY, async (id) => {
        const request = serviceRequest(id, `svc-${id.toLowerCase()}`);
        const handle = await startChange(env.client, request, {
          taskQueue: `${taskQueue}-changes`,
        });
        while ((await handle.query(statusQuery)).state !== 'awaiting-approval') {
          await new Promise((r) => setTimeout(r, 20));
        }
        await handle.executeUpdate(approveUpdate, { args: [{ actor: 'dave' }] });
        await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
        await handle.result();
      });
      const changeSeconds = (Date.now() - started) / 1000;
      const history = await env.client.workflow.getHandle(changeWorkflowId(ids[0]!)).fetchHistory();
      const activities = (history.events ?? []).filter(
        (e) => e.activityTaskScheduledEventAttributes,
      ).length;

      const bareStarted = Date.now();
      await inBatches(ids, CONCURRENCY, async (id) => {
        await env.client.workflow.execute('bareActivities', {
          taskQueue,
          workflowId: `bare-${id}`,
          args: [activities],
        });
      });
      const bareSeconds = (Date.now() - bareStarted) / 1000;
      const changesPerSecond = CHANGES / changeSeconds;
      const barePerSecond = CHANGES / bareSeconds;
      console.log(
        `${CHANGES} planned changes, ${CONCURRENCY} at a time: ${changesPerSecond.toFixed(2)}/s ` +
          `(${activities} activities, ${history.events?.length ?? 0} events each)`,
      );
      console.log(
        `${CHANGES} bare workflows of ${activities} activities: ${barePerSecond.toFixed(2)}/s`,
      );
      console.log(
        `ratio ${(changesPerSecond / barePerSecond).toFixed(2)}x (goal >= 0.8x). The changes also ` +
          'wait for two approval updates and a status query each; the bare workflows do not.',
      );
    }),
  );
} finally {
  await env.teardown();
}
