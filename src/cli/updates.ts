import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { CliError, ExitCode, isNotReady } from './errors';

/** How long a decision waits for a change that has just started and is still loading its policy. */
export const NOT_READY_WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends an update, and sends it again while the change answers "not ready yet" (its policy is
 * still loading: an approval typed right after submit). A refusal is never sent again; after
 * `waitMs` the command fails and says what it waited for.
 */
export async function executeWhenReady<Ret, Arg>(
  changeId: string,
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
  waitMs = NOT_READY_WAIT_MS,
): Promise<Ret> {
  const deadline = Date.now() + waitMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await handle.executeUpdate(update, { args: [arg] });
    } catch (err) {
      const reason = isNotReady(err);
      if (reason === undefined) throw err;
      if (Date.now() + delay > deadline) {
        throw new CliError(
          ExitCode.Failed,
          `change ${changeId} is not ready after ${Math.round(waitMs / 1000)} s: ${reason}`,
        );
      }
      await sleep(delay);
    }
  }
}
