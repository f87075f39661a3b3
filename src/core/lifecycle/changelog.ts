import type { ChangeLog, ChangeState, ChangeStatus, EndState } from './status';
import { isEndState } from './status';

/** A change log built mid-change: the result's shape, with the state the change is in now. */
export type InProgressChangeLog = {
  changeLog: Omit<ChangeLog['changeLog'], 'state'> & { state: ChangeState };
};

function verificationText(
  status: ChangeStatus,
  inProgress: boolean,
): ChangeLog['changeLog']['verification'] {
  const v = status.verification;
  const preflight = status.preflight.checks.map((c) => `${c.ok ? 'passed' : 'FAILED'}: ${c.name}`);
  const watched = v.watchStartedAt
    ? [
        `watch ${v.watchStartedAt} → ${v.watchEndsAt ?? '?'} on ${Object.keys(v.baseline).join(', ') || 'the request metrics'}`,
      ]
    : [];
  const issues = [
    ...status.preflight.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    ...(status.backup.error ? [`backup: ${status.backup.error}`] : []),
    ...(status.rollout.rollback ? [`rolled back: ${status.rollout.rollback.reason}`] : []),
    ...v.evaluations
      .filter((e) => e.status !== 'passed')
      .slice(-5)
      .map((e) => `${e.at} ${e.metric} ${e.status}${e.message ? `: ${e.message}` : ''}`),
  ];
  return {
    tests: [...preflight, ...watched].join('; ') || (inProgress ? 'none run yet' : 'none run'),
    results: `${v.outcome}${v.summary ? `: ${v.summary}` : ''}`,
    issues: issues.length ? issues.join('; ') : 'none',
  };
}

/**
 * The change log: seed 000's changeLog fields, plus approvals, window, backup and timeline. The
 * workflow returns it when the change ends; `changectl export` builds it from the status of a
 * change still in progress ('in-progress'), worded the same but for what has not happened yet.
 */
export function buildChangeLog(status: ChangeStatus): ChangeLog;
export function buildChangeLog(status: ChangeStatus, stage: 'in-progress'): InProgressChangeLog;
export function buildChangeLog(
  status: ChangeStatus,
  stage: 'ended' | 'in-progress' = 'ended',
): ChangeLog | InProgressChangeLog {
  const inProgress = stage === 'in-progress';
  const ended: EndState = isEndState(status.state) ? status.state : 'failed';
  return {
    changeLog: {
      id: status.id,
      date: (status.endedAt ?? status.submittedAt).slice(0, 10),
      type: status.type,
      state: inProgress ? status.state : ended,
      emergency: status.type === 'emergency',
      change: {
        description: status.description,
        reason: status.reason ?? status.title,
        impact: status.impact,
        result: status.outcome ?? (inProgress ? `in progress (${status.state})` : status.state),
      },
      verification: verificationText(status, inProgress),
      risk: status.risk,
      requestDigest: status.requestDigest,
      request: status.request,
      ...(status.identityMode ? { identityMode: status.identityMode } : {}),
      decisions: status.decisions,
      approvals: {
        required: status.approvals.required.reasons.join('; ') || status.approvals.required.summary,
        received: status.approvals.received,
        refused: status.approvals.refused,
        refusedCount: status.approvals.refusedCount,
      },
      window: status.window,
      backup: status.backup,
      rollout: status.rollout,
      ...(status.emergency ? { emergencyRecord: status.emergency } : {}),
      timeline: status.timeline,
    },
  };
}
