import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type KubernetesObject,
  type V1Deployment,
  type V1ReplicaSet,
  type V1Service,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/core/errors';
import { FIELD_MANAGER, ownedBy, type JsonPatchOperation } from './deployments';
import { kubeCall, kubeFind } from './errors';

/** `All`: the server runs every stage of the write and persists nothing. */
export type DryRun = 'All' | undefined;

/** Exposes discovery so that an unknown kind is refused before the write, with its name. */
class ManifestApi extends KubernetesObjectApi {
  async knows(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resource(apiVersion, kind)) !== undefined;
  }
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicMergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const serverSideApply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export type PatchKind = 'merge' | 'strategic' | 'json';

const patchOptions = { merge: mergePatch, strategic: strategicMergePatch, json: jsonPatch };

/**
 * The few Kubernetes calls changectl makes, each failing the way kubernetesFailure says: a 4xx is
 * final with the API server's message, the rest are retried.
 */
export class ClusterApi {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly objects: ManifestApi;

  constructor(kubeConfig: KubeConfig) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.objects = kubeConfig.makeApiClient(ManifestApi);
  }

  readDeployment(namespace: string, name: string): Promise<V1Deployment> {
    return kubeCall(`read deployment ${namespace}/${name}`, () =>
      this.apps.readNamespacedDeployment({ namespace, name }),
    );
  }

  /** The deployment, or undefined when there is none by that name. */
  findDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    return kubeFind(`read deployment ${namespace}/${name}`, () =>
      this.apps.readNamespacedDeployment({ namespace, name }),
    );
  }

  /**
   * Server-side apply of a Deployment, owned by changectl's field manager. A partial spec is
   * fine: apply merges it into the live object.
   */
  applyDeployment(
    body: KubernetesObject & { spec?: object },
    dryRun?: DryRun,
  ): Promise<V1Deployment> {
    const namespace = body.metadata?.namespace ?? '';
    const name = body.metadata?.name ?? '';
    return kubeCall(`${dryRun ? 'dry-run ' : ''}apply deployment ${namespace}/${name}`, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body, fieldManager: FIELD_MANAGER, force: true, dryRun },
        serverSideApply,
      ),
    );
  }

  patchDeployment(
    namespace: string,
    name: string,
    kind: PatchKind,
    body: Record<string, unknown> | JsonPatchOperation[],
    dryRun?: DryRun,
  ): Promise<V1Deployment> {
    return kubeCall(`${dryRun ? 'dry-run ' : ''}patch deployment ${namespace}/${name}`, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body, fieldManager: FIELD_MANAGER, dryRun },
        patchOptions[kind],
      ),
    );
  }

  /** Deletes the deployment and, in the background, its ReplicaSets; gone already is fine. */
  async deleteDeployment(namespace: string, name: string): Promise<void> {
    await kubeFind(`delete deployment ${namespace}/${name}`, () =>
      this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: 'Background' }),
    );
  }

  /** The ReplicaSets the deployment controls (its revisions). */
  async replicaSetsOf(deployment: V1Deployment): Promise<V1ReplicaSet[]> {
    const namespace = deployment.metadata?.namespace ?? '';
    const labels = deployment.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const list = await kubeCall(
      `list replicasets of ${namespace}/${deployment.metadata?.name}`,
      () =>
        this.apps.listNamespacedReplicaSet({
          namespace,
          ...(labelSelector ? { labelSelector } : {}),
        }),
    );
    return list.items.filter((rs) => ownedBy(rs, deployment));
  }

  readService(namespace: string, name: string): Promise<V1Service> {
    return kubeCall(`read service ${namespace}/${name}`, () =>
      this.core.readNamespacedService({ namespace, name }),
    );
  }

  /** The service, or undefined when there is none by that name. */
  findService(namespace: string, name: string): Promise<V1Service | undefined> {
    return kubeFind(`read service ${namespace}/${name}`, () =>
      this.core.readNamespacedService({ namespace, name }),
    );
  }

  patchService(
    namespace: string,
    name: string,
    body: Record<string, unknown>,
    dryRun?: DryRun,
  ): Promise<V1Service> {
    return kubeCall(`${dryRun ? 'dry-run ' : ''}patch service ${namespace}/${name}`, () =>
      this.core.patchNamespacedService(
        { namespace, name, body, fieldManager: FIELD_MANAGER, dryRun },
        mergePatch,
      ),
    );
  }

  async listEvents(namespace: string): Promise<CoreV1Event[]> {
    const list = await kubeCall(`list events in ${namespace}`, () =>
      this.core.listNamespacedEvent({ namespace }),
    );
    return list.items;
  }

  /** Server-side apply of any manifest; an unknown apiVersion/kind is refused for good. */
  async applyManifest(manifest: KubernetesObject, dryRun?: DryRun): Promise<KubernetesObject> {
    const apiVersion = manifest.apiVersion ?? '';
    const kind = manifest.kind ?? '';
    const where = `${manifest.metadata?.namespace ?? ''}/${manifest.metadata?.name ?? ''}`;
    const action = `${dryRun ? 'dry-run ' : ''}apply ${kind} ${where}`;
    const known = await kubeCall(`discover ${apiVersion} ${kind}`, () =>
      this.objects.knows(apiVersion, kind),
    );
    if (!known) {
      throw ApplicationFailure.nonRetryable(
        `${action}: the server does not serve ${kind} in ${apiVersion}`,
        FailureType.KubernetesRejected,
      );
    }
    return kubeCall(action, () =>
      this.objects.patch(
        manifest,
        undefined,
        dryRun,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
  }
}
