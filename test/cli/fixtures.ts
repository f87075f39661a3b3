import type { ChangeStatus } from '../../src/core/lifecycle/status';
import type { CliIo } from '../../src/cli/output';
import { testRequest } from '../helpers/fakes';

/** Captures what the CLI writes, as a terminal or a pipe would receive it. */
export function captureIo(
  options: { tty?: boolean; env?: Record<string, string | undefined> } = {},
): CliIo & { stdoutText(): string; stderrText(): string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text), isTTY: options.tty ?? false, columns: 120 },
    stderr: { write: (text: string) => (err += text), isTTY: options.tty ?? false },
    env: options.env ?? {},
    stdoutText: () => out,
    stderrText: () => err,
  };
}

/** A production change waiting for its second approval, one refused attempt on record. */
export function awaitingApprovalStatus(): ChangeStatus {
  return {
    id: 'CHG-1234',
    workflowId: 'change-CHG-1234',
    type: 'normal',
    title: 'Upgrade api-gateway to v2.5.0',
    requestedBy: 'alice',
    state: 'awaiting-approval',
    environment: 'production',
    namespace: 'production',
    services: ['api-gateway'],
    description: 'JWT refresh optimisation, dependency updates',
    reason: 'Token refreshes cost one extra round trip per request',
    impact: 'api-gateway restarts pod by pod; no downtime expected',
    risk: 'high',
    riskDeclared: 'medium',
    riskRaisedBy: ['production', 'outside business hours'],
    submittedAt: '2026-12-01T01:00:00.000Z',
    requestDigest: '5f'.repeat(32),
    request: testRequest('CHG-1234'),
    identityMode: 'signed',
    decisions: [],
    approvals: {
      required: {
        minApprovers: 2,
        teams: ['sre'],
        preApproved: false,
        reasons: ['production: 2 approvers', 'api-gateway: sre'],
        summary: '2 approvers, including someone from sre',
      },
      received: [{ by: 'bob', at: '2026-12-01T01:05:00.000Z', comment: 'looks good' }],
      refused: [
        {
          by: 'alice',
          at: '2026-12-01T01:02:00.000Z',
          reason: 'alice requested CHG-1234 and cannot approve it',
          action: 'approve',
          via: 'update',
        },
      ],
      refusedCount: 1,
      expiresAt: '2026-12-04T01:00:00.000Z',
    },
    window: {
      notBefore: '2026-12-01T02:00:00.000Z',
      windowNames: [],
      bypassed: [],
    },
    preflight: { checks: [] },
    backup: {},
    rollout: {
      strategy: 'rolling',
      deployment: 'api-gateway',
      image: 'registry.example.com/api-gateway:2.5.0',
    },
    verification: { outcome: 'not-run', baseline: {}, evaluations: [] },
    timeline: Array.from({ length: 12 }, (_, i) => ({
      at: new Date(Date.parse('2026-12-01T01:00:00Z') + i * 60_000).toISOString(),
      actor: i % 2 === 0 ? 'changectl' : 'alice',
      event: `event-${i + 1}`,
      detail: `detail ${i + 1}`,
    })),
  };
}

/** The same change after a failed watch rolled it back, with its backup and evaluations. */
export function rolledBackStatus(): ChangeStatus {
  const base = awaitingApprovalStatus();
  return {
    ...base,
    state: 'rolled-back',
    endedAt: '2026-12-01T02:20:00.000Z',
    outcome: 'error-rate above 0.01 three times in a row; rolled back to revision 3',
    approvals: {
      ...base.approvals,
      received: [...base.approvals.received, { by: 'carol', at: '2026-12-01T01:10:00.000Z' }],
    },
    window: {
      notBefore: '2026-12-01T02:00:00.000Z',
      scheduledFor: '2026-12-01T02:00:00.000Z',
      windowEnd: '2026-12-01T06:00:00.000Z',
      windowNames: ['prod-maintenance'],
      bypassed: [],
    },
    preflight: { checks: [{ name: 'no-firing-alerts', ok: true, detail: 'no alerts firing' }] },
    backup: {
      name: 'change-chg-1234',
      phase: 'Completed',
      restoreCommand: 'velero restore create --from-backup change-chg-1234',
    },
    rollout: {
      ...base.rollout,
      result: {
        strategy: 'rolling',
        previousRevision: 3,
        revision: 4,
        appliedObjects: ['Deployment/api-gateway'],
        message: 'deployment "api-gateway" successfully rolled out',
      },
      rollback: {
        revision: 5,
        images: { app: 'registry.example.com/api-gateway:2.4.0' },
        message: 'rolled back to revision 3',
        reason: 'error-rate > 0.01',
        at: '2026-12-01T02:19:00.000Z',
      },
    },
    verification: {
      outcome: 'failed',
      summary: 'error-rate failed 3 of 3 evaluations',
      baseline: { 'error-rate': 0.001 },
      evaluations: [
        {
          at: '2026-12-01T02:18:00.000Z',
          metric: 'error-rate',
          value: 0.08,
          threshold: 0.01,
          status: 'failed',
        },
      ],
    },
  };
}
