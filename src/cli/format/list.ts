import type { WorkflowExecutionInfo } from '@temporalio/client';
import type { ChangeState } from '../../core/lifecycle/status';
import {
  changeIdKey,
  changeStateKey,
  changeTypeKey,
  environmentKey,
  requestedByKey,
  riskLevelKey,
  servicesKey,
} from '../../core/search-attributes';
import type { Colors } from '../output';
import { stateColor } from './status';
import { formatTime, table } from './text';

/** One change as the visibility store knows it, from its search attributes. */
export interface ChangeListEntry {
  id: string;
  workflowId: string;
  runId: string;
  type: string;
  state: string;
  environment: string;
  services: string[];
  risk: string;
  requestedBy: string;
  startedAt: string;
  closedAt?: string;
  /** The workflow execution's status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  executionStatus: string;
}

export function changeListEntry(info: WorkflowExecutionInfo): ChangeListEntry {
  const attrs = info.typedSearchAttributes;
  const entry: ChangeListEntry = {
    id: attrs.get(changeIdKey) ?? info.workflowId.replace(/^change-/, ''),
    workflowId: info.workflowId,
    runId: info.runId,
    type: attrs.get(changeTypeKey) ?? '',
    state: attrs.get(changeStateKey) ?? info.status.name.toLowerCase(),
    environment: attrs.get(environmentKey) ?? '',
    services: attrs.get(servicesKey) ?? [],
    risk: attrs.get(riskLevelKey) ?? '',
    requestedBy: attrs.get(requestedByKey) ?? '',
    startedAt: info.startTime.toISOString(),
    executionStatus: info.status.name,
  };
  if (info.closeTime) entry.closedAt = info.closeTime.toISOString();
  return entry;
}

export function renderChangeList(entries: ChangeListEntry[], colors: Colors): string[] {
  const header = ['ID', 'TYPE', 'STATE', 'ENV', 'SERVICES', 'RISK', 'REQUESTED BY', 'STARTED'];
  const rows = entries.map((e) => [
    e.id,
    e.type,
    stateColor(e.state as ChangeState, colors)(e.state),
    e.environment,
    e.services.join(','),
    e.risk,
    e.requestedBy,
    formatTime(e.startedAt),
  ]);
  return table(
    header.map((h) => colors.bold(h)),
    rows,
  );
}
