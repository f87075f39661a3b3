/** What a rollout plan writes, worked out before anything is written. */
import type { KubernetesObject, V1Container, V1Deployment } from '@kubernetes/client-node';
import type { RolloutPlan } from '../../src/core/contracts';
import { isRecord } from '../../src/core/records';
import { Annotation, changeCause, objectName } from './deployments';

/** A manifest as changectl applies it: in the plan's namespace unless it names one, annotated. */
export function preparedManifest(
  manifest: Record<string, unknown>,
  plan: RolloutPlan,
): KubernetesObject {
  const copy = structuredClone(manifest);
  const metadata = isRecord(copy.metadata) ? copy.metadata : {};
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  copy.metadata = {
    ...metadata,
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : plan.namespace,
    annotations: { ...annotations, [Annotation.changeId]: plan.changeId },
  };
  return copy as KubernetesObject;
}

export function manifestName(manifest: KubernetesObject): string {
  return objectName(manifest.kind ?? '', manifest.metadata?.name ?? '');
}

/** Whether a manifest is the plan's own Deployment (as opposed to config beside it). */
export function isTargetDeployment(manifest: KubernetesObject, plan: RolloutPlan): boolean {
  return (
    manifest.kind === 'Deployment' &&
    manifest.metadata?.name === plan.deployment &&
    (manifest.metadata?.namespace ?? plan.namespace) === plan.namespace
  );
}

/**
 * The image a blueGreen or canary plan rolls out: its image, or the chosen container's image in
 * the target Deployment's manifest, or (a config-only change) the image running now.
 */
export function plannedImage(plan: RolloutPlan, container: string, current: string): string {
  if (plan.image !== undefined) return plan.image;
  for (const manifest of plan.manifests ?? []) {
    const prepared = preparedManifest(manifest, plan);
    if (!isTargetDeployment(prepared, plan)) continue;
    const containers = (prepared as V1Deployment).spec?.template?.spec?.containers ?? [];
    const match = containers.find((c: V1Container) => c.name === container);
    if (match?.image) return match.image;
  }
  return current;
}

/** The change cause recorded on the deployment: the change title, or what the change does. */
export function planCause(plan: RolloutPlan, what: string): string {
  return changeCause(plan.changeId, plan.summary ?? what);
}
