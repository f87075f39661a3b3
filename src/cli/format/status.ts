import type { ChangeState, ChangeStatus, TimelineEntry } from '../../core/lifecycle/status';
import { isEndState, isUnsuccessful } from '../../core/lifecycle/status';
import type { ApprovalRecord } from '../../core/policy/approvals';
import type { Colors } from '../output';
import { fields, formatTime, formatTimeFrom, formatValue, plural, table } from './text';

/** Section labels ('verification' is the longest) and their values line up in one column. */
const LABEL_WIDTH = 12;

/** The colour a state reads in: green done, red gone wrong, yellow waiting on people or time. */
export function stateColor(state: ChangeState, colors: Colors): (text: string) => string {
  if (state === 'completed') return colors.green;
  if (isUnsuccessful(state)) return colors.red;
  if (
    state === 'awaiting-approval' ||
    state === 'awaiting-ic-approval' ||
    state === 'awaiting-documentation' ||
    state === 'scheduled'
  ) {
    return colors.yellow;
  }
  return colors.cyan;
}

/** The state as the headline: upper case, bold, in its colour, boxed by inverse video on a TTY. */
export function stateBanner(state: ChangeState, colors: Colors): string {
  const text = ` ${state.toUpperCase()} `;
  return colors.enabled
    ? colors.bold(stateColor(state, colors)(colors.inverse(text)))
    : `[${state.toUpperCase()}]`;
}

/** What the change is waiting for now, in one line, or undefined when nothing is awaited. */
export function waitingFor(status: ChangeStatus, now: Date): string | undefined {
  const { approvals, window, verification, emergency } = status;
  switch (status.state) {
    case 'submitted':
      return 'a worker to pick the change up';
    case 'awaiting-approval': {
      const expires = approvals.expiresAt
        ? `; expires ${formatTimeFrom(approvals.expiresAt, now)}`
        : '';
      return `approval: ${approvals.required.summary} (${approvals.received.length} received)${expires}`;
    }
    case 'awaiting-ic-approval':
      return `approval by an incident commander${emergency?.incident ? ` for ${emergency.incident}` : ''}`;
    case 'scheduled': {
      // The workflow's line reads `waiting until <time>: <why>` or `waiting for the lock on ...`;
      // callers print "waiting for" themselves.
      const own = window.waitingFor?.replace(/^waiting (for )?/, '');
      if (own !== undefined && !own.startsWith('until ')) return own;
      if (!window.scheduledFor) return own ?? 'an allowed window';
      const at = formatTimeFrom(window.scheduledFor, now);
      return own?.includes(': ')
        ? `the start at ${at}${own.slice(own.indexOf(': '))}`
        : `the window to open at ${at}`;
    }
    case 'preflight':
      return 'pre-flight checks';
    case 'backing-up':
      return `the backup${status.backup.name ? ` ${status.backup.name}` : ''} to complete`;
    case 'rolling-out':
      return `the rollout of ${status.rollout.deployment} to finish`;
    case 'watching':
      if (verification.awaitingDecisionUntil) {
        return `an operator decision (proceed or rollback) until ${formatTimeFrom(verification.awaitingDecisionUntil, now)}`;
      }
      return verification.watchEndsAt
        ? `the watch to end at ${formatTimeFrom(verification.watchEndsAt, now)}`
        : 'the watch to end';
    case 'awaiting-documentation':
      return `the retroactive record (root cause, post-incident review)${
        emergency?.documentationDueAt
          ? `, due ${formatTimeFrom(emergency.documentationDueAt, now)}`
          : ''
      }`;
    default:
      return undefined;
  }
}

/** The command that moves the change on, when a person is what it waits for. */
export function nextStep(status: ChangeStatus): string | undefined {
  switch (status.state) {
    case 'awaiting-approval':
    case 'awaiting-ic-approval':
      return `changectl approve ${status.id} --comment <text>   (or: changectl reject ${status.id} --reason <text>)`;
    case 'awaiting-documentation':
      return `changectl document ${status.id} --root-cause <text> --changed <text> --pir <url>`;
    case 'scheduled':
    case 'preflight':
    case 'backing-up':
    case 'rolling-out':
    case 'watching':
      return `changectl watch ${status.id}`;
    default:
      return undefined;
  }
}

export function timelineLines(entries: TimelineEntry[], colors: Colors): string[] {
  return table(
    undefined,
    entries.map((e) => [
      colors.dim(formatTime(e.at)),
      e.actor,
      colors.bold(e.event),
      e.detail ?? '',
    ]),
  );
}

/** How an approval was proven: the key that signed it, or UNVERIFIED when only a name was sent. */
function proofOf(a: ApprovalRecord, colors: Colors): string {
  if (a.unverified) return colors.yellow('UNVERIFIED');
  return a.fingerprint ? colors.dim(`signed ${a.fingerprint}`) : '';
}

function approvalLines(status: ChangeStatus, colors: Colors, now: Date): string[] {
  const { approvals } = status;
  const lines = [`approvals     ${approvals.required.summary}`];
  const rows: string[][] = [];
  for (const a of approvals.received) {
    rows.push([
      colors.green('✓'),
      a.by,
      formatTimeFrom(a.at, now),
      a.comment ? `"${a.comment}"` : '',
      proofOf(a, colors),
    ]);
  }
  for (const r of approvals.refused) {
    rows.push([
      colors.red('✗'),
      r.by,
      formatTimeFrom(r.at, now),
      `${r.action} refused: ${r.reason}`,
    ]);
  }
  if (approvals.rejected) {
    const { by, at, reason } = approvals.rejected;
    rows.push([colors.red('✗'), by, formatTimeFrom(at, now), `rejected: ${reason}`]);
  }
  if (rows.length === 0) return [...lines, `  ${colors.dim('none received yet')}`];
  return [...lines, ...table(undefined, rows).map((l) => `  ${l}`)];
}

function windowLine(status: ChangeStatus, now: Date): string {
  const { window } = status;
  const parts: string[] = [];
  if (window.notBefore) parts.push(`not before ${formatTime(window.notBefore)}`);
  if (window.scheduledFor) parts.push(`scheduled for ${formatTimeFrom(window.scheduledFor, now)}`);
  if (window.windowEnd) parts.push(`until ${formatTime(window.windowEnd)}`);
  if (window.windowNames.length > 0) parts.push(`windows: ${window.windowNames.join(', ')}`);
  if (window.bypassed.length > 0)
    parts.push(`bypassed: ${plural(window.bypassed.length, 'blocker')}`);
  return parts.length > 0 ? parts.join('; ') : 'any time (no window applies)';
}

function backupLines(status: ChangeStatus): string[] {
  const { backup } = status;
  if (!backup.name)
    return [`backup        ${backup.error ? `failed: ${backup.error}` : 'not taken yet'}`];
  const lines = [`backup        ${backup.name}${backup.phase ? ` (${backup.phase})` : ''}`];
  if (backup.restoreCommand) lines.push(`  restore     ${backup.restoreCommand}`);
  if (backup.error) lines.push(`  error       ${backup.error}`);
  if (backup.restore) {
    lines.push(`  restored    ${backup.restore.name} (${backup.restore.phase})`);
  }
  return lines;
}

function rolloutLines(status: ChangeStatus, colors: Colors, now: Date): string[] {
  const { rollout } = status;
  const what = rollout.image ? ` → ${rollout.image}` : '';
  const lines = [`rollout       ${rollout.strategy} deployment/${rollout.deployment}${what}`];
  const result = rollout.result;
  if (result) {
    const revisions =
      result.previousRevision !== undefined && result.revision !== undefined
        ? `revision ${result.previousRevision} → ${result.revision}; `
        : '';
    lines.push(`  result      ${revisions}${result.message}`);
  }
  if (rollout.canaryWeight !== undefined) lines.push(`  canary      ${rollout.canaryWeight}%`);
  if (rollout.rollback) {
    lines.push(
      `  ${colors.red('rolled back')} ${formatTimeFrom(rollout.rollback.at, now)}: ${rollout.rollback.reason}`,
    );
    lines.push(`              ${rollout.rollback.message}`);
  }
  return lines;
}

function verificationLines(status: ChangeStatus, colors: Colors): string[] {
  const { verification } = status;
  const outcome =
    verification.outcome === 'passed'
      ? colors.green('passed')
      : verification.outcome === 'failed' || verification.outcome === 'inconclusive'
        ? colors.red(verification.outcome)
        : verification.outcome;
  const lines = [
    `verification  ${outcome}${verification.summary ? ` — ${verification.summary}` : ''}`,
  ];
  const last = verification.evaluations.slice(-5);
  if (last.length > 0) {
    lines.push(
      ...table(
        undefined,
        last.map((m) => [
          colors.dim(formatTime(m.at)),
          m.metric,
          formatValue(m.value),
          m.threshold !== undefined ? `threshold ${formatValue(m.threshold)}` : '',
          m.status === 'passed' ? colors.green(m.status) : colors.red(m.status),
          m.message ?? '',
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  return lines;
}

function emergencyLines(status: ChangeStatus, now: Date): string[] {
  const e = status.emergency;
  if (!e) return [];
  const parts = [`incident ${e.incident}`];
  if (e.incidentCommander) parts.push(`incident commander ${e.incidentCommander}`);
  if (e.breakGlass) parts.push('break-glass');
  if (e.approvalOwed) parts.push('approval still owed');
  const lines = [`emergency     ${parts.join('; ')}`];
  if (e.documentation) {
    lines.push(
      `  documented  by ${e.documentation.by} at ${formatTime(e.documentation.at)}${e.documentation.late ? ' (late)' : ''}`,
    );
  } else if (e.documentationDueAt) {
    lines.push(
      `  record due  ${formatTimeFrom(e.documentationDueAt, now)} (${plural(e.reminders, 'reminder')}, ${plural(e.escalations, 'escalation')})`,
    );
  }
  return lines;
}

/** The `changectl status` page: state first, then what it waits for, then the details. */
export function renderStatus(status: ChangeStatus, colors: Colors, now: Date): string[] {
  const lines: string[] = [];
  lines.push(`${colors.bold(status.id)}  ${status.title}`);
  lines.push(stateBanner(status.state, colors));
  const waiting = waitingFor(status, now);
  if (waiting) lines.push(`waiting for: ${waiting}`);
  if (isEndState(status.state) && status.outcome) lines.push(`outcome: ${status.outcome}`);
  const next = nextStep(status);
  if (next) lines.push(colors.dim(`  → ${next}`));
  lines.push('');

  const risk =
    status.risk === status.riskDeclared
      ? status.risk
      : `${status.risk} (declared ${status.riskDeclared}; raised by ${status.riskRaisedBy.join(', ')})`;
  const { requestDigest, identityMode } = status;
  lines.push(
    ...fields(
      [
        ['type', status.type],
        ...(requestDigest ? ([['request', requestDigest]] as [string, string][]) : []),
        ...(identityMode === 'names'
          ? ([['identity', 'names trusted (identity.mode: names): decisions are UNVERIFIED']] as [
              string,
              string,
            ][])
          : []),
        ['risk', risk],
        ['environment', `${status.environment} (namespace ${status.namespace})`],
        ['services', status.services.join(', ')],
        ['requested', `by ${status.requestedBy}, ${formatTimeFrom(status.submittedAt, now)}`],
        ...(status.endedAt
          ? ([['ended', formatTimeFrom(status.endedAt, now)]] as [string, string][])
          : []),
      ],
      LABEL_WIDTH,
    ),
  );
  lines.push('');
  lines.push(...approvalLines(status, colors, now));
  lines.push(`window        ${windowLine(status, now)}`);
  lines.push(...backupLines(status));
  lines.push(...rolloutLines(status, colors, now));
  lines.push(...verificationLines(status, colors));
  lines.push(...emergencyLines(status, now));
  lines.push('');
  const last = status.timeline.slice(-10);
  lines.push(
    status.timeline.length > last.length
      ? `timeline (last ${last.length} of ${status.timeline.length})`
      : 'timeline',
  );
  lines.push(...timelineLines(last, colors).map((l) => `  ${l}`));
  return lines;
}
