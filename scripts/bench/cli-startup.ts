/**
 * How long a person waits for `changectl`: `--help`, `status <id>` and `list` against the Go
 * `temporal` CLI's `workflow describe` and `workflow list` on the same dev server, pair by pair
 * in one run (interleaved, so load on the machine hits both sides alike), and bare `node -e 0`
 * for node's own start-up. Goal: at most 3x the Go CLI.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { changeWorkflowId } from '../../src/core/change/request';
import { startChange } from '../../src/temporal/start';
import { projectRoot, toolPath } from '../../src/stack/tools';
import { statusQuery } from '../../workflows/messages';
import { createFakeActivities, testRequest } from '../../test/helpers/fakes';
import { createDevServerEnv, workflowBundle } from '../../test/helpers/temporal';
import { ensureCli } from '../build.mjs';
import { percentile } from './stats';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const workflowsPath = join(projectRoot, 'workflows', 'index.ts');

/** Wall time of one run. Asynchronous: the worker answering `status` lives in this process. */
function timeOnce(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

await ensureCli();
const env = await createDevServerEnv();
try {
  const address = env.address;
  const taskQueue = `bench-cli-${Date.now()}`;
  const fakes = createFakeActivities(env.client);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(workflowsPath),
    activities: fakes.activities,
  });
  await worker.runUntil(async () => {
    const id = `BENCH-${Date.now()}`;
    const handle = await startChange(env.client, testRequest(id), { taskQueue });
    while ((await handle.query(statusQuery)).state !== 'awaiting-approval') {
      await new Promise((r) => setTimeout(r, 50));
    }
    const childEnv = { ...process.env, TEMPORAL_ADDRESS: address, NO_COLOR: '1' };
    const changectl = join(projectRoot, 'bin', 'changectl.js');
    const temporal = toolPath('temporal');
    const pairs: [string, [string, string[]], [string, string[]]][] = [
      ['--help', [process.execPath, [changectl, '--help']], [process.execPath, ['-e', '0']]],
      [
        'status',
        [process.execPath, [changectl, 'status', id]],
        [temporal, ['workflow', 'describe', '--address', address, '-w', changeWorkflowId(id)]],
      ],
      [
        'list',
        [process.execPath, [changectl, 'list']],
        [temporal, ['workflow', 'list', '--address', address, '--limit', '50']],
      ],
    ];
    console.log(`${ROUNDS} rounds each, interleaved; median / p90 in ms\n`);
    console.log(
      'command'.padEnd(12) +
        'changectl'.padStart(18) +
        'baseline'.padStart(18) +
        'ratio'.padStart(8) +
        '  baseline is',
    );
    for (const [label, ours, theirs] of pairs) {
      const a: number[] = [];
      const b: number[] = [];
      await timeOnce(ours[0], ours[1], childEnv); // warm the page cache once
      for (let i = 0; i < ROUNDS; i++) {
        a.push(await timeOnce(ours[0], ours[1], childEnv));
        b.push(await timeOnce(theirs[0], theirs[1], childEnv));
      }
      a.sort((x, y) => x - y);
      b.sort((x, y) => x - y);
      const ratio = percentile(a, 50) / percentile(b, 50);
      console.log(
        label.padEnd(12) +
          `${percentile(a, 50).toFixed(0)} / ${percentile(a, 90).toFixed(0)}`.padStart(18) +
          `${percentile(b, 50).toFixed(0)} / ${percentile(b, 90).toFixed(0)}`.padStart(18) +
          `${ratio.toFixed(1)}x`.padStart(8) +
          `  ${label === '--help' ? 'node -e 0' : `temporal ${theirs[1].slice(0, 2).join(' ')}`}`,
      );
    }
    console.log('\ngoal: status and list at most 3x the Go CLI (node alone starts in about 2x)');
  });
} finally {
  await env.teardown();
}
