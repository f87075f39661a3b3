/**
 * Every notification text: the seed's communication templates (DEPLOYING, COMPLETE, ROLLED BACK),
 * the approval, schedule and decision requests, the emergency reminders and escalations, the end
 * headlines, and how each sink (log line, Slack-style webhook) shows a notification. Pure: the
 * workflow renders, the notification activity sends.
 */
import { formatDuration } from '../change/duration';
import type { Notification } from '../contracts';
import type { ChangeStatus } from './status';

type Emergency = NonNullable<ChangeStatus['emergency']>;

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

/** The headline of each way a change can end other than completed or rolled back. */
export const EndedHeadline = {
  failed: '❌ FAILED',
  rejected: '🚫 REJECTED',
  cancelled: '⏹️ CANCELLED',
  rollbackFailed: '🚨 ROLLBACK FAILED',
} as const;

export function endedText(status: ChangeStatus, headline: string, reason: string): string {
  return [`${headline}: ${status.id} ${status.title}`, `Reason: ${reason}`].join('\n');
}

// ---------------------------------------------------------------- requests and reminders

export function approvalNeededText(status: ChangeStatus): string {
  return [
    `🗳️ APPROVAL NEEDED: ${status.id} ${status.title}`,
    `Risk: ${status.risk} | ${status.approvals.required.summary}`,
    `Approve: changectl approve ${status.id}`,
  ].join('\n');
}

/** `quorum`: what is still missing, e.g. "needs 1 more approver, including someone from sre". */
export function approvalReminderText(status: ChangeStatus, quorum: string): string {
  return [
    `⏰ REMINDER: ${status.id} ${status.title} still ${quorum}`,
    `Approve: changectl approve ${status.id}`,
  ].join('\n');
}

export function scheduledText(status: ChangeStatus, startsAt: string): string {
  return `📅 SCHEDULED: ${status.id} ${status.title} for ${startsAt}`;
}

export function decisionNeededText(status: ChangeStatus, reason: string): string {
  return `❓ DECISION NEEDED: ${status.id} verification inconclusive (${reason}). Send 'decide' with proceed or rollback before ${status.verification.awaitingDecisionUntil}, or it rolls back.`;
}

export function emergencyApprovalNeededText(status: ChangeStatus, emergency: Emergency): string {
  return [
    `🚨 EMERGENCY APPROVAL NEEDED: ${status.id} ${status.title} (${emergency.incident})`,
    `Incident commander: changectl approve ${status.id}`,
  ].join('\n');
}

export function breakGlassText(status: ChangeStatus, emergency: Emergency): string {
  return `🔓 BREAK-GLASS: ${status.id} (${emergency.incident}) went ahead without approval. Incident commander approval owed: changectl approve ${status.id}`;
}

/** `owed`: what the retroactive record still lacks, e.g. "root cause, post-incident review". */
export function documentationReminderText(
  status: ChangeStatus,
  emergency: Emergency,
  owed: string,
): string {
  return [
    `📝 REMINDER: emergency change ${status.id} (${emergency.incident}) still owes ${owed}; due ${emergency.documentationDueAt}.`,
    `changectl document ${status.id} --root-cause ... --changed ... --pir <url>`,
  ].join('\n');
}

export function documentationEscalationText(
  status: ChangeStatus,
  emergency: Emergency,
  owed: string,
): string {
  return `🚨 ESCALATION ${emergency.escalations}: emergency change ${status.id} (${emergency.incident}) is past its documentation deadline; still owed: ${owed}.`;
}

// ---------------------------------------------------------------- how each sink shows one

/** Slack refuses section texts longer than this. */
const SLACK_SECTION_LIMIT = 3000;

/** One line in the worker's log: the text's lines joined with ' | '. */
export function notificationLogLine(notification: Notification): string {
  const audience = notification.audience?.length
    ? ` (for ${notification.audience.join(', ')})`
    : '';
  const text = notification.text.replace(/\s*\n\s*/g, ' | ').trim();
  return `notification ${notification.kind} ${notification.changeId}${audience}: ${text}`;
}

/** The Slack message: the text for clients that show only that, and blocks for the rest. */
export function slackMessage(notification: Notification): {
  text: string;
  blocks: Record<string, unknown>[];
} {
  const text = notification.text;
  const context = [`*${notification.changeId}* · ${notification.kind}`];
  if (notification.audience?.length) context.push(`for ${notification.audience.join(', ')}`);
  return {
    text,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text:
            text.length > SLACK_SECTION_LIMIT ? `${text.slice(0, SLACK_SECTION_LIMIT - 1)}…` : text,
        },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] },
    ],
  };
}
