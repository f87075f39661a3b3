/**
 * What the CLI reads from Kubernetes itself: a service's rollout history and its namespace's
 * recent events (for `diagnose`), and the drift of a scope (for `drift`). Read-only, over the same client and readers the worker's
 * activities use, so both word a failure alike; no activity is built or run here.
 */
import { readDrift } from '../../activities/drift';
import { ClusterApi } from '../../activities/kubernetes/client';
import { readRecentEvents, readRolloutHistory } from '../../activities/kubernetes/history';
import { loadKubeConfig, type KubeConfigOptions } from '../../activities/kubernetes/kubeconfig';
import type { KubernetesActivities } from '../core/contracts';
import type { DriftReport, DriftScope } from '../core/drift/index';

/** The two reads `diagnose` makes, as the worker's Kubernetes activities answer them. */
export type KubeReader = Pick<KubernetesActivities, 'rolloutHistory' | 'recentEvents'>;

/** A reader on the kubeconfig's cluster; fails at once naming the file or context at fault. */
export function createKubeReader(options: Pick<KubeConfigOptions, 'path' | 'context'>): KubeReader {
  const api = new ClusterApi(loadKubeConfig(options));
  return {
    rolloutHistory: (input) => readRolloutHistory(api, input),
    recentEvents: (input) => readRecentEvents(api, input),
  };
}

/** `changectl drift`'s read of the scope, as the scheduled scan's activity reads it. */
export async function readClusterDrift(
  options: Pick<KubeConfigOptions, 'path' | 'context'>,
  scope: DriftScope,
): Promise<DriftReport> {
  return readDrift(new ClusterApi(loadKubeConfig(options)), scope);
}
