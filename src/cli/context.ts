import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
// Types only: the client (gRPC and Temporal's protobufs) is loaded when a command first needs it.
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common/lib/errors.js';
import { changeWorkflowId } from '../core/change/request';
import { personHandle } from '../core/change/validation';
import { isEndState, type ChangeState } from '../core/lifecycle/status';
import {
  ConnectionConfigError,
  loadConnectionOptions,
  type ConnectionOptions,
} from '../temporal/connection';
import { changeStateKey } from '../core/search-attributes';
import { ChangeNotFoundError, CliError, ExitCode, TemporalUnreachableError } from './errors';
import { parseInput } from './input';
import { Printer, type CliIo } from './output';

const globalOptionsSchema = z.object({
  as: personHandle.optional(),
  key: z.string().min(1, { error: 'expected a key file' }).optional(),
  address: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  profile: z.string().min(1).optional(),
  json: z.boolean().default(false),
});

export type GlobalOptions = z.output<typeof globalOptionsSchema>;

/**
 * The exports of a CommonJS package loaded with import(): Node gives its named exports, the
 * compiled CLI's bundler only its `default` (the whole exports object).
 */
export function commonJsExports<T extends object>(namespace: T): T {
  return (namespace as { default?: T }).default ?? namespace;
}

/** How long `changectl` waits for Temporal before it says it cannot be reached. */
const CONNECT_TIMEOUT_MS = 5_000;

/** An open connection to Temporal and the client on it. */
export interface TemporalSession {
  connection: Connection;
  client: Client;
  options: ConnectionOptions;
}

/** A change's workflow that exists; `state` is its ChangeState search attribute. */
export interface ChangeRef {
  id: string;
  handle: WorkflowHandle;
  running: boolean;
  state?: ChangeState;
  /** The workflow execution's own status (RUNNING, COMPLETED, FAILED, TERMINATED, ...). */
  executionStatus: string;
}

/** Who is acting: `--as`, then CHANGECTL_USER, then the OS user. */
export function resolveIdentity(as: string | undefined, env: CliIo['env']): string {
  if (as) return as;
  const fromEnv = env.CHANGECTL_USER?.trim();
  if (fromEnv) {
    const parsed = personHandle.safeParse(fromEnv);
    if (!parsed.success) {
      throw new CliError(ExitCode.InvalidInput, 'invalid identity:', [
        { path: 'CHANGECTL_USER', message: parsed.error.issues[0]?.message ?? 'invalid' },
      ]);
    }
    return fromEnv;
  }
  return userInfo().username;
}

/**
 * What every command shares: the output, the global options, who is acting and the Temporal
 * session (opened on first use, closed by the entry point).
 */
export class CliContext {
  readonly out: Printer;
  private session?: Promise<TemporalSession>;
  private connectionOptions?: ConnectionOptions;

  constructor(
    readonly io: CliIo,
    private readonly program: Command,
  ) {
    this.out = new Printer(io);
  }

  get options(): GlobalOptions {
    return parseInput(globalOptionsSchema, this.program.opts(), 'options');
  }

  get user(): string {
    return resolveIdentity(this.options.as, this.io.env);
  }

  /** The key that signs this person's actions: `--key`, then CHANGECTL_KEY; undefined if neither. */
  get keyPath(): string | undefined {
    return this.options.key ?? (this.io.env.CHANGECTL_KEY?.trim() || undefined);
  }

  get json(): boolean {
    return this.options.json;
  }

  /** The address in use once a connection was attempted; for error messages. */
  get address(): string | undefined {
    return this.connectionOptions?.address;
  }

  resolveConnectionOptions(): ConnectionOptions {
    if (this.connectionOptions) return this.connectionOptions;
    const { address, namespace, profile } = this.options;
    try {
      this.connectionOptions = loadConnectionOptions({
        address,
        namespace,
        profile,
        env: this.io.env,
      });
    } catch (err) {
      if (err instanceof ConnectionConfigError) {
        throw new CliError(
          ExitCode.InvalidInput,
          'Temporal connection settings are invalid:',
          err.issues.map((i) => ({ path: i.variable, message: i.message })),
        );
      }
      throw err;
    }
    return this.connectionOptions;
  }

  temporal(): Promise<TemporalSession> {
    this.session ??= this.connect();
    return this.session;
  }

  private async connect(): Promise<TemporalSession> {
    const options = this.resolveConnectionOptions();
    const { namespace, ...connectionOptions } = options;
    const { Client, Connection } = commonJsExports(await import('@temporalio/client'));
    let connection: Connection;
    try {
      connection = await Connection.connect({
        ...connectionOptions,
        connectTimeout: CONNECT_TIMEOUT_MS,
      });
    } catch (err) {
      throw new TemporalUnreachableError(
        options.address,
        err instanceof Error ? err.message : String(err),
      );
    }
    const client = new Client({ connection, namespace, identity: `${this.user}@changectl` });
    return { connection, client, options };
  }

  /** Looks a change up; throws ChangeNotFoundError when Temporal has no such workflow. */
  async change(id: string): Promise<ChangeRef> {
    const { client } = await this.temporal();
    const handle = client.workflow.getHandle(changeWorkflowId(id));
    let description: Awaited<ReturnType<WorkflowHandle['describe']>>;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new ChangeNotFoundError(id);
      }
      throw err;
    }
    const state = description.typedSearchAttributes.get(changeStateKey) as ChangeState | undefined;
    return {
      id,
      handle,
      running: description.status.name === 'RUNNING',
      state,
      executionStatus: description.status.name,
    };
  }

  /** A change that is still running; an ended one fails with exit 1 naming how it ended. */
  async runningChange(id: string): Promise<ChangeRef> {
    const change = await this.change(id);
    if (!change.running || (change.state && isEndState(change.state))) {
      const how = change.state ?? change.executionStatus.toLowerCase();
      throw new CliError(ExitCode.Failed, `change ${id} already ended as ${how}`);
    }
    return change;
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      const { connection } = await session;
      await connection.close();
    } catch {
      // The connection never opened; the error that says why is already on its way.
    }
  }
}
