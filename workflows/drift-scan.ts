import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type {
  DriftActivities,
  NotificationActivities,
  PolicyActivities,
} from '../src/core/contracts';
import {
  driftAppearedText,
  driftClearedText,
  driftKey,
  driftScope,
  driftTransitions,
  DriftScopeError,
  type DriftReport,
} from '../src/core/drift/index';
import { FailureType } from '../src/core/errors';

/** What a scheduled scan looks at: the `changectl drift` filters, and the schedule it runs for. */
export interface DriftScanInput {
  environment?: string;
  namespace?: string;
  service?: string;
  /** The schedule that starts this workflow, whose previous scan says what is new. */
  scheduleId?: string;
}

export interface DriftScanResult extends DriftReport {
  /** `namespace/Kind/name` of the drift this scan saw appear, and of the drift that cleared. */
  appeared: string[];
  cleared: string[];
}

const { loadPolicy } = proxyActivities<PolicyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});

const { scanDrift, previousDriftScan } = proxyActivities<DriftActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 5 },
});

const { notify } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10 },
});

/**
 * One drift scan of the policy's namespaces, as a Temporal Schedule runs it: it compares what it
 * finds with the schedule's previous scan and notifies the same sinks as changes do, once when
 * drift appears and once when it clears.
 */
export async function driftScan(input: DriftScanInput): Promise<DriftScanResult> {
  const policy = await loadPolicy();
  let scope;
  try {
    scope = driftScope(policy, input);
  } catch (err) {
    if (!(err instanceof DriftScopeError)) throw err;
    throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidRequest);
  }
  const previous = input.scheduleId
    ? await previousDriftScan({ scheduleId: input.scheduleId })
    : undefined;
  const report = await scanDrift(scope);
  const { appeared, cleared } = driftTransitions(previous, report);
  const subject = input.scheduleId ?? workflowInfo().workflowId;
  if (appeared.length > 0) {
    await notify({
      kind: 'drift-detected',
      changeId: subject,
      text: driftAppearedText(appeared, scope),
    });
  }
  if (cleared.length > 0) {
    await notify({
      kind: 'drift-cleared',
      changeId: subject,
      text: driftClearedText(cleared, scope),
    });
  }
  return { ...report, appeared: appeared.map(driftKey), cleared: cleared.map(driftKey) };
}
