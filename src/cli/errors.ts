import { CommanderError } from 'commander';
// Light modules only: this file loads on every run, the Temporal client only when a command uses it.
import { NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/common/lib/errors.js';
import { ApplicationFailure } from '@temporalio/common/lib/failure.js';
import { ValidationError, type FieldIssue } from '../core/change/validation';
import { FailureType } from '../core/errors';
import { ChangeAlreadyExistsError } from '../temporal/errors';

/** The exit codes `changectl` promises; other tools rely on them. */
export const ExitCode = {
  Ok: 0,
  /** The change ended unsuccessfully, or the operation failed. */
  Failed: 1,
  /** Invalid input: a file or a flag. */
  InvalidInput: 2,
  /** Refused by policy; the reason is printed. */
  Refused: 3,
  NotFound: 4,
  /** Temporal could not be reached. */
  Unreachable: 5,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error a command raises on purpose: its message is for the operator, its code for scripts. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** Field-by-field problems, printed one per line under the message. */
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class ChangeNotFoundError extends CliError {
  constructor(readonly changeId: string) {
    super(ExitCode.NotFound, `change ${changeId} not found`);
    this.name = 'ChangeNotFoundError';
  }
}

export class TemporalUnreachableError extends CliError {
  constructor(
    readonly address: string,
    detail: string,
  ) {
    super(ExitCode.Unreachable, `cannot reach Temporal at ${address}: ${detail}`);
    this.name = 'TemporalUnreachableError';
  }
}

/** What the entry point needs to know about the session to explain an error. */
export interface ErrorContext {
  /** The Temporal address in use, once known. */
  address?: string;
}

export interface FailureReport {
  exitCode: ExitCode;
  /** Lines for stderr, without the `error:` prefix; empty when something already printed them. */
  lines: string[];
}

const GRPC_UNAVAILABLE = 14;

/**
 * The client's error classes mark their instances with a registered symbol (that is what its
 * `instanceof` checks), so they are recognised here without loading the client and gRPC.
 */
function isClientError(
  err: unknown,
  name: 'ServiceError' | 'WorkflowUpdateFailedError',
): err is Error & { cause?: unknown } {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as Record<symbol, unknown>)[Symbol.for(`__temporal_is${name}`)] === true
  );
}

/** A gRPC status error, as the client's isGrpcServiceError tells it. */
function isGrpcServiceError(err: unknown): err is Error & { code: number } {
  return (
    err instanceof Error &&
    typeof (err as { details?: unknown }).details === 'string' &&
    typeof (err as { metadata?: unknown }).metadata === 'object' &&
    (err as { metadata?: unknown }).metadata !== null
  );
}

function changeIdOfWorkflow(workflowId: string): string {
  return workflowId.replace(/^change-/, '');
}

/** The validator's failure behind a refused update, when it is of `type`. */
function updateFailureOf(err: unknown, type: FailureType): ApplicationFailure | undefined {
  if (isClientError(err, 'WorkflowUpdateFailedError') && err.cause instanceof ApplicationFailure) {
    return err.cause.type === type ? err.cause : undefined;
  }
  return undefined;
}

function refusalOf(err: unknown): ApplicationFailure | undefined {
  return updateFailureOf(err, FailureType.Refused);
}

/** The reason, when an update was turned away only because the change is not ready yet. */
export function isNotReady(err: unknown): string | undefined {
  return updateFailureOf(err, FailureType.NotReady)?.message;
}

export function isUnavailable(err: unknown): boolean {
  const cause = isClientError(err, 'ServiceError') ? err.cause : err;
  return isGrpcServiceError(cause) && cause.code === GRPC_UNAVAILABLE;
}

function issueLines(issues: FieldIssue[]): string[] {
  return issues.map((i) => `  ${i.path}: ${i.message}`);
}

/** Turns any error a command throws into its exit code and the text the operator reads. */
export function reportFailure(err: unknown, context: ErrorContext = {}): FailureReport {
  if (err instanceof CommanderError) {
    // Commander has already printed its own message (usage errors) or the help text.
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    return { exitCode: ok ? ExitCode.Ok : ExitCode.InvalidInput, lines: [] };
  }
  if (err instanceof CliError) {
    return { exitCode: err.exitCode, lines: [err.message, ...issueLines(err.issues)] };
  }
  if (err instanceof ValidationError) {
    return {
      exitCode: ExitCode.InvalidInput,
      lines: [`${err.document} is invalid:`, ...issueLines(err.issues)],
    };
  }
  const refusal = refusalOf(err);
  if (refusal) {
    return { exitCode: ExitCode.Refused, lines: [`refused: ${refusal.message}`] };
  }
  if (isClientError(err, 'WorkflowUpdateFailedError') && err.cause instanceof ApplicationFailure) {
    const invalid = err.cause.type === FailureType.InvalidRequest;
    return {
      exitCode: invalid ? ExitCode.InvalidInput : ExitCode.Failed,
      lines: [err.cause.message],
    };
  }
  if (err instanceof WorkflowNotFoundError) {
    return {
      exitCode: ExitCode.NotFound,
      lines: [`change ${changeIdOfWorkflow(err.workflowId)} not found`],
    };
  }
  if (err instanceof NamespaceNotFoundError) {
    return { exitCode: ExitCode.InvalidInput, lines: [`namespace ${err.namespace} not found`] };
  }
  if (err instanceof ChangeAlreadyExistsError) {
    return { exitCode: ExitCode.Failed, lines: [err.message] };
  }
  if (isUnavailable(err)) {
    const where = context.address ? ` at ${context.address}` : '';
    return {
      exitCode: ExitCode.Unreachable,
      lines: [`cannot reach Temporal${where}: ${(err as Error).message}`],
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: ExitCode.Failed, lines: [message] };
}
