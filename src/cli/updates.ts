import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { CliError, ExitCode, isNotReady } from './errors';

/** How long a decision waits for a change that has just started and is still loading its policy. */
export const NOT_READY_WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` again, 200 ms apart and doubling up to `maxDelayMs`, while its error is one
 * `retryable` says will pass; past `waitMs` the last error goes to `giveUp` (thrown as is by
 * default). The one wait of the CLI's "the change is not ready yet" answers.
 */
export async function retryWhile<T>(
  attempt: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  {
    waitMs,
    maxDelayMs,
    giveUp = (err) => {
      throw err;
    },
  }: {
    waitMs: number;
    maxDelayMs: number;
    giveUp?: (err: unknown) => never;
  },
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, maxDelayMs)) {
    try {
      return await attempt();
    } catch (err) {
      if (!retryable(err)) throw err;
      if (Date.now() + delay > deadline) giveUp(err);
      await sleep(delay);
    }
  }
}

/**
 * Sends an update, and sends it again while the change answers "not ready yet" (its policy is
 * still loading: an approval typed right after submit). A refusal is never sent again; after
 * `waitMs` the command fails and says what it waited for.
 */
export function executeWhenReady<Ret, Arg>(
  changeId: string,
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
  waitMs = NOT_READY_WAIT_MS,
): Promise<Ret> {
  return retryWhile(
    () => handle.executeUpdate(update, { args: [arg] }),
    (err) => isNotReady(err) !== undefined,
    {
      waitMs,
      maxDelayMs: 2_000,
      giveUp: (err) => {
        throw new CliError(
          ExitCode.Failed,
          `change ${changeId} is not ready after ${Math.round(waitMs / 1000)} s: ${isNotReady(err)}`,
        );
      },
    },
  );
}
