import { CancellationScope, sleep } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import { DEFAULT_CLEANUP_AFTER } from '../../src/core/change/request';
import type { RolloutResult } from '../../src/core/contracts';
import { rootMessage, type Ending } from '../failures';
import type { Run } from '../profile';
import { now, SYSTEM } from '../record';
import { rollBack } from './rollback';
import { rolloutPlan } from './rollout';

/**
 * The seed's blue/green cleanup after a passed watch: the old colour is already at zero
 * (finalize); it stays for `cleanupAfter` on a durable timer, so an operator's rollback in
 * between switches back to it at once, and is then deleted. Returns the rollback's ending
 * when one came, undefined when the cleanup ran.
 */
export async function retireOldColour(
  run: Run,
  result: RolloutResult,
): Promise<Ending | undefined> {
  const { record, operator, activities } = run;
  const old = result.previousDeployment;
  if (!old || old === result.activeDeployment) return undefined;
  const after = record.request.spec.rollout.cleanupAfter ?? DEFAULT_CLEANUP_AFTER;
  const delayMs = parseDuration(after) ?? 600_000;
  const deleteAt = new Date(Date.now() + delayMs).toISOString();
  record.setState('cleaning-up');
  record.status.rollout.cleanup = { deployment: old, deleteAt };
  record.record(
    SYSTEM,
    'old colour scaled to zero',
    `${old} is deleted at ${deleteAt} (cleanupAfter ${after}); a rollback before then switches back to it`,
  );

  const waited = operator.rollbackRequest
    ? undefined
    : await operator.interruptible(() =>
        sleep(delayMs, { summary: `keep ${old} at zero for ${after}, then delete it` }),
      );
  if (!waited) {
    return await rollBack(run, operator.rollbackRequest?.reason ?? 'rollback', result);
  }

  const plan = rolloutPlan(record);
  await CancellationScope.nonCancellable(async () => {
    try {
      const cleaned = await activities.kubernetesRollouts.cleanupRollout.executeWithOptions(
        {
          startToCloseTimeout: '10m',
          heartbeatTimeout: '30s',
          retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10 },
          summary: `delete the old colour ${old}`,
        },
        [{ plan, rollout: result }],
      );
      record.status.rollout.cleanup = {
        deployment: old,
        deleteAt,
        message: cleaned.message,
        ...(cleaned.deleted.length > 0 ? { deletedAt: now() } : {}),
      };
      record.record(SYSTEM, 'old colour cleaned up', cleaned.message);
    } catch (err) {
      // The change itself succeeded; a colour left at zero is deleted by the next blue/green change.
      record.status.rollout.cleanup = { deployment: old, deleteAt, message: rootMessage(err) };
      record.record(SYSTEM, 'cleanup failed', rootMessage(err));
    }
  });
  return undefined;
}
