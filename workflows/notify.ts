import { CancellationScope } from '@temporalio/workflow';
import type { NotificationKind } from '../src/core/contracts';
import { rootMessage } from './failures';
import type { Run } from './profile';
import { SYSTEM, UNVERIFIED_NOTE } from './record';

/** Sends a notification; a failed one is recorded, never the end of the change. */
export async function notify(
  { record, activities }: Run,
  kind: NotificationKind,
  text: string,
  audience?: string[],
): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() =>
      activities.notifications.notify({
        kind,
        changeId: record.id,
        text: record.status.identityMode === 'names' ? `${text}\n${UNVERIFIED_NOTE}` : text,
        ...(audience ? { audience } : {}),
      }),
    );
  } catch (err) {
    record.record(SYSTEM, 'notification failed', `${kind}: ${rootMessage(err)}`);
  }
}
