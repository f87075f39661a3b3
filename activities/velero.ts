/**
 * Velero activities through its CRDs (`velero.io/v1` Backup and Restore): one backup and one
 * restore per change, named from the change id, so a retried activity finds the one it made.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type {
  BackupInput,
  BackupResult,
  RestoreResult,
  VeleroActivities,
} from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import { Annotation } from './kubernetes/deployments';
import {
  isAlreadyExists,
  isTransient,
  kubeCall,
  kubernetesFailure,
  transientReadLimit,
} from './kubernetes/errors';
import { Progress } from './kubernetes/progress';

export interface VeleroActivityOptions {
  /** Where Velero runs and keeps its objects (default `velero`). */
  namespace?: string;
  /** How often waits poll the API server (default 2s). */
  pollIntervalMs?: number;
}

const group = 'velero.io';
const version = 'v1';
const maxNameLength = 63;

/** A DNS-safe Velero object name from a change id: `CHG-1234` → `changectl-chg-1234`. */
export function veleroName(changeId: string, suffix = ''): string {
  const base = `changectl-${changeId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, maxNameLength - suffix.length)
    .replace(/-+$/, '');
  return `${base}${suffix}`;
}

export function restoreCommand(backupName: string): string {
  return `velero restore create --from-backup ${backupName}`;
}

interface VeleroObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    failureReason?: string;
    validationErrors?: string[];
    errors?: number;
    warnings?: number;
    startTimestamp?: string;
    completionTimestamp?: string;
    progress?: { itemsBackedUp?: number; itemsRestored?: number; totalItems?: number };
  };
}

const succeeded = 'Completed';
const failedPhases = new Set(['Failed', 'PartiallyFailed', 'FailedValidation']);

/** Velero's reason for a failed phase, in its own words where it gave any. */
function failureReason(object: VeleroObject): string {
  const status = object.status ?? {};
  const parts: string[] = [];
  if (status.failureReason) parts.push(status.failureReason);
  if (status.validationErrors?.length) parts.push(status.validationErrors.join('; '));
  if (status.errors) parts.push(`${status.errors} error(s)`);
  if (status.warnings) parts.push(`${status.warnings} warning(s)`);
  return parts.join('; ') || 'no reason given';
}

function progressText(object: VeleroObject): string {
  const progress = object.status?.progress;
  const done = progress?.itemsBackedUp ?? progress?.itemsRestored;
  const phase = object.status?.phase ?? 'New';
  return done !== undefined && progress?.totalItems !== undefined
    ? `${phase}: ${done}/${progress.totalItems} items`
    : phase;
}

export function createVeleroActivities(
  kubeConfig: KubeConfig,
  options: VeleroActivityOptions = {},
): VeleroActivities {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const namespace = options.namespace ?? 'velero';
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;

  /** A Velero object of the change, labelled and annotated with its id. */
  function changeObject(
    kind: 'Backup' | 'Restore',
    name: string,
    changeId: string,
    spec: Record<string, unknown>,
  ): VeleroObject {
    return {
      apiVersion: `${group}/${version}`,
      kind,
      metadata: {
        name,
        namespace,
        labels: { 'change-id': changeId },
        annotations: { [Annotation.changeId]: changeId },
      },
      spec,
    };
  }

  /** Creates the object, or finds the one an earlier attempt created under the same name. */
  async function createOrGet(plural: string, body: VeleroObject): Promise<VeleroObject> {
    const name = body.metadata?.name ?? '';
    try {
      return (await api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body,
      })) as VeleroObject;
    } catch (error) {
      if (!isAlreadyExists(error))
        throw kubernetesFailure(error, `create ${plural} ${namespace}/${name}`);
    }
    return read(plural, name);
  }

  async function read(plural: string, name: string): Promise<VeleroObject> {
    return (await kubeCall(`read ${plural} ${namespace}/${name}`, () =>
      api.getNamespacedCustomObject({ group, version, namespace, plural, name }),
    )) as VeleroObject;
  }

  /** Polls until Velero ends the object in a terminal phase, heartbeating the progress. */
  async function waitForTerminal(
    plural: string,
    name: string,
    first: VeleroObject,
    failure: FailureType,
  ): Promise<VeleroObject> {
    const progress = new Progress();
    let object = first;
    for (let failures = 0; ; ) {
      const phase = object.status?.phase;
      if (phase === succeeded) return object;
      if (phase !== undefined && failedPhases.has(phase)) {
        throw ApplicationFailure.nonRetryable(
          `Velero ${plural} ${namespace}/${name} ended ${phase}: ${failureReason(object)}`,
          failure,
        );
      }
      progress.report(plural, `${namespace}/${name}: ${progressText(object)}`);
      await progress.pause(pollIntervalMs);
      try {
        object = await read(plural, name);
        failures = 0;
      } catch (error) {
        failures += 1;
        if (!isTransient(error) || failures >= transientReadLimit) throw error;
      }
    }
  }

  return {
    async createBackup(input: BackupInput): Promise<BackupResult> {
      const name = veleroName(input.changeId);
      const created = await createOrGet(
        'backups',
        changeObject('Backup', name, input.changeId, {
          includedNamespaces: input.includeNamespaces,
          snapshotVolumes: input.snapshotVolumes,
          ttl: input.ttl,
        }),
      );
      const done = await waitForTerminal('backups', name, created, FailureType.BackupFailed);
      const result: BackupResult = {
        name,
        phase: done.status?.phase ?? succeeded,
        restoreCommand: restoreCommand(name),
      };
      if (done.status?.startTimestamp) result.startedAt = done.status.startTimestamp;
      if (done.status?.completionTimestamp) result.completedAt = done.status.completionTimestamp;
      return result;
    },

    async restoreBackup(input: { changeId: string; backupName: string }): Promise<RestoreResult> {
      const name = veleroName(input.changeId, '-restore');
      const created = await createOrGet(
        'restores',
        // Real Velero skips objects that exist unless told to update them: a restore after a bad
        // rollout must put the backed-up Deployment and ConfigMaps back, not leave them.
        changeObject('Restore', name, input.changeId, {
          backupName: input.backupName,
          existingResourcePolicy: 'update',
        }),
      );
      const done = await waitForTerminal('restores', name, created, FailureType.RestoreFailed);
      return { name, phase: done.status?.phase ?? succeeded, backupName: input.backupName };
    },
  };
}
