import { condition } from '@temporalio/workflow';
import type { Policy } from '../../src/core/policy/schema';
import { blockersAt, nextAllowedStart, type OpenWindow } from '../../src/core/policy/windows';
import { endChange } from '../failures';
import { notify } from '../notify';
import { neededMs, windowTarget, type LifecycleProfile, type Run } from '../profile';
import type { ChangeRecord } from '../record';
import { acquireLocks, releaseLocks } from './locks';
import { scheduledText } from '../../src/core/lifecycle/messages';

function notBefore(record: ChangeRecord): { notBefore?: number } {
  const at = record.status.window.notBefore;
  return at ? { notBefore: Date.parse(at) } : {};
}

/**
 * Waits for a window that fits rollout + watch, then for the per-service lock; if the window
 * closed while the change queued for the lock, gives the lock back and waits for the next one.
 */
export async function awaitWindowAndLock(
  run: Run,
  profile: LifecycleProfile,
  policy: Policy,
): Promise<void> {
  const { record, operator } = run;
  for (;;) {
    await awaitWindow(run, profile, policy);
    const locked = await acquireLocks(run, profile);
    if (!locked) operator.endIfCancelled();
    const again = nextAllowedStart(
      policy,
      windowTarget(record, profile),
      Date.now(),
      neededMs(record, profile),
      notBefore(record),
    );
    if (again.kind === 'now') return;
    record.record(
      'policy',
      'window closed while waiting for the lock',
      'waiting for the next window',
    );
    await releaseLocks(run);
  }
}

function setWindowOf(record: ChangeRecord, open: OpenWindow | undefined): void {
  const { window } = record.status;
  window.windowEnd = open && open.names.length ? new Date(open.end).toISOString() : undefined;
  window.windowNames = open?.names ?? [];
}

async function awaitWindow(run: Run, profile: LifecycleProfile, policy: Policy): Promise<void> {
  const { record, operator } = run;
  const { window } = record.status;
  for (;;) {
    operator.rescheduled = false;
    const decision = nextAllowedStart(
      policy,
      windowTarget(record, profile),
      Date.now(),
      neededMs(record, profile),
      notBefore(record),
    );
    if (decision.kind === 'never') {
      endChange('rejected', `no window fits: ${decision.reason}`);
    }
    if (decision.kind === 'now') {
      window.scheduledFor = new Date().toISOString();
      setWindowOf(record, decision.window);
      window.waitingFor = undefined;
      record.setState(
        'scheduled',
        decision.window?.names.length
          ? `inside ${decision.window.names.join(', ')}`
          : 'no window restrictions apply',
      );
      return;
    }
    const startsAt = new Date(decision.start).toISOString();
    window.scheduledFor = startsAt;
    setWindowOf(record, decision.window);
    window.waitingFor = `waiting until ${startsAt}: ${decision.blockers.map((b) => b.reason).join('; ') || 'not before the requested time'}`;
    record.setState('scheduled', window.waitingFor);
    record.record('policy', 'scheduled', window.waitingFor);
    await notify(run, 'scheduled', scheduledText(record.status, startsAt));
    const woke = await operator.interruptible(() =>
      condition(() => operator.rescheduled, Math.max(1, decision.start - Date.now()), {
        summary: `wait for window: ${startsAt}`,
      }),
    );
    if (!woke) operator.endIfCancelled();
  }
}

/** Emergencies go ahead through windows and freezes; each one bypassed is on the record. */
export function recordBypasses(
  record: ChangeRecord,
  profile: LifecycleProfile,
  policy: Policy,
): void {
  const blockers = blockersAt(
    policy,
    windowTarget(record, profile),
    Date.now(),
    neededMs(record, profile),
  );
  record.status.window.bypassed = blockers;
  record.status.window.scheduledFor = new Date().toISOString();
  for (const blocker of blockers)
    record.record('policy', `bypassed ${blocker.kind}`, blocker.reason);
}
