import { isCancellation } from '@temporalio/workflow';
import { backupSpecOf } from '../../src/core/change/request';
import { endChange, rootMessage } from '../failures';
import type { LifecycleProfile, Run } from '../profile';
import { SYSTEM } from '../record';

/**
 * The Velero backup before the change. With mode 'required' a failed backup ends the change
 * before anything changed; 'best-effort' records the failure and goes on; 'off' takes none.
 */
export async function backup(run: Run, profile: LifecycleProfile): Promise<void> {
  const { record, operator, activities } = run;
  const { mode, timeoutMs } = profile.backup;
  if (mode === 'off') {
    record.record(SYSTEM, 'backup skipped', 'the lifecycle takes no backup');
    return;
  }
  record.setState('backing-up');
  const spec = backupSpecOf(record.request).velero;
  const outcome = await operator.interruptible(async () => {
    try {
      const call = {
        changeId: record.id,
        includeNamespaces: spec.includeNamespaces,
        snapshotVolumes: spec.snapshotVolumes,
        ttl: spec.ttl,
      };
      return timeoutMs
        ? await activities.velero.createBackup.executeWithOptions(
            {
              startToCloseTimeout: timeoutMs,
              scheduleToCloseTimeout: timeoutMs,
              heartbeatTimeout: '1m',
              summary: `Velero backup of ${spec.includeNamespaces.join(', ')} (best effort)`,
            },
            [call],
          )
        : await activities.velero.createBackup.executeWithOptions(
            {
              startToCloseTimeout: '1h',
              heartbeatTimeout: '1m',
              retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
              summary: `Velero backup of ${spec.includeNamespaces.join(', ')}`,
            },
            [call],
          );
    } catch (err) {
      if (isCancellation(err) && (operator.cancelRequest || operator.rollbackRequest)) throw err;
      const message = rootMessage(err);
      record.setBackupError(message);
      record.record(SYSTEM, 'backup failed', message);
      if (mode === 'required')
        endChange('failed', `backup failed: ${message}; nothing was changed`);
      return undefined;
    }
  });
  if (!outcome) {
    operator.endIfCancelled();
    return;
  }
  const taken = outcome.value;
  if (taken) {
    record.setBackup(taken);
    record.record(
      SYSTEM,
      'backup completed',
      `${taken.name}; restore with: ${taken.restoreCommand}`,
    );
  }
}
