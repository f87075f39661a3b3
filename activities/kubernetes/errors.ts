import { AbortError, ApiException, FetchError } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/core/errors';
import { isRecord } from '../../src/core/records';

// Client errors that say "not now" rather than "never": timeouts, conflicts, throttling.
const retryableClientCodes = new Set([408, 409, 429]);

/** How many failed reads in a row a wait tolerates before it gives the attempt up to a retry. */
export const transientReadLimit = 5;

/** The `Status` the API server answered with, when its body holds one. */
function statusOf(error: ApiException<unknown>): Record<string, unknown> | undefined {
  const body: unknown = error.body;
  if (typeof body !== 'string') return isRecord(body) ? body : undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return body.trim() ? { message: body.trim() } : undefined;
  }
}

/** The API server's own words for a failed request. */
export function apiMessage(error: ApiException<unknown>): string {
  const message = statusOf(error)?.message;
  return typeof message === 'string' && message.length > 0 ? message : `HTTP ${error.code}`;
}

export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

/** A create that found the name taken (as opposed to a 409 Conflict on an update). */
export function isAlreadyExists(error: unknown): boolean {
  return (
    error instanceof ApiException &&
    error.code === 409 &&
    statusOf(error)?.reason === 'AlreadyExists'
  );
}

/**
 * What Temporal should do with a failed Kubernetes call: a 4xx means the request itself is wrong
 * and is final, with the API server's message; 5xx, 408/409/429 and network failures are retried.
 * Anything else (including cancellation) passes through unchanged.
 */
export function kubernetesFailure(error: unknown, action: string): unknown {
  if (error instanceof ApiException) {
    const code = error.code;
    const message = `${action}: ${apiMessage(error)}`;
    // Server-side apply answers a manifest that does not fit the schema (a number where a string
    // belongs) with a 500, not a 4xx; retrying it can never succeed.
    const schemaMismatch = code === 500 && /failed to create typed patch object/.test(message);
    if ((code >= 400 && code < 500 && !retryableClientCodes.has(code)) || schemaMismatch) {
      return ApplicationFailure.create({
        message,
        type: FailureType.KubernetesRejected,
        nonRetryable: true,
        details: [{ code }],
      });
    }
    return ApplicationFailure.create({
      message: `${message} (HTTP ${code})`,
      type: FailureType.KubernetesUnavailable,
      details: [{ code }],
    });
  }
  if (error instanceof FetchError || error instanceof AbortError) {
    return ApplicationFailure.create({
      message: `${action}: ${error.message}`,
      type: FailureType.KubernetesUnavailable,
    });
  }
  return error;
}

/** Runs one API call, translating its failure with kubernetesFailure. */
export async function kubeCall<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw kubernetesFailure(error, action);
  }
}

/** Runs one read, answering undefined when the object is not there (a 404). */
export async function kubeFind<T>(action: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw kubernetesFailure(error, action);
  }
}

/** A failure worth trying again within the same attempt (a poll), rather than failing it. */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof ApplicationFailure &&
    !error.nonRetryable &&
    error.type === FailureType.KubernetesUnavailable
  );
}

/** Why a change may not go ahead: it could not be undone. Final: the cluster must change first. */
export function rollbackNotReady(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.RollbackNotReady);
}
