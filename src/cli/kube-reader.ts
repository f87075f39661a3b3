/**
 * What the CLI reads from Kubernetes itself (for `diagnose`): a service's rollout history and
 * its namespace's recent events. Read-only, over the same client and readers the worker's
 * activities use, so both word a failure alike; no activity is built or run here.
 */
import { ClusterApi } from '../../activities/kubernetes/client';
import { readRecentEvents, readRolloutHistory } from '../../activities/kubernetes/history';
import { loadKubeConfig, type KubeConfigOptions } from '../../activities/kubernetes/kubeconfig';
import type { KubernetesActivities } from '../core/contracts';

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
