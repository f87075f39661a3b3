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
import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { specHash } from '../../src/core/drift/index';
import { FailureType } from '../../src/core/errors';
import { Annotation, FIELD_MANAGER, ownedBy, type JsonPatchOperation } from './deployments';
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

/** The workflow run whose activity is writing, when the write happens inside an activity. */
function writingRunId(): string | undefined {
  return asyncLocalStorage.getStore()?.info.workflowExecution?.runId;
}

/**
 * The annotations that mark what a change left: the run that wrote and the hash of the spec as
 * the server answered the write. Undefined for an object no change claims (no change id).
 */
function stampOf(written: KubernetesObject): Record<string, string> | undefined {
  if (!written.metadata?.annotations?.[Annotation.changeId]) return undefined;
  const runId = writingRunId();
  return {
    [Annotation.specHash]: specHash(written as Parameters<typeof specHash>[0]),
    ...(runId !== undefined ? { [Annotation.runId]: runId } : {}),
  };
}

/** Whether the object already carries these annotations, so stamping it again writes nothing. */
function carries(object: KubernetesObject, annotations: Record<string, string>): boolean {
  const current = object.metadata?.annotations ?? {};
  return Object.entries(annotations).every(([key, value]) => current[key] === value);
}

/**
 * The few Kubernetes calls changectl makes, each failing the way kubernetesFailure says: a 4xx is
 * final with the API server's message, the rest are retried. Every write that persists is
 * followed by a metadata-only patch stamping the run id and the spec hash it left (see
 * src/core/drift), which changes no spec and so leaves the hash true.
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
    const written = kubeCall(
      `${dryRun ? 'dry-run ' : ''}apply deployment ${namespace}/${name}`,
      () =>
        this.apps.patchNamespacedDeployment(
          { namespace, name, body, fieldManager: FIELD_MANAGER, force: true, dryRun },
          serverSideApply,
        ),
    );
    return dryRun ? written : written.then((d) => this.stampDeployment(d));
  }

  patchDeployment(
    namespace: string,
    name: string,
    kind: PatchKind,
    body: Record<string, unknown> | JsonPatchOperation[],
    dryRun?: DryRun,
  ): Promise<V1Deployment> {
    const written = kubeCall(
      `${dryRun ? 'dry-run ' : ''}patch deployment ${namespace}/${name}`,
      () =>
        this.apps.patchNamespacedDeployment(
          { namespace, name, body, fieldManager: FIELD_MANAGER, dryRun },
          patchOptions[kind],
        ),
    );
    return dryRun ? written : written.then((d) => this.stampDeployment(d));
  }

  /** Stamps a deployment changectl wrote with its run and spec hash (see stampOf). */
  async stampDeployment(deployment: V1Deployment): Promise<V1Deployment> {
    const annotations = stampOf(deployment);
    if (!annotations || carries(deployment, annotations)) return deployment;
    const namespace = deployment.metadata?.namespace ?? '';
    const name = deployment.metadata?.name ?? '';
    return kubeCall(`stamp deployment ${namespace}/${name}`, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body: { metadata: { annotations } }, fieldManager: FIELD_MANAGER },
        mergePatch,
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
    const written = kubeCall(`${dryRun ? 'dry-run ' : ''}patch service ${namespace}/${name}`, () =>
      this.core.patchNamespacedService(
        { namespace, name, body, fieldManager: FIELD_MANAGER, dryRun },
        mergePatch,
      ),
    );
    return dryRun ? written : written.then((s) => this.stampService(s));
  }

  /** Stamps a service changectl wrote with its run and spec hash (see stampOf). */
  async stampService(service: V1Service): Promise<V1Service> {
    const annotations = stampOf(service);
    if (!annotations || carries(service, annotations)) return service;
    const namespace = service.metadata?.namespace ?? '';
    const name = service.metadata?.name ?? '';
    return kubeCall(`stamp service ${namespace}/${name}`, () =>
      this.core.patchNamespacedService(
        { namespace, name, body: { metadata: { annotations } }, fieldManager: FIELD_MANAGER },
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
    const written = await kubeCall(action, () =>
      this.objects.patch(
        manifest,
        undefined,
        dryRun,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
    if (dryRun) return written;
    const annotations = stampOf(written);
    if (!annotations || carries(written, annotations)) return written;
    return kubeCall(`stamp ${kind} ${where}`, () =>
      this.objects.patch(
        {
          apiVersion,
          kind,
          metadata: {
            name: written.metadata?.name ?? '',
            namespace: written.metadata?.namespace ?? '',
            annotations,
          },
        },
        undefined,
        undefined,
        FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      ),
    );
  }

  /** Every Deployment, Service or ConfigMap in the namespace, as drift reads them. */
  async listForDrift(
    namespace: string,
  ): Promise<{ kind: string; object: KubernetesObject & Record<string, unknown> }[]> {
    const [deployments, services, configMaps] = await Promise.all([
      kubeCall(`list deployments in ${namespace}`, () =>
        this.apps.listNamespacedDeployment({ namespace }),
      ),
      kubeCall(`list services in ${namespace}`, () =>
        this.core.listNamespacedService({ namespace }),
      ),
      kubeCall(`list configmaps in ${namespace}`, () =>
        this.core.listNamespacedConfigMap({ namespace }),
      ),
    ]);
    const as = (kind: string, items: KubernetesObject[]) =>
      items.map((object) => ({
        kind,
        object: object as KubernetesObject & Record<string, unknown>,
      }));
    return [
      ...as('Deployment', deployments.items),
      ...as('Service', services.items),
      ...as('ConfigMap', configMaps.items),
    ];
  }
}
