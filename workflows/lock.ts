import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import type { LockActivities } from '../src/core/contracts';
import {
  acquireLockSignal,
  lockGrantedSignal,
  lockStateQuery,
  releaseLockSignal,
  type LockRequest,
  type LockState,
} from './messages';

const { isWorkflowOpen } = proxyActivities<LockActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumInterval: '1m' },
});

/** How often a held lock checks that its holder is still running. */
const HOLDER_CHECK_INTERVAL = '1 hour';

/**
 * One lock per environment and service: at most one change rolls out or is watched at a time.
 * Waiting changes queue with emergencies first, then first come first served. The lock never
 * ends on its own (ending could drop a request that arrives at the same moment); it continues as
 * new when its history grows long.
 */
export async function serviceLock(input: LockState): Promise<void> {
  const state: LockState = { lockId: input.lockId, holder: input.holder, queue: [...input.queue] };
  let regrant = false;

  setHandler(acquireLockSignal, (request: LockRequest) => {
    if (typeof request?.workflowId !== 'string' || typeof request.lockId !== 'string') return;
    if (state.holder?.workflowId === request.workflowId) {
      regrant = true;
      return;
    }
    if (state.queue.some((q) => q.workflowId === request.workflowId)) return;
    const position = request.emergency
      ? state.queue.findIndex((q) => !q.emergency)
      : state.queue.length;
    state.queue.splice(position === -1 ? state.queue.length : position, 0, request);
  });
  setHandler(releaseLockSignal, (release) => {
    const { workflowId, grantToken } = (release ?? {}) as Partial<typeof release>;
    // A request made with a token is released only with it: a signal naming the holder is not
    // enough to free a service under a change that is still rolling out.
    const owns = (r: LockRequest) =>
      r.workflowId === workflowId && (r.grantToken === undefined || r.grantToken === grantToken);
    if (state.holder && owns(state.holder)) state.holder = undefined;
    else state.queue = state.queue.filter((q) => !owns(q));
  });
  setHandler(lockStateQuery, () => state);

  for (;;) {
    if (state.holder) {
      const holder = state.holder;
      const released = await condition(
        () => state.holder?.workflowId !== holder.workflowId || regrant,
        HOLDER_CHECK_INTERVAL,
      );
      if (regrant) {
        regrant = false;
        await grant(state.lockId, holder);
        continue;
      }
      if (!released && !(await isWorkflowOpen({ workflowId: holder.workflowId }))) {
        log.warn('lock holder ended without releasing; releasing for it', { holder });
        state.holder = undefined;
      }
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof serviceLock>(state);
    }
    await condition(() => state.queue.length > 0 || state.holder !== undefined);
    const next = state.queue.shift();
    if (!next) continue;
    state.holder = next;
    if (!(await grant(state.lockId, next))) state.holder = undefined;
  }
}

async function grant(lockId: string, holder: LockRequest): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(holder.workflowId).signal(lockGrantedSignal, {
      lockId,
      ...(holder.grantToken ? { grantToken: holder.grantToken } : {}),
    });
    return true;
  } catch (err) {
    log.warn('could not grant the lock; the change is gone', { holder, error: String(err) });
    return false;
  }
}
