import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { changeWorkflowId, type ChangeRequest } from '../core/change/request';
import { ChangeAlreadyExistsError } from './errors';
import type { ChangeInput, ChangeLog } from '../core/lifecycle/status';
import {
  changeIdKey,
  changeStateKey,
  changeTypeKey,
  environmentKey,
  requestedByKey,
  riskLevelKey,
  servicesKey,
} from '../core/search-attributes';
import type { SignedStatement } from '../core/identity/statement';

export const DEFAULT_TASK_QUEUE = 'changectl';

/** The signature both change workflows share: a change request in, the change log out. */
export type ChangeWorkflow = (input: ChangeInput) => Promise<ChangeLog>;

export { ChangeAlreadyExistsError };

/** The workflow type for a request: emergencies take the fast lane. */
export function workflowTypeOf(request: ChangeRequest): 'plannedChange' | 'emergencyChange' {
  return request.spec.type === 'emergency' ? 'emergencyChange' : 'plannedChange';
}

/**
 * Starts the workflow of a validated change request. Its id is `change-<metadata.id>`, used once
 * ever: a second submission with the same id is refused, even after the first has ended.
 */
export async function startChange(
  client: Client,
  request: ChangeRequest,
  options: { taskQueue?: string; submittedAt?: string; submission?: SignedStatement } = {},
): Promise<WorkflowHandle<ChangeWorkflow>> {
  const { metadata, spec } = request;
  const input: ChangeInput = {
    request,
    submittedAt: options.submittedAt ?? new Date().toISOString(),
    ...(options.submission ? { submission: options.submission } : {}),
  };
  try {
    return await client.workflow.start<ChangeWorkflow>(workflowTypeOf(request), {
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId: changeWorkflowId(metadata.id),
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      typedSearchAttributes: [
        { key: changeIdKey, value: metadata.id },
        { key: changeTypeKey, value: spec.type },
        { key: changeStateKey, value: 'submitted' },
        { key: environmentKey, value: spec.environment },
        { key: servicesKey, value: spec.services },
        { key: riskLevelKey, value: spec.risk },
        { key: requestedByKey, value: metadata.requestedBy },
      ],
      memo: { title: metadata.title, description: spec.description },
      staticSummary: `${metadata.id}: ${metadata.title}`,
      staticDetails: [
        `**${spec.type}** change to ${spec.services.join(', ')} in ${spec.environment}`,
        `Requested by ${metadata.requestedBy}; declared risk ${spec.risk}.`,
        `Impact: ${spec.impact}`,
        spec.incident ? `Incident: ${spec.incident}` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new ChangeAlreadyExistsError(metadata.id);
    }
    throw err;
  }
}

export type ChangeResult = ChangeLog;
