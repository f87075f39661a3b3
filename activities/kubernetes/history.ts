/** What happened to a service lately: its rollout history and the namespace's events. */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { EventInfo, RevisionInfo } from '../../src/core/contracts';
import type { ClusterApi } from './client';
import { objectName, revisionHistory } from './deployments';

// Values below a year are a look-back window rather than an instant (see readRecentEvents).
const yearMs = 365 * 24 * 3600 * 1000;

/** `kubectl rollout history deployment/<name>`, oldest first. */
export async function readRolloutHistory(
  api: ClusterApi,
  input: { namespace: string; deployment: string },
): Promise<RevisionInfo[]> {
  const deployment = await api.readDeployment(input.namespace, input.deployment);
  return revisionHistory(await api.replicaSetsOf(deployment));
}

/**
 * Events in the namespace since `sinceMs` (epoch ms), oldest first; a value under a year is
 * taken as a window back from now. `names` narrows to those objects and the ReplicaSets and
 * pods named after them.
 */
export async function readRecentEvents(
  api: ClusterApi,
  input: { namespace: string; sinceMs: number; names?: string[] },
): Promise<EventInfo[]> {
  const since = input.sinceMs < yearMs ? Date.now() - input.sinceMs : input.sinceMs;
  const names = input.names;
  const concerns = (object: string) =>
    !names || names.some((n) => object === n || object.startsWith(`${n}-`));
  return (await api.listEvents(input.namespace))
    .map((event) => ({ event, at: eventTime(event) }))
    .filter(({ event, at }) => at >= since && concerns(event.involvedObject?.name ?? ''))
    .sort((a, b) => a.at - b.at)
    .map(
      ({ event, at }): EventInfo => ({
        at: new Date(at).toISOString(),
        type: event.type ?? 'Normal',
        reason: event.reason ?? '',
        object: objectName(event.involvedObject?.kind ?? '', event.involvedObject?.name ?? ''),
        message: event.message ?? '',
      }),
    );
}

function eventTime(event: CoreV1Event): number {
  const at =
    event.lastTimestamp ??
    event.eventTime ??
    event.firstTimestamp ??
    event.metadata?.creationTimestamp;
  return at === undefined ? 0 : new Date(at).getTime();
}
