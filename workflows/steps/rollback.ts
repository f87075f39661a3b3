import { CancellationScope } from '@temporalio/workflow';
import { parseDuration } from '../../src/core/change/duration';
import type { RolloutResult } from '../../src/core/contracts';
import { EndedHeadline, endedText, rolledBackText } from '../../src/core/lifecycle/messages';
import { queryLookbackMs } from '../../src/core/verification/lookback';
import { rootMessage, type Ending } from '../failures';
import { notify } from '../notify';
import type { Run } from '../profile';
import { now, SYSTEM } from '../record';
import { runWatch } from '../watch';
import { rolloutPlan } from './rollout';

/** How long the rollback's own verification watches the service after a rollback. */
const ROLLBACK_CHECK_ROUNDS = 3;
/** The longest the check waits for its queries' ranges to hold only post-rollback samples. */
const ROLLBACK_SETTLE_MAX_MS = 10 * 60_000;

/**
 * Undoes the rollout, restores the backup when asked, and checks the service afterwards; ends
 * rolled back, cancelled (an operator's cancel during the rollout), or failed.
 */
export async function rollBack(
  run: Run,
  reason: string,
  rollout: RolloutResult | undefined,
): Promise<Ending> {
  const { record, operator, activities } = run;
  const plan = rolloutPlan(record);
  const before = record.status.rollout.before;
  const cancelled = operator.cancelRequest !== undefined;
  record.record(SYSTEM, 'rolling back', reason);
  return await CancellationScope.nonCancellable(async () => {
    if (!before)
      return {
        state: 'failed' as const,
        outcome: `${reason}; no pre-change state to roll back to — check ${plan.deployment} by hand`,
      };
    try {
      const result = await activities.kubernetesRollouts.rollbackRollout.executeWithOptions(
        {
          startToCloseTimeout: plan.timeoutMs + 300_000,
          heartbeatTimeout: '30s',
          retry: { initialInterval: '1s', maximumInterval: '30s' },
          summary: `roll back ${plan.deployment}: ${reason}`.slice(0, 200),
        },
        [{ plan, ...(rollout ? { rollout } : {}), before, reason }],
      );
      record.setRollback({ ...result, reason, at: now() });
      record.record(SYSTEM, 'rolled back', result.message);
    } catch (err) {
      const message = rootMessage(err);
      record.record(SYSTEM, 'rollback failed', message);
      const outcome = `ROLLBACK FAILED after "${reason}": ${message}; manual action needed: ${record.rollbackCommand}`;
      await notify(run, 'failed', endedText(record.status, EndedHeadline.rollbackFailed, outcome));
      record.rollbackFailureAnnounced = true;
      return { state: 'failed' as const, outcome };
    }

    const restore =
      record.request.spec.rollback.restoreBackup ||
      operator.rollbackRequest?.restoreBackup === true;
    if (restore) await restoreBackup(run);

    const healthy = await checkAfterRollback(run);
    const restoredAt = now();
    const rolledBackAt = record.status.rollout.rollback?.at ?? restoredAt;
    const text = rolledBackText(record.status, reason, rolledBackAt, restoredAt, healthy);
    if (cancelled) {
      const outcome = `cancelled by ${operator.cancelRequest?.actor}: ${operator.cancelRequest?.reason}; rolled back`;
      await notify(run, 'cancelled', text);
      return { state: 'cancelled' as const, outcome };
    }
    await notify(run, 'rolled-back', text);
    return {
      state: 'rolled-back' as const,
      outcome: `rolled back: ${reason}${healthy ? '' : ' (service not confirmed healthy afterwards)'}`,
    };
  });
}

/** Restores the change's Velero backup; a failed or impossible restore is recorded. */
async function restoreBackup({ record, activities }: Run): Promise<void> {
  const { backup } = record.status;
  if (!backup.name) {
    record.record(SYSTEM, 'restore skipped', 'no backup was taken');
    return;
  }
  try {
    const restored = await activities.velero.restoreBackup({
      changeId: record.id,
      backupName: backup.name,
    });
    record.setRestore(restored);
    record.record(
      SYSTEM,
      'backup restored',
      `${restored.name} from ${restored.backupName}: ${restored.phase}`,
    );
  } catch (err) {
    record.record(SYSTEM, 'restore failed', rootMessage(err));
  }
}

/** A short watch after a rollback: is the service healthy again? */
async function checkAfterRollback({ record }: Run): Promise<boolean> {
  const spec = record.request.spec.verification;
  const intervalMs = parseDuration(spec.interval) ?? 30_000;
  // Rates over [1m] still count the bad version's requests for a minute after the rollback;
  // the first round waits (in the activity) until they have left every query's range.
  const settleMs = Math.min(
    ROLLBACK_SETTLE_MAX_MS,
    Math.max(0, ...spec.metrics.map((m) => queryLookbackMs(m.query))),
  );
  const startedAt = Date.now() + settleMs;
  const endsAt = startedAt + intervalMs * ROLLBACK_CHECK_ROUNDS;
  try {
    const result = await runWatch(
      {
        changeId: record.id,
        metrics: spec.metrics.map((m) => ({ name: m.name, query: m.query, failWhen: m.failWhen })),
        baseline: record.status.verification.baseline,
        intervalMs,
        startedAt,
        endsAt,
        // Unhealthy only when every round says so: the first rounds may still see the rollback.
        failureLimit: ROLLBACK_CHECK_ROUNDS - 1,
        inconclusiveLimit: ROLLBACK_CHECK_ROUNDS - 1,
        consecutiveErrorLimit: ROLLBACK_CHECK_ROUNDS - 1,
      },
      () => endsAt,
    );
    record.record(SYSTEM, `after rollback: ${result.outcome}`, result.reason);
    return result.outcome === 'passed';
  } catch (err) {
    record.record(SYSTEM, 'after rollback: check failed', rootMessage(err));
    return false;
  }
}
