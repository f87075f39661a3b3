import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeStatus } from '../../src/core/lifecycle/status';
import {
  approvalNeededText,
  approvalReminderText,
  breakGlassText,
  decisionNeededText,
  documentationEscalationText,
  documentationReminderText,
  emergencyApprovalNeededText,
  EndedHeadline,
  endedText,
  notificationLogLine,
  scheduledText,
  slackMessage,
} from '../../src/core/lifecycle/messages';
import { awaitingApprovalStatus } from '../cli/fixtures';

type Emergency = NonNullable<ChangeStatus['emergency']>;

const status = awaitingApprovalStatus();
const emergency: Emergency = {
  incident: 'INC-42',
  breakGlass: false,
  approvalOwed: false,
  documentationDueAt: '2026-12-02T01:30:00.000Z',
  reminders: 0,
  escalations: 2,
  undocumented: false,
};

// The wording the workflows have sent so far: recorded histories and people's filters rely on it.
describe('notification texts', () => {
  it('asks for approvals and reminds of them', () => {
    assert.equal(
      approvalNeededText(status),
      '🗳️ APPROVAL NEEDED: CHG-1234 Upgrade api-gateway to v2.5.0\nRisk: high | 2 approvers, including someone from sre\nApprove: changectl approve CHG-1234',
    );
    assert.equal(
      approvalReminderText(status, 'needs 1 more approver, including someone from sre'),
      '⏰ REMINDER: CHG-1234 Upgrade api-gateway to v2.5.0 still needs 1 more approver, including someone from sre\nApprove: changectl approve CHG-1234',
    );
  });

  it('announces the schedule and asks for a decision on an inconclusive watch', () => {
    assert.equal(
      scheduledText(status, '2026-12-01T02:00:00.000Z'),
      '📅 SCHEDULED: CHG-1234 Upgrade api-gateway to v2.5.0 for 2026-12-01T02:00:00.000Z',
    );
    const waiting: ChangeStatus = {
      ...status,
      verification: { ...status.verification, awaitingDecisionUntil: '2026-12-01T03:00:00.000Z' },
    };
    assert.equal(
      decisionNeededText(waiting, 'error-rate inconclusive'),
      "❓ DECISION NEEDED: CHG-1234 verification inconclusive (error-rate inconclusive). Send 'decide' with proceed or rollback before 2026-12-01T03:00:00.000Z, or it rolls back.",
    );
  });

  it('words the emergency requests, reminders and escalations', () => {
    assert.equal(
      emergencyApprovalNeededText(status, emergency),
      '🚨 EMERGENCY APPROVAL NEEDED: CHG-1234 Upgrade api-gateway to v2.5.0 (INC-42)\nIncident commander: changectl approve CHG-1234',
    );
    assert.equal(
      breakGlassText(status, emergency),
      '🔓 BREAK-GLASS: CHG-1234 (INC-42) went ahead without approval. Incident commander approval owed: changectl approve CHG-1234',
    );
    assert.equal(
      documentationReminderText(status, emergency, 'root cause'),
      '📝 REMINDER: emergency change CHG-1234 (INC-42) still owes root cause; due 2026-12-02T01:30:00.000Z.\nchangectl document CHG-1234 --root-cause ... --changed ... --pir <url>',
    );
    assert.equal(
      documentationEscalationText(status, emergency, 'root cause'),
      '🚨 ESCALATION 2: emergency change CHG-1234 (INC-42) is past its documentation deadline; still owed: root cause.',
    );
  });

  it('heads an ended change with its end', () => {
    assert.equal(
      endedText(status, EndedHeadline.rollbackFailed, 'undo refused'),
      '🚨 ROLLBACK FAILED: CHG-1234 Upgrade api-gateway to v2.5.0\nReason: undo refused',
    );
    assert.deepEqual(Object.values(EndedHeadline), [
      '❌ FAILED',
      '🚫 REJECTED',
      '⏹️ CANCELLED',
      '🚨 ROLLBACK FAILED',
    ]);
  });

  it('shows one notification as a log line and as a Slack message', () => {
    const notification = {
      kind: 'deploying' as const,
      changeId: 'CHG-1234',
      text: 'DEPLOYING: api-gateway\nWindow: now',
      audience: ['sre'],
    };
    assert.equal(
      notificationLogLine(notification),
      'notification deploying CHG-1234 (for sre): DEPLOYING: api-gateway | Window: now',
    );
    assert.deepEqual(slackMessage(notification), {
      text: 'DEPLOYING: api-gateway\nWindow: now',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'DEPLOYING: api-gateway\nWindow: now' } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: '*CHG-1234* · deploying · for sre' }],
        },
      ],
    });
  });
});
