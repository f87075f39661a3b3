import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
} from '@temporalio/workflow';
import { buildChangeLog } from '../../src/core/lifecycle/changelog';
import { completeText, EndedHeadline, endedText } from '../../src/core/lifecycle/messages';
import type { ChangeLog } from '../../src/core/lifecycle/status';
import { ChangeEnded, rootMessage, type Ending } from '../failures';
import { notify } from '../notify';
import type { Run } from '../profile';
import { now } from '../record';
import { retireOldColour } from './cleanup';
import { releaseLocks } from './locks';
import { rolloutPlan, type RolloutOutcome } from './rollout';

/**
 * The watch passed: the rollout is made final (blue/green: the old colour to zero, deleted
 * after `cleanupAfter` unless a rollback comes first) and the change completes.
 */
export async function complete(run: Run, rollout: RolloutOutcome): Promise<Ending> {
  const { record, activities } = run;
  const plan = rolloutPlan(record);
  const { result } = rollout;
  await CancellationScope.nonCancellable(async () => {
    if (result) {
      await activities.kubernetesRollouts.finalizeRollout.executeWithOptions(
        {
          startToCloseTimeout: '10m',
          heartbeatTimeout: '30s',
          summary: `finalize ${plan.strategy} rollout`,
        },
        [{ plan, rollout: result }],
      );
    }
  });
  if (result?.strategy === 'blueGreen' && patched('blue-green-cleanup-timer')) {
    const undone = await retireOldColour(run, result);
    if (undone) return undone;
  }
  await notify(run, 'complete', completeText(record.status, rollout.startedAt, now()));
  return {
    state: 'completed',
    outcome: `completed: ${record.status.verification.summary ?? 'watch passed'}`,
  };
}

/**
 * Runs a lifecycle and turns however it ends into the change log: every end path (returned,
 * ended from a step, or the workflow cancelled) releases the locks, records the end, notifies,
 * and waits for handlers to finish.
 */
export async function conclude(run: Run, lifecycle: () => Promise<Ending>): Promise<ChangeLog> {
  let ending: Ending;
  try {
    ending = await lifecycle();
  } catch (err) {
    if (err instanceof ChangeEnded) {
      ending = { state: err.state, outcome: err.outcome };
    } else if (isCancellation(err)) {
      ending = {
        state: 'cancelled',
        outcome: `cancelled: the workflow was cancelled (${rootMessage(err)})`,
      };
    } else {
      throw err;
    }
  } finally {
    await releaseLocks(run);
  }
  return await CancellationScope.nonCancellable(async () => {
    await announceEnd(run, ending);
    await condition(allHandlersFinished);
    return buildChangeLog(run.record.status);
  });
}

/** Records the end state and sends the end notification no earlier step has sent. */
async function announceEnd(run: Run, { state, outcome }: Ending): Promise<void> {
  const { record } = run;
  record.setOutcome(outcome);
  record.setState(state, outcome);
  log.info('change ended', { changeId: record.id, state, outcome });
  const { status } = record;
  if (state === 'failed' && !status.rollout.rollback && !record.rollbackFailureAnnounced) {
    await notify(run, 'failed', endedText(status, EndedHeadline.failed, outcome));
  } else if (state === 'rejected') {
    await notify(run, 'rejected', endedText(status, EndedHeadline.rejected, outcome), [
      status.requestedBy,
    ]);
  } else if (state === 'cancelled' && !status.rollout.rollback) {
    await notify(run, 'cancelled', endedText(status, EndedHeadline.cancelled, outcome));
  }
}
