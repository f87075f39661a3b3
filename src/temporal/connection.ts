import { existsSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** One bad environment variable: its name and what was expected (never its value when secret). */
export interface EnvIssue {
  variable: string;
  message: string;
}

export class ConnectionConfigError extends Error {
  constructor(readonly issues: EnvIssue[]) {
    super(
      `Temporal connection settings are invalid:\n` +
        issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'ConnectionConfigError';
  }
}

/** What both `Connection.connect` (client) and `NativeConnection.connect` (worker) take. */
export interface ConnectionOptions {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface LoadConnectionOptions {
  /** A profile of the Temporal config file (`temporal.toml`); TEMPORAL_PROFILE otherwise. */
  profile?: string;
  /** Overrides the profile and TEMPORAL_ADDRESS (a CLI flag, say). */
  address?: string;
  /** Overrides the profile and TEMPORAL_NAMESPACE. */
  namespace?: string;
  env?: NodeJS.ProcessEnv;
}

const BOOLEAN = /^(true|false|1|0)$/i;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
const TLS_PATH_VARIABLES = [
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
] as const;

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

function checkAddress(address: string, variable: string, issues: EnvIssue[]): void {
  if (!HOST_PORT.test(address)) {
    issues.push({
      variable,
      message: `expected host:port such as 'localhost:7233', got ${JSON.stringify(address)}`,
    });
  }
}

/**
 * Where and how to reach Temporal: the Temporal config file's profile (TEMPORAL_CONFIG_FILE or
 * the user's temporal.toml; TEMPORAL_PROFILE picks one), overridden by the environment
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*),
 * overridden by explicit options. Throws ConnectionConfigError naming every bad variable.
 */
export function loadConnectionOptions(options: LoadConnectionOptions = {}): ConnectionOptions {
  const env = options.env ?? process.env;
  const issues: EnvIssue[] = [];

  // envconfig reads any TEMPORAL_TLS value other than true/1 as "off"; a typo should not
  // silently turn TLS off.
  const tlsFlag = env.TEMPORAL_TLS;
  if (tlsFlag !== undefined && !BOOLEAN.test(tlsFlag)) {
    issues.push({
      variable: 'TEMPORAL_TLS',
      message: `expected true or false, got ${JSON.stringify(tlsFlag)}`,
    });
  }
  // envconfig quietly ignores a config file that is not there; a path someone set should exist.
  if (env.TEMPORAL_CONFIG_FILE !== undefined && !existsSync(env.TEMPORAL_CONFIG_FILE)) {
    issues.push({
      variable: 'TEMPORAL_CONFIG_FILE',
      message: `file not found: ${env.TEMPORAL_CONFIG_FILE}`,
    });
  }
  for (const variable of TLS_PATH_VARIABLES) {
    const path = env[variable];
    if (path !== undefined && !existsSync(path)) {
      issues.push({ variable, message: `file not found: ${path}` });
    }
  }
  if (env.TEMPORAL_TLS_CLIENT_CERT_PATH && env.TEMPORAL_TLS_CLIENT_CERT_DATA) {
    issues.push({
      variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      message:
        'set either TEMPORAL_TLS_CLIENT_CERT_PATH or TEMPORAL_TLS_CLIENT_CERT_DATA, not both',
    });
  }
  if (env.TEMPORAL_TLS_CLIENT_KEY_PATH && env.TEMPORAL_TLS_CLIENT_KEY_DATA) {
    issues.push({
      variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
      message: 'set either TEMPORAL_TLS_CLIENT_KEY_PATH or TEMPORAL_TLS_CLIENT_KEY_DATA, not both',
    });
  }
  if (options.address !== undefined) checkAddress(options.address, 'address', issues);
  else if (env.TEMPORAL_ADDRESS !== undefined) {
    checkAddress(env.TEMPORAL_ADDRESS, 'TEMPORAL_ADDRESS', issues);
  }
  if (env.TEMPORAL_API_KEY !== undefined && env.TEMPORAL_API_KEY.trim() === '') {
    issues.push({ variable: 'TEMPORAL_API_KEY', message: 'expected a non-empty API key' });
  }
  if (issues.length > 0) throw new ConnectionConfigError(issues);

  const profile = options.profile ?? env.TEMPORAL_PROFILE;
  const load = (disableFile: boolean) =>
    loadClientConnectConfig({
      ...(options.profile !== undefined ? { profile: options.profile } : {}),
      overrideEnvVars: definedOnly(env),
      disableFile,
    });
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    try {
      loaded = load(false);
    } catch (err) {
      // envconfig fails on a config file without any [profile.*] table: with no profile asked
      // for, that file simply has nothing to say.
      if (!(err instanceof TypeError) || profile !== undefined) throw err;
      loaded = load(true);
    }
  } catch (err) {
    throw new ConnectionConfigError([describeLoadFailure(err, options.profile, env)]);
  }

  const { connectionOptions } = loaded;
  const address = options.address ?? connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const namespace = options.namespace ?? loaded.namespace ?? DEFAULT_TEMPORAL_NAMESPACE;
  if (options.address === undefined && env.TEMPORAL_ADDRESS === undefined) {
    checkAddress(address, 'TEMPORAL_CONFIG_FILE', issues);
  }
  if (namespace.trim() === '') {
    issues.push({ variable: 'TEMPORAL_NAMESPACE', message: 'expected a non-empty namespace' });
  }
  if (issues.length > 0) throw new ConnectionConfigError(issues);

  const result: ConnectionOptions = { address, namespace };
  if (connectionOptions.tls !== undefined && connectionOptions.tls !== null) {
    result.tls = connectionOptions.tls;
  }
  const apiKey = connectionOptions.apiKey;
  if (typeof apiKey === 'string') result.apiKey = apiKey;
  const metadata = connectionOptions.metadata;
  if (metadata && Object.keys(metadata).length > 0) {
    result.metadata = Object.fromEntries(
      Object.entries(metadata).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  }
  return result;
}

function describeLoadFailure(
  err: unknown,
  profile: string | undefined,
  env: NodeJS.ProcessEnv,
): EnvIssue {
  const message = err instanceof Error ? err.message : String(err);
  const requested = profile ?? env.TEMPORAL_PROFILE;
  if (/^Profile '.*' not found/.test(message) || (err instanceof TypeError && requested)) {
    return {
      variable: profile !== undefined ? 'profile' : 'TEMPORAL_PROFILE',
      message: `Profile '${requested}' not found in the Temporal config file (TEMPORAL_CONFIG_FILE or the user's temporalio/temporal.toml)`,
    };
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES') {
    // envconfig reads TLS files named by the profile only while building the connection.
    return { variable: 'TEMPORAL_TLS', message: `a TLS file cannot be read (${code})` };
  }
  return {
    variable: env.TEMPORAL_CONFIG_FILE !== undefined ? 'TEMPORAL_CONFIG_FILE' : 'temporal.toml',
    message: `the Temporal config file cannot be used: ${message.split('\n')[0] ?? message}`,
  };
}

/** A one-line, secret-free description of where the connection goes. */
export function describeConnection(options: ConnectionOptions): string {
  const tls = options.tls === undefined || options.tls === false ? 'off' : 'on';
  const parts = [`temporal=${options.address}`, `namespace=${options.namespace}`, `tls=${tls}`];
  if (options.apiKey !== undefined) parts.push('apiKey=set');
  if (options.metadata) parts.push(`grpcMeta=${Object.keys(options.metadata).join(',')}`);
  return parts.join(' ');
}
