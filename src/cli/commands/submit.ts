import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Connection, WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { loadChangeRequestFile } from '../../load/change';
import { statusQuery } from '../../../workflows/messages';
import type { ChangeState } from '../../core/lifecycle/status';
import type { CliContext } from '../context';
import { parseInput } from '../input';
import { workflowUiUrl } from '../links';

const submitInput = z.object({
  file: z.string().min(1, { error: 'expected a file path' }),
  taskQueue: z.string().min(1).optional(),
});

/** How long `submit` waits for the workflow's first state before it reports `submitted`. */
const FIRST_STATE_WAIT_MS = 3_000;

/**
 * The state the workflow reports once its first task ran; `submitted` when no worker picked it up
 * within a few seconds (a query fails until the first workflow task has completed).
 */
async function firstState(connection: Connection, handle: WorkflowHandle): Promise<ChangeState> {
  const deadline = Date.now() + FIRST_STATE_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const status = await connection.withDeadline(deadline, () => handle.query(statusQuery));
      if (status.state !== 'submitted') return status.state;
    } catch {
      // Not answerable yet; asked again until the deadline.
    }
    await sleep(200);
  }
  return 'submitted';
}

export function submitCommand(program: Command, ctx: CliContext): void {
  program
    .command('submit')
    .description('validate a change request file and start its change')
    .argument('<file>', 'change request (YAML or JSON)')
    .option(
      '--task-queue <queue>',
      'task queue of the changectl worker (default: CHANGECTL_TASK_QUEUE, then changectl)',
    )
    .action(async (file: string, raw: Record<string, unknown>) => {
      const input = parseInput(submitInput, { file, ...raw });
      // Validate before connecting: nothing is started when the file has any problem.
      const request = await loadChangeRequestFile(input.file);
      // Loaded after validation: a bad file is refused without loading the Temporal client.
      const { DEFAULT_TASK_QUEUE, startChange } = await import('../../temporal/start');
      const { client, connection, options } = await ctx.temporal();
      const handle = await startChange(client, request, {
        taskQueue: input.taskQueue ?? ctx.io.env.CHANGECTL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
      });
      const runId =
        'firstExecutionRunId' in handle && typeof handle.firstExecutionRunId === 'string'
          ? handle.firstExecutionRunId
          : (await handle.describe()).runId;
      const id = request.metadata.id;
      if (ctx.json) {
        ctx.out.json({ id, workflowId: handle.workflowId, runId });
        return;
      }
      const state = await firstState(connection, handle);
      const { colors } = ctx.out;
      ctx.out.line(`${colors.green('✓')} change ${colors.bold(id)} submitted`);
      ctx.out.line(`  workflow  ${handle.workflowId} (run ${runId})`);
      ctx.out.line(`  state     ${state}`);
      const ui = workflowUiUrl(ctx.io.env, options.namespace, handle.workflowId, runId);
      if (ui) ctx.out.line(`  ui        ${ui}`);
      ctx.out.line(colors.dim(`  follow it with: changectl watch ${id}`));
    });
}
