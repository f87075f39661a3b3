import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { startChange, type ChangeWorkflow } from '../../src/temporal/start';
import { statusQuery } from '../../workflows/messages';
import { createFakeActivities, testRequest } from '../helpers/fakes';
import {
  createDevServerEnv,
  uniqueChangeId,
  uniqueTaskQueue,
  workflowBundle,
} from '../helpers/temporal';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workflowsPath = join(root, 'workflows/index.ts');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Starts the crashing worker and resolves once it has printed `line`. */
function waitForLine(child: ChildProcess, line: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`worker did not print '${line}' in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.split('\n').includes(line)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before printing '${line}':\n${output}`));
    });
  });
}

describe('a change survives a worker crash and a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'changectl-restart-'));
  const envs: TestWorkflowEnvironment[] = [];
  let child: ChildProcess | undefined;
  after(async () => {
    child?.kill('SIGKILL');
    for (const env of envs) await env.teardown().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes mid-watch where it was: no second backup, no second rollout', async (t) => {
    const port = await freePort();
    const dbFilename = join(dir, 'temporal.db');
    const first = await createDevServerEnv({ dbFilename, port });
    envs.push(first);
    const taskQueue = uniqueTaskQueue(t.name);
    const id = uniqueChangeId('CHG');
    // A standard change in staging is pre-approved by the test policy: no human in the loop.
    const request = testRequest(id, {
      type: 'standard',
      standard: 'image-bump',
      environment: 'staging',
      namespace: 'staging',
      risk: 'low',
      verification: {
        watch: '20s',
        interval: '1s',
        metrics: [
          { name: 'error-rate', query: 'sum(rate(http_requests_total[1m]))', failWhen: '> 0.01' },
        ],
      },
    });

    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'test/fixtures/crashing-worker.ts')],
      {
        cwd: root,
        env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TASK_QUEUE: taskQueue },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await waitForLine(child, 'ready', 120_000);
    const handle = await startChange(first.client, request, { taskQueue });
    await waitForLine(child, 'watching', 120_000);
    const before = await handle.query(statusQuery);
    assert.equal(before.state, 'watching');

    // The worker dies without a chance to clean up, then the server goes down and comes back.
    child.kill('SIGKILL');
    await first.teardown();
    envs.length = 0;
    const second = await createDevServerEnv({ dbFilename, port });
    envs.push(second);

    const fakes = createFakeActivities(second.client);
    const worker = await Worker.create({
      connection: second.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(workflowsPath),
      activities: fakes.activities,
    });
    const { log, status } = await worker.runUntil(async () => {
      const resumed = second.client.workflow.getHandle<ChangeWorkflow>(handle.workflowId);
      const log = await resumed.result();
      return { log, status: await resumed.query(statusQuery) };
    });

    assert.equal(log.changeLog.state, 'completed');
    assert.equal(status.state, 'completed');
    // The restarted worker only finished the watch: everything before it ran once, before the crash.
    const names = fakes.calls
      .map((c) => c.name)
      .filter((n) => !['notify', 'releaseServiceLock', 'isWorkflowOpen'].includes(n));
    assert.deepEqual(names, ['watchMetrics', 'finalizeRollout']);
    const history = await second.client.workflow.getHandle(handle.workflowId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((n): n is string => Boolean(n));
    assert.equal(scheduled.filter((n) => n === 'createBackup').length, 1);
    assert.equal(scheduled.filter((n) => n === 'startRollout').length, 1);
    assert.equal(status.timeline.filter((e) => e.event === 'state: rolling-out').length, 1);
  });
});
