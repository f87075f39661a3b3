/**
 * Notification texts in the seed's shapes (DEPLOYING, COMPLETE, ROLLED BACK) plus the approval
 * and documentation reminders. Pure: the workflow renders, the notification activity sends.
 */
import { formatDuration } from '../change/duration';
import type { ChangeStatus } from './status';

export function versionOf(image: string | undefined): string {
  if (!image) return '?';
  const at = image.indexOf('@');
  const ref = at === -1 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(':');
  const slash = ref.lastIndexOf('/');
  return colon > slash ? `v${ref.slice(colon + 1).replace(/^v/, '')}` : ref;
}

function hhmm(iso: string | undefined): string {
  return iso ? `${iso.slice(11, 16)} UTC` : '?';
}

function previousImage(status: ChangeStatus): string | undefined {
  const before = status.rollout.before;
  if (!before) return undefined;
  return Object.values(before.images)[0];
}

function subject(status: ChangeStatus): string {
  return status.services.join(', ');
}

function approvers(status: ChangeStatus): string {
  const names = status.approvals.received.map((a) => `@${a.by}`);
  if (status.emergency?.incidentCommander)
    names.push(`@${status.emergency.incidentCommander} (IC)`);
  return names.length
    ? names.join(', ')
    : status.approvals.required.preApproved
      ? 'pre-approved'
      : 'none';
}

export function deployingText(status: ChangeStatus, rollbackPlan: string): string {
  const from = versionOf(previousImage(status));
  const to = status.rollout.image ? versionOf(status.rollout.image) : 'new manifests';
  const window =
    status.window.scheduledFor && status.window.windowEnd
      ? `${hhmm(status.window.scheduledFor)}-${hhmm(status.window.windowEnd)}`
      : status.type === 'emergency'
        ? `now (emergency, ${status.emergency?.incident ?? 'incident'})`
        : `from ${hhmm(status.window.scheduledFor)}`;
  return [
    `🔄 DEPLOYING: ${subject(status)} ${from} → ${to} (${status.id})`,
    `Window: ${window}`,
    `Changes: ${status.description}`,
    `Rollback: ${rollbackPlan}`,
    `Owner: @${status.requestedBy} | Approvers: ${approvers(status)}`,
  ].join('\n');
}

export function completeText(status: ChangeStatus, startedAt: string, endedAt: string): string {
  const to = status.rollout.image ? versionOf(status.rollout.image) : 'new manifests';
  const duration = formatDuration(Date.parse(endedAt) - Date.parse(startedAt));
  return [
    `✅ COMPLETE: ${subject(status)} ${to} deployed (${status.id})`,
    `Validated: ${status.verification.summary ?? 'watch passed'}`,
    `Duration: ${duration} (${hhmm(startedAt)}-${hhmm(endedAt)})`,
  ].join('\n');
}

export function rolledBackText(
  status: ChangeStatus,
  reason: string,
  rolledBackAt: string,
  restoredAt: string,
  restored: boolean,
): string {
  const from = status.rollout.image ? versionOf(status.rollout.image) : 'new manifests';
  const to = versionOf(previousImage(status));
  return [
    `⚠️ ROLLED BACK: ${subject(status)} ${from} → ${to} (${status.id})`,
    `Reason: ${reason}`,
    `Rolled back at: ${hhmm(rolledBackAt)}`,
    restored
      ? `Services restored: ${hhmm(restoredAt)}`
      : `Services NOT confirmed healthy after rollback (${hhmm(restoredAt)}): needs attention`,
    `Follow-up: investigating root cause, will re-attempt after fix`,
  ].join('\n');
}

export function endedText(status: ChangeStatus, headline: string, reason: string): string {
  return [`${headline}: ${status.id} ${status.title}`, `Reason: ${reason}`].join('\n');
}
