/**
 * Drift activities: read the objects of a scope from Kubernetes and say which are no longer as
 * their last change left them (src/core/drift), and find the previous scan of a schedule so the
 * drift-scan workflow notifies only what appeared or cleared since. `changectl drift` runs the
 * same read in the CLI.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DriftActivities } from '../src/core/contracts';
import {
  inDriftScope,
  objectDrift,
  type DriftEvent,
  type DriftReport,
  type DriftScope,
  type LiveObject,
  type ObjectDrift,
} from '../src/core/drift/index';
import { ClusterApi } from './kubernetes/client';

function eventTime(event: {
  lastTimestamp?: Date;
  eventTime?: Date;
  firstTimestamp?: Date;
  metadata?: { creationTimestamp?: Date };
}): string {
  const at =
    event.lastTimestamp ??
    event.eventTime ??
    event.firstTimestamp ??
    event.metadata?.creationTimestamp;
  return at === undefined ? new Date(0).toISOString() : new Date(at).toISOString();
}

/** Reads the scope's namespaces and reports drifted and untracked objects, sorted by name. */
export async function readDrift(api: ClusterApi, scope: DriftScope): Promise<DriftReport> {
  const drifted: ObjectDrift[] = [];
  const untracked: ObjectDrift[] = [];
  let scanned = 0;
  for (const { namespace } of scope.namespaces) {
    const [objects, events] = await Promise.all([
      api.listForDrift(namespace),
      api.listEvents(namespace),
    ]);
    const eventsOf = new Map<string, DriftEvent[]>();
    for (const event of events) {
      const key = `${event.involvedObject?.kind ?? ''}/${event.involvedObject?.name ?? ''}`;
      const list = eventsOf.get(key) ?? [];
      list.push({
        at: eventTime(event),
        type: event.type ?? 'Normal',
        reason: event.reason ?? '',
        message: event.message ?? '',
      });
      eventsOf.set(key, list);
    }
    for (const { kind, object } of objects) {
      if (!inDriftScope(object as LiveObject, kind, scope.service)) continue;
      scanned += 1;
      const key = `${kind}/${object.metadata?.name ?? ''}`;
      const found = objectDrift(object as LiveObject, kind, eventsOf.get(key) ?? []);
      if (found?.status === 'drifted') drifted.push(found);
      else if (found) untracked.push(found);
    }
  }
  const byName = (a: ObjectDrift, b: ObjectDrift) =>
    `${a.namespace}/${a.kind}/${a.name}`.localeCompare(`${b.namespace}/${b.kind}/${b.name}`);
  return {
    scannedAt: new Date().toISOString(),
    scope,
    scanned,
    drifted: drifted.sort(byName),
    untracked: untracked.sort(byName),
  };
}

/** How many of a schedule's recent runs are looked at for the last completed scan. */
const PREVIOUS_RUNS = 5;

export function createDriftActivities(kubeConfig: KubeConfig, client: Client): DriftActivities {
  const api = new ClusterApi(kubeConfig);
  return {
    scanDrift: (scope) => readDrift(api, scope),

    async previousDriftScan({ scheduleId }): Promise<DriftReport | undefined> {
      const current = Context.current().info.workflowExecution?.workflowId;
      const description = await client.schedule.getHandle(scheduleId).describe();
      const earlier = description.info.recentActions
        .filter((action) => action.action.workflow.workflowId !== current)
        .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime())
        .slice(0, PREVIOUS_RUNS);
      for (const { action } of earlier) {
        const { workflowId, firstExecutionRunId } = action.workflow;
        const handle = client.workflow.getHandle(workflowId, firstExecutionRunId);
        const { status } = await handle.describe();
        if (status.name !== 'COMPLETED') continue;
        return (await handle.result()) as DriftReport;
      }
      return undefined;
    },
  };
}
