/**
 * Many changes parked on one worker, waiting for approval, as a busy platform has them: start
 * rate, worker RSS and sticky cache used once all are parked, and the `approve` update round
 * trip (p50 / p99) while they are. On the real dev server, with the test suite's stand-in
 * activities. `BENCH_PARKED=1000,5000` sets the sizes. Goal at 5,000: RSS <= 1 GiB, p99 <= 250 ms.
 */
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { startChange } from '../../src/temporal/start';
import { projectRoot } from '../../src/stack/tools';
import { approveUpdate, statusQuery } from '../../workflows/messages';
import { createFakeActivities, testRequest } from '../../test/helpers/fakes';
import { createDevServerEnv, workflowBundle } from '../../test/helpers/temporal';
import { inBatches, percentile } from './stats';

const sizes = (process.env.BENCH_PARKED ?? '1000,5000').split(',').map(Number);
const SAMPLE = Number(process.env.BENCH_APPROVALS ?? 200);
const workflowsPath = join(projectRoot, 'workflows', 'index.ts');

const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

console.log(
  'parked'.padStart(7) +
    'start rate'.padStart(14) +
    'worker RSS'.padStart(12) +
    'cached'.padStart(9) +
    'approve p50'.padStart(13) +
    'p99'.padStart(9),
);
for (const size of sizes) {
  const env = await createDevServerEnv();
  try {
    const taskQueue = `bench-parked-${size}-${Date.now()}`;
    const fakes = createFakeActivities(env.client);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities: fakes.activities,
      maxCachedWorkflows: Number(process.env.BENCH_MAX_CACHED ?? size),
    });
    await worker.runUntil(async () => {
      const prefix = `PARK${size}`;
      const ids = Array.from({ length: size }, (_, i) => `${prefix}-${i + 1}`);
      const started = Date.now();
      const handles = await inBatches(ids, 50, (id) =>
        startChange(env.client, testRequest(id), { taskQueue }),
      );
      // Parked: every change has run its first workflow task and waits for approvals.
      await inBatches(handles, 50, async (h) => {
        while ((await h.query(statusQuery)).state !== 'awaiting-approval') {
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      const rate = size / ((Date.now() - started) / 1000);
      const rss = process.memoryUsage().rss;
      const cached = worker.getStatus().numCachedWorkflows;
      const times: number[] = [];
      for (let i = 0; i < Math.min(SAMPLE, size); i++) {
        const handle = handles[Math.floor(Math.random() * handles.length)]!;
        const t = process.hrtime.bigint();
        // One of two approvals: the change stays parked.
        await handle
          .executeUpdate(approveUpdate, { args: [{ actor: i % 2 ? 'dave' : 'bob' }] })
          .catch(() => undefined);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((a, b) => a - b);
      console.log(
        String(size).padStart(7) +
          `${rate.toFixed(0)}/s`.padStart(14) +
          mib(rss).padStart(12) +
          String(cached).padStart(9) +
          `${percentile(times, 50).toFixed(0)} ms`.padStart(13) +
          `${percentile(times, 99).toFixed(0)} ms`.padStart(9),
      );
      for (const h of handles) await h.terminate('benchmark over').catch(() => undefined);
    });
  } finally {
    await env.teardown();
  }
}
console.log(
  [
    '',
    'start rate: changes started and parked per second (start, first workflow task, query).',
    'worker RSS: this process, which holds the worker and the client (the client is small).',
    "cached: workflows in the worker's sticky cache; approve: the update round trip, the",
    'validator and handler running in the cached workflow. goal at 5,000: RSS <= 1 GiB, p99 <= 250 ms',
  ].join('\n'),
);
