/** `changectl report` as text (with a chart of changes per day), Markdown, or JSON. */
import { formatDuration } from '../../core/change/duration';
import type { Band, ChangeReport, Figures } from '../../core/report/index';
import type { Colors } from '../output';
import { formatTime, plural, table } from './text';

function duration(ms: number | null): string {
  return ms === null ? '-' : formatDuration(Math.round(ms / 1_000) * 1_000);
}

function percent(rate: number | null): string {
  return rate === null ? '-' : `${Math.round(rate * 1000) / 10}%`;
}

function band(b: Band | null): string {
  return b ?? 'no data';
}

/** The rows every format shows: figure, value, band. */
function rows(f: Figures, days: number): [string, string, string][] {
  const lead = f.leadTime;
  const restore = f.timeToRestore;
  const e = f.emergencies;
  return [
    [
      'deployment frequency',
      `${f.deploymentFrequency.perDay.toFixed(2)}/day (${f.deploymentFrequency.deployments} in ${days}d)`,
      band(f.deploymentFrequency.band),
    ],
    [
      'lead time (median)',
      lead.medianMs === null
        ? '-'
        : `${duration(lead.medianMs)}: approval ${duration(lead.approvalWaitMs)}, window ${duration(lead.windowWaitMs)}, active ${duration(lead.activeMs)}`,
      band(lead.band),
    ],
    [
      'change failure rate',
      `${percent(f.changeFailureRate.rate)} (${f.changeFailureRate.failed} of ${f.changeFailureRate.rolledOut} rolled out)`,
      band(f.changeFailureRate.band),
    ],
    [
      'time to restore (median)',
      `${duration(restore.medianMs)} breach → rolled back (${restore.rollbacks}); emergencies ${duration(restore.emergencyMedianMs)} submitted → fixed (${restore.emergencies})`,
      band(restore.band),
    ],
    [
      'approval response (median)',
      `${duration(f.approvals.medianMs)} (${plural(f.approvals.responses, 'approval')})`,
      '',
    ],
    [
      'emergency changes',
      `${e.changes}: documented on time ${e['on-time']}, late ${e.late}, missing ${e.missing}, pending ${e.pending}`,
      '',
    ],
  ];
}

function outcomes(f: Figures): string {
  return Object.entries(f.outcomes)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${n} ${o}`)
    .join(', ');
}

function periodDays(report: ChangeReport): number {
  return Math.round((Date.parse(report.to) - Date.parse(report.from)) / 86_400_000);
}

function title(report: ChangeReport): string {
  const scope = [report.environment ?? 'all environments', report.service]
    .filter(Boolean)
    .join(', ');
  return `Change report: ${scope}, ${formatTime(report.from)} → ${formatTime(report.to)}`;
}

const BAR_WIDTH = 40;

/** A bar per day: █ per change that went well, ▒ per failed one, scaled to the busiest day. */
export function perDayChart(report: ChangeReport): string[] {
  const max = Math.max(1, ...report.perDay.map((d) => d.changes));
  const scale = max > BAR_WIDTH ? BAR_WIDTH / max : 1;
  return report.perDay.map((d) => {
    const failed = Math.round(d.failed * scale);
    const good = Math.round(d.changes * scale) - failed;
    const bar = '█'.repeat(Math.max(0, good)) + '▒'.repeat(failed);
    const note = d.failed > 0 ? ` (${d.failed} failed)` : '';
    return `${d.day}  ${bar}${bar ? ' ' : ''}${d.changes}${note}`;
  });
}

export function renderReportText(report: ChangeReport, colors: Colors): string[] {
  const days = periodDays(report);
  const lines = [colors.bold(title(report)), ''];
  const section = (name: string, f: Figures) => {
    lines.push(
      colors.bold(`${name}: ${plural(f.changes, 'change')}${f.changes ? ` (${outcomes(f)})` : ''}`),
    );
    lines.push(...table(undefined, rows(f, days)).map((l) => `  ${l}`));
    lines.push('');
  };
  section('Overall', report.overall);
  for (const [service, f] of Object.entries(report.services)) section(`Service ${service}`, f);
  lines.push(colors.bold('Changes per day (█ went well, ▒ failed)'));
  lines.push(...perDayChart(report).map((l) => `  ${l}`));
  return lines;
}

export function renderReportMarkdown(report: ChangeReport): string[] {
  const days = periodDays(report);
  const lines = [`# ${title(report)}`, ''];
  const section = (name: string, f: Figures) => {
    lines.push(
      `## ${name}`,
      '',
      `${plural(f.changes, 'change')}${f.changes ? `: ${outcomes(f)}` : ''}`,
      '',
    );
    lines.push('| Figure | Value | DORA band |', '| --- | --- | --- |');
    for (const [figure, value, b] of rows(f, days)) lines.push(`| ${figure} | ${value} | ${b} |`);
    lines.push('');
  };
  section('Overall', report.overall);
  for (const [service, f] of Object.entries(report.services)) section(`Service ${service}`, f);
  lines.push('## Changes per day', '', '| Day | Changes | Failed |', '| --- | --- | --- |');
  for (const d of report.perDay) lines.push(`| ${d.day} | ${d.changes} | ${d.failed} |`);
  return lines;
}
