/**
 * The per-service locks a change holds while it rolls out and is watched (the lock workflows
 * are in ../lock.ts): which it asked for, which were granted, and asking and giving back.
 */
import { CancellationScope, condition, uuid4, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { legacyLockWorkflowId, lockWorkflowId as lockIdOf } from '../../src/core/lifecycle/lock-id';
import type { LifecycleProfile, Run } from '../profile';
import { SYSTEM, type ChangeRecord } from '../record';

const grantSchema = z.object({ lockId: z.string().max(300), grantToken: z.string().optional() });

export class ServiceLocks {
  private granted = new Set<string>();
  private held: { lockWorkflowId: string; lockId: string }[] = [];
  /** The token each lock was asked with; a grant must bring it back. */
  private readonly tokens = new Map<string, string>();
  private ignoredGrants = 0;

  constructor(
    private readonly record: ChangeRecord,
    /** False only when replaying a history from before grants carried a token (and lock ids were one-to-one). */
    readonly tokensRequired: boolean,
  ) {}

  /** A fresh token for a lock request (the workflow's own deterministic uuid). */
  tokenFor(lockId: string): string | undefined {
    if (!this.tokensRequired) return undefined;
    const token = this.tokens.get(lockId) ?? uuid4();
    this.tokens.set(lockId, token);
    return token;
  }

  /** The token a lock was asked with, for its release. */
  tokenOf(lockId: string): string | undefined {
    return this.tokens.get(lockId);
  }

  /**
   * The lock workflow's `lockGranted` signal: taken only for a lock this change asked for and
   * with the token it asked with, so a signal sent by hand cannot skip the queue.
   */
  grant(payload: unknown): void {
    const parsed = grantSchema.safeParse(payload);
    const lockId = parsed.success ? parsed.data.lockId : undefined;
    let why: string | undefined;
    if (!parsed.success || lockId === undefined) why = 'not a lock grant';
    else if (this.tokensRequired && !this.tokens.has(lockId))
      why = `lock ${lockId} was not asked for`;
    else if (this.tokensRequired && this.tokens.get(lockId) !== parsed.data.grantToken) {
      why = `lock ${lockId}: the grant does not carry this change's token`;
    }
    if (why !== undefined) {
      this.ignoredGrants += 1;
      // Kept in the timeline up to a point: a flood of forged grants must not grow the record.
      if (this.ignoredGrants <= 20) this.record.record(SYSTEM, 'lock grant ignored', why);
      return;
    }
    this.granted.add(lockId!);
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
    const lockWorkflowId = locks.tokensRequired
      ? lockIdOf(spec.environment, service)
      : legacyLockWorkflowId(spec.environment, service);
    locks.requested({ lockWorkflowId, lockId });
    const grantToken = locks.tokenFor(lockId);
    record.setWaitingFor(`waiting for the lock on ${lockId} (one change at a time per service)`);
    record.refreshDetails();
    await activities.locks.requestServiceLock({
      lockWorkflowId,
      taskQueue,
      lockId,
      changeId: metadata.id,
      workflowId,
      emergency: profile.emergency,
      ...(grantToken ? { grantToken } : {}),
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
    const grantToken = locks.tokenOf(lock.lockId);
    await CancellationScope.nonCancellable(() =>
      activities.locks.releaseServiceLock({
        ...lock,
        workflowId,
        ...(grantToken ? { grantToken } : {}),
      }),
    );
    if (locks.ungrant(lock.lockId)) record.record(SYSTEM, 'lock released', lock.lockId);
  }
}
