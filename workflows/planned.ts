import { condition } from '@temporalio/workflow';
import { parseDuration } from '../src/core/change/duration';
import type { ChangeInput, ChangeLog } from '../src/core/lifecycle/status';
import {
  checkApproval,
  checkRejection,
  quorumStatus,
  requiredApprovals,
} from '../src/core/policy/approvals';
import type { Policy } from '../src/core/policy/schema';
import { nextAllowedStart } from '../src/core/policy/windows';
import { ChangeRun } from './change-run';

/**
 * A planned change (standard or normal), as the runbook has it: request, risk assessment,
 * approvals, wait for the maintenance window, one change per service at a time, pre-flight,
 * backup, rollout, watch, and completed or rolled back.
 */
export async function plannedChange(input: ChangeInput): Promise<ChangeLog> {
  const run = new ChangeRun(input, 'planned');
  run.registerHandlers(
    (by) =>
      withPolicy(run, (policy) =>
        checkApproval(
          policy,
          run.request,
          run.status.approvals.required,
          run.status.approvals.received,
          by,
          decidedAlready(run),
        ),
      ),
    (by) =>
      withPolicy(run, (policy) => checkRejection(policy, run.request, by, decidedAlready(run))),
    // The status shows what is still missing as soon as an approval lands, not when the
    // approval loop next wakes (which is only at quorum, a reminder or expiry).
    () => {
      run.status.approvals.required.summary = run.approvalSummary();
    },
  );

  return await run.execute(async () => {
    const policy = await run.loadPolicy();
    await awaitApprovals(run, policy);
    await awaitWindowAndLock(run, policy);
    await run.preflight();
    await run.backup({ bestEffort: false, required: true });
    const { verification } = run.request.spec;
    return await run.rolloutAndWatch({
      intervalMs: parseDuration(verification.interval) ?? 30_000,
      failureLimit: verification.failureLimit,
      inconclusiveLimit: verification.inconclusiveLimit,
    });
  });
}

function withPolicy(
  run: ChangeRun,
  check: (policy: Policy) => { ok: true } | { ok: false; reason: string },
) {
  if (!run.policy)
    return {
      ok: false as const,
      reason: 'the change is still loading its policy; try again in a moment',
    };
  return check(run.policy);
}

/** The decision, once made: approvals complete, rejected, or the change moved on or ended. */
function decidedAlready(run: ChangeRun): string | undefined {
  const { approvals, state } = run.status;
  if (approvals.rejected) return `rejected by ${approvals.rejected.by}`;
  if (state !== 'awaiting-approval' && state !== 'submitted') return `the change is ${state}`;
  if (run.policy && quorumStatus(run.policy, approvals.required, approvals.received).met) {
    return 'approvals are complete';
  }
  return undefined;
}

/**
 * Approval flow: the quorum the policy asks for (distinct approvers, a member of each required
 * team, no self-approval), with reminders, until approved, rejected, cancelled or expired.
 */
async function awaitApprovals(run: ChangeRun, policy: Policy): Promise<void> {
  const required = requiredApprovals(policy, run.request, run.status.risk);
  run.status.approvals.required = {
    ...required,
    summary: quorumStatus(policy, required, []).summary,
  };
  if (required.preApproved) {
    run.status.approvals.required.summary = 'pre-approved';
    run.record('policy', 'pre-approved', required.reasons.join('; '));
    return;
  }
  run.setState('awaiting-approval', run.status.approvals.required.summary);
  const expiryMs =
    policy.spec.approvals.expiry === 'never'
      ? undefined
      : parseDuration(policy.spec.approvals.expiry);
  const reminderMs = policy.spec.approvals.reminderEvery
    ? parseDuration(policy.spec.approvals.reminderEvery)
    : undefined;
  const expiresAt = expiryMs === undefined ? undefined : Date.now() + expiryMs;
  if (expiresAt !== undefined) run.status.approvals.expiresAt = new Date(expiresAt).toISOString();
  const quorum = () =>
    quorumStatus(policy, run.status.approvals.required, run.status.approvals.received);
  await run.notify(
    'approval-requested',
    `🗳️ APPROVAL NEEDED: ${run.status.id} ${run.status.title}\nRisk: ${run.status.risk} | ${run.status.approvals.required.summary}\nApprove: changectl approve ${run.status.id}`,
  );

  for (;;) {
    const decided = () =>
      quorum().met ||
      run.status.approvals.rejected !== undefined ||
      run.cancelRequest !== undefined;
    const untilExpiry = expiresAt === undefined ? undefined : Math.max(0, expiresAt - Date.now());
    const wait = [untilExpiry, reminderMs].filter((x): x is number => x !== undefined);
    if (wait.length === 0) await condition(decided);
    else
      await condition(decided, Math.min(...wait), {
        summary:
          untilExpiry !== undefined && untilExpiry <= (reminderMs ?? Infinity)
            ? 'approval expiry'
            : 'approval reminder',
      });

    run.status.approvals.required.summary = quorum().summary;
    run.endIfCancelled();
    const rejected = run.status.approvals.rejected;
    if (rejected) run.end('rejected', `rejected by ${rejected.by}: ${rejected.reason}`);
    if (quorum().met) {
      run.record(
        'policy',
        'approvals complete',
        run.status.approvals.received.map((a) => a.by).join(', '),
      );
      return;
    }
    if (expiresAt !== undefined && Date.now() >= expiresAt) {
      run.end(
        'rejected',
        `approvals expired after ${policy.spec.approvals.expiry}: ${quorum().summary}`,
      );
    }
    run.record('policy', 'approval reminder', quorum().summary);
    await run.notify(
      'approval-reminder',
      `⏰ REMINDER: ${run.status.id} ${run.status.title} still ${quorum().summary}\nApprove: changectl approve ${run.status.id}`,
    );
  }
}

/**
 * Waits for a window that fits rollout + watch, then for the per-service lock; if the window
 * closed while the change queued for the lock, gives the lock back and waits for the next one.
 */
async function awaitWindowAndLock(run: ChangeRun, policy: Policy): Promise<void> {
  for (;;) {
    await awaitWindow(run, policy);
    const locked = await run.acquireLocks();
    if (!locked) run.endIfCancelled();
    const again = nextAllowedStart(policy, run.target, Date.now(), run.neededMs, notBefore(run));
    if (again.kind === 'now') return;
    run.record('policy', 'window closed while waiting for the lock', 'waiting for the next window');
    await run.releaseLocks();
  }
}

function notBefore(run: ChangeRun): { notBefore?: number } {
  const at = run.status.window.notBefore;
  return at ? { notBefore: Date.parse(at) } : {};
}

async function awaitWindow(run: ChangeRun, policy: Policy): Promise<void> {
  for (;;) {
    run.rescheduled = false;
    const decision = nextAllowedStart(policy, run.target, Date.now(), run.neededMs, notBefore(run));
    if (decision.kind === 'never') {
      run.end('rejected', `no window fits: ${decision.reason}`);
    }
    if (decision.kind === 'now') {
      run.status.window.scheduledFor = new Date().toISOString();
      run.status.window.windowEnd =
        decision.window && decision.window.names.length
          ? new Date(decision.window.end).toISOString()
          : undefined;
      run.status.window.windowNames = decision.window?.names ?? [];
      run.status.window.waitingFor = undefined;
      run.setState(
        'scheduled',
        decision.window?.names.length
          ? `inside ${decision.window.names.join(', ')}`
          : 'no window restrictions apply',
      );
      return;
    }
    const startsAt = new Date(decision.start).toISOString();
    run.status.window.scheduledFor = startsAt;
    run.status.window.windowEnd =
      decision.window && decision.window.names.length
        ? new Date(decision.window.end).toISOString()
        : undefined;
    run.status.window.windowNames = decision.window?.names ?? [];
    run.status.window.waitingFor = `waiting until ${startsAt}: ${decision.blockers.map((b) => b.reason).join('; ') || 'not before the requested time'}`;
    run.setState('scheduled', run.status.window.waitingFor);
    run.record('policy', 'scheduled', run.status.window.waitingFor);
    await run.notify(
      'scheduled',
      `📅 SCHEDULED: ${run.status.id} ${run.status.title} for ${startsAt}`,
    );
    const woke = await run.interruptible(() =>
      condition(() => run.rescheduled, Math.max(1, decision.start - Date.now()), {
        summary: `wait for window: ${startsAt}`,
      }),
    );
    if (!woke) run.endIfCancelled();
  }
}
