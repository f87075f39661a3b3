import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { LockActivities } from '../src/core/contracts';
import { acquireLockSignal, releaseLockSignal } from '../workflows/messages';

/**
 * The per-service lock is a workflow; workflows cannot signal-with-start, so changes reach it
 * through these activities. Signals are idempotent on the lock's side (a repeated request from
 * the holder or a queued change is recognised by its workflow id).
 */
export function createLockActivities(client: Client): LockActivities {
  return {
    async requestServiceLock(input) {
      await client.workflow.signalWithStart('serviceLock', {
        workflowId: input.lockWorkflowId,
        taskQueue: input.taskQueue,
        args: [{ lockId: input.lockId, queue: [] }],
        signal: acquireLockSignal,
        signalArgs: [
          {
            lockId: input.lockId,
            changeId: input.changeId,
            workflowId: input.workflowId,
            emergency: input.emergency,
            ...(input.grantToken ? { grantToken: input.grantToken } : {}),
          },
        ],
        staticSummary: `lock ${input.lockId}`,
      });
    },

    async releaseServiceLock(input) {
      try {
        await client.workflow
          .getHandle(input.lockWorkflowId)
          .signal(releaseLockSignal, { lockId: input.lockId, workflowId: input.workflowId });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return;
        throw err;
      }
    },

    async isWorkflowOpen(input) {
      try {
        const description = await client.workflow.getHandle(input.workflowId).describe();
        return description.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
