/**
 * The per-service locks a change holds while it rolls out and is watched (the lock workflows
 * are in ../lock.ts): which it asked for, which were granted, and asking and giving back.
 */
import { CancellationScope, condition, workflowInfo } from '@temporalio/workflow';
import type { LifecycleProfile, Run } from '../profile';
import { SYSTEM } from '../record';

export class ServiceLocks {
  private granted = new Set<string>();
  private held: { lockWorkflowId: string; lockId: string }[] = [];

  /** The lock workflow's `lockGranted` signal. */
  grant(lockId: string): void {
    this.granted.add(lockId);
  }

  isGranted(lockId: string): boolean {
    return this.granted.has(lockId);
  }

  isRequested(lockId: string): boolean {
    return this.held.some((l) => l.lockId === lockId);
  }

  requested(lock: { lockWorkflowId: string; lockId: string }): void {
    this.held.push(lock);
  }

  /** Forgets every lock asked for and returns them; whether each was granted is `ungrant`'s. */
  takeAll(): { lockWorkflowId: string; lockId: string }[] {
    const held = this.held;
    this.held = [];
    return held;
  }

  /** Forgets a grant; true when it had been granted. */
  ungrant(lockId: string): boolean {
    return this.granted.delete(lockId);
  }
}

/**
 * Waits for the lock of every service (in name order, so two changes never deadlock). False when
 * an operator interrupted the wait.
 */
export async function acquireLocks(run: Run, profile: LifecycleProfile): Promise<boolean> {
  const { record, operator, locks, activities } = run;
  const { spec, metadata } = record.request;
  const { workflowId, taskQueue } = workflowInfo();
  for (const service of [...spec.services].sort()) {
    const lockId = `${spec.environment}/${service}`;
    if (locks.isRequested(lockId)) continue;
    const lockWorkflowId = `lock-${spec.environment}-${service}`;
    locks.requested({ lockWorkflowId, lockId });
    record.setWaitingFor(`waiting for the lock on ${lockId} (one change at a time per service)`);
    record.refreshDetails();
    await activities.locks.requestServiceLock({
      lockWorkflowId,
      taskQueue,
      lockId,
      changeId: metadata.id,
      workflowId,
      emergency: profile.emergency,
    });
    const granted = await operator.interruptible(() => condition(() => locks.isGranted(lockId)));
    if (!granted) return false;
    record.record(SYSTEM, 'lock acquired', lockId);
  }
  record.setWaitingFor(undefined);
  return true;
}

export async function releaseLocks({ record, locks, activities }: Run): Promise<void> {
  const { workflowId } = workflowInfo();
  for (const lock of locks.takeAll()) {
    await CancellationScope.nonCancellable(() =>
      activities.locks.releaseServiceLock({ ...lock, workflowId }),
    );
    if (locks.ungrant(lock.lockId)) record.record(SYSTEM, 'lock released', lock.lockId);
  }
}
