import type { CliIo } from './output';

/** The run's page in the Temporal UI, when TEMPORAL_UI_URL says where the UI is. */
export function workflowUiUrl(
  env: CliIo['env'],
  namespace: string,
  workflowId: string,
  runId?: string,
): string | undefined {
  const base = env.TEMPORAL_UI_URL?.replace(/\/+$/, '');
  if (!base) return undefined;
  const path = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${encodeURIComponent(runId)}/history` : path;
}
