import { buildChangeLog, type InProgressChangeLog } from '../../core/lifecycle/changelog';
import { isEndState, type ChangeStatus } from '../../core/lifecycle/status';
import { formatTime } from './text';

/** The change log as `export` prints it: the workflow's result, or the same shape mid-change. */
export type ExportedChangeLog = InProgressChangeLog['changeLog'];

/**
 * The change log from a change's status, by the workflow's own builder, so a running change and
 * an ended one are worded alike.
 */
export function changeLogFromStatus(status: ChangeStatus): ExportedChangeLog {
  return isEndState(status.state)
    ? buildChangeLog(status).changeLog
    : buildChangeLog(status, 'in-progress').changeLog;
}

function cell(text: string | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(header: string[], rows: (string | undefined)[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

/** The key that proved a decision, or UNVERIFIED when only a name was sent. */
function proof(entry: { fingerprint?: string; unverified?: true; signed?: unknown }): string {
  if (entry.unverified || (entry.signed === undefined && !entry.fingerprint)) return 'UNVERIFIED';
  return entry.fingerprint ?? 'signed';
}

function item(label: string, value: string | undefined): string {
  return `- **${label}:** ${value ?? '-'}`;
}

/** Seed 000's change-log template as Markdown, followed by what changectl records besides. */
export function renderChangeLogMarkdown(log: ExportedChangeLog): string {
  const out: string[] = [`# Change log ${log.id}`, ''];
  out.push(
    item('id', log.id),
    item('date', log.date),
    item('type', log.emergency ? `${log.type} (emergency)` : log.type),
    item('state', log.state),
    item('risk', log.risk),
    item('request digest', log.requestDigest),
    '',
  );
  out.push('## Change', '');
  out.push(
    item('description', log.change.description),
    item('reason', log.change.reason),
    item('impact', log.change.impact),
    item('result', log.change.result),
    '',
  );
  out.push('## Verification', '');
  out.push(
    item('tests', log.verification.tests),
    item('results', log.verification.results),
    item('issues', log.verification.issues),
    '',
  );

  out.push('## Approvals', '', `Required: ${log.approvals.required}`, '');
  if (log.approvals.received.length > 0) {
    out.push(
      ...mdTable(
        ['approved by', 'at', 'comment', 'key'],
        log.approvals.received.map((a) => [a.by, formatTime(a.at), a.comment, proof(a)]),
      ),
      '',
    );
  } else {
    out.push('No approvals received.', '');
  }
  if (log.approvals.refused.length > 0) {
    out.push(
      'Refused attempts:',
      '',
      ...mdTable(
        ['by', 'at', 'action', 'reason'],
        log.approvals.refused.map((r) => [r.by, formatTime(r.at), r.action, r.reason]),
      ),
      '',
    );
  }

  const { decisions } = log;
  if (decisions.length > 0) {
    out.push(
      '## Decisions',
      '',
      'Each signed statement is in the JSON export; `changectl verify <file> --policy <file>` re-checks them.',
      '',
      ...mdTable(
        ['action', 'by', 'at', 'key'],
        decisions.map((d) => [d.action, d.person, formatTime(d.at), proof(d)]),
      ),
      '',
    );
  }

  const { window } = log;
  out.push('## Window', '');
  out.push(
    item('not before', window.notBefore ? formatTime(window.notBefore) : 'none'),
    item('scheduled for', window.scheduledFor ? formatTime(window.scheduledFor) : 'not scheduled'),
    item('window end', window.windowEnd ? formatTime(window.windowEnd) : '-'),
    item('windows', window.windowNames.length > 0 ? window.windowNames.join(', ') : 'none'),
    '',
  );

  const { backup } = log;
  out.push('## Backup', '');
  if (backup.name) {
    out.push(item('name', backup.name), item('phase', backup.phase));
    if (backup.error) out.push(item('error', backup.error));
    if (backup.restore) {
      out.push(item('restored', `${backup.restore.name} (${backup.restore.phase})`));
    }
    if (backup.restoreCommand) {
      out.push('', 'Restore with:', '', '```sh', backup.restoreCommand, '```');
    }
  } else {
    out.push(backup.error ? `Backup failed: ${backup.error}` : 'No backup taken.');
  }
  out.push('');

  const { rollout } = log;
  out.push('## Rollout', '');
  out.push(
    item('strategy', rollout.strategy),
    item('deployment', rollout.deployment),
    item('image', rollout.image ?? 'manifests'),
  );
  if (rollout.result) {
    const r = rollout.result;
    if (r.previousRevision !== undefined || r.revision !== undefined) {
      out.push(item('revision', `${r.previousRevision ?? '?'} → ${r.revision ?? '?'}`));
    }
    out.push(item('result', r.message));
  }
  if (rollout.rollback) {
    out.push(
      item('rolled back', `${formatTime(rollout.rollback.at)}: ${rollout.rollback.reason}`),
      item('rollback result', rollout.rollback.message),
    );
  }
  out.push('');

  const e = log.emergencyRecord;
  if (e) {
    out.push('## Emergency record', '');
    out.push(
      item('incident', e.incident),
      item('incident commander', e.incidentCommander ?? 'none'),
      item('break-glass', e.breakGlass ? 'yes' : 'no'),
    );
    if (e.documentation) {
      out.push(
        item('root cause', e.documentation.rootCause),
        item('what changed', e.documentation.changed),
        item('post-incident review', e.documentation.postIncidentReview),
        item(
          'documented',
          `by ${e.documentation.by} at ${formatTime(e.documentation.at)}${e.documentation.late ? ' (late)' : ''}`,
        ),
      );
    } else {
      out.push(item('documentation', e.undocumented ? 'never provided' : 'outstanding'));
    }
    out.push('');
  }

  out.push('## Timeline', '');
  out.push(
    ...mdTable(
      ['at', 'actor', 'event', 'detail'],
      log.timeline.map((t) => [formatTime(t.at), t.actor, t.event, t.detail]),
    ),
  );
  return `${out.join('\n')}\n`;
}
