/**
 * A small client for Prometheus's HTTP API (`/api/v1/query`) over global fetch. Credentials
 * come from the worker's config only, and never appear in errors: messages name the server by
 * its address without user info.
 */

export type PrometheusAuth =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string };

export interface PrometheusConfig {
  url: string;
  /** Per query: how long to wait for an answer (also sent to Prometheus as `timeout`). */
  timeoutMs?: number;
  auth?: PrometheusAuth;
}

export interface Series {
  labels: Record<string, string>;
  value: number;
}

export type InstantResult =
  | { kind: 'vector'; series: Series[] }
  | { kind: 'scalar'; value: number };

/**
 * Why a query got no result. `invalid`: Prometheus refused the query (HTTP 400 bad_data) or it
 * cannot be compared (a range vector); `execution`: Prometheus could not evaluate it (HTTP 422,
 * e.g. many-to-many matching); `unavailable`: no answer, a timeout, 5xx, or not Prometheus.
 */
export type QueryErrorKind = 'invalid' | 'execution' | 'unavailable';

export class PrometheusQueryError extends Error {
  constructor(
    message: string,
    readonly kind: QueryErrorKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PrometheusQueryError';
  }
}

export interface PrometheusClient {
  /** The server's address as it may be shown: without user info. */
  readonly address: string;
  instantQuery(query: string, signal?: AbortSignal): Promise<InstantResult>;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

interface ApiResponse {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** Prometheus writes sample values as strings: `"0.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`. */
export function parseSampleValue(text: unknown): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (typeof text !== 'string') return NaN;
  return Number(text);
}

function authorization(auth: PrometheusAuth | undefined): string | undefined {
  if (!auth) return undefined;
  if (auth.kind === 'bearer') return `Bearer ${auth.token}`;
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? code : cause.message;
  }
  return error.message;
}

function parseResult(data: ApiResponse['data']): InstantResult | string {
  const result = data?.result;
  switch (data?.resultType) {
    case 'vector': {
      if (!Array.isArray(result)) return 'a vector without a result list';
      const series = (result as { metric?: Record<string, string>; value?: unknown[] }[]).map(
        (s) => ({ labels: s.metric ?? {}, value: parseSampleValue(s.value?.[1]) }),
      );
      return { kind: 'vector', series };
    }
    case 'scalar':
      return { kind: 'scalar', value: parseSampleValue((result as unknown[] | undefined)?.[1]) };
    case 'matrix':
      return 'the query returns a range vector; failWhen needs an instant vector or a scalar';
    default:
      return `the query returns a ${data?.resultType ?? 'result of no type'}; failWhen needs an instant vector or a scalar`;
  }
}

export function createPrometheusClient(config: PrometheusConfig): PrometheusClient {
  const base = new URL(config.url);
  let auth = config.auth;
  // fetch refuses URLs with credentials; user info in the URL counts as basic auth.
  if (base.username && !auth) {
    auth = {
      kind: 'basic',
      username: decodeURIComponent(base.username),
      password: decodeURIComponent(base.password),
    };
  }
  base.username = '';
  base.password = '';
  const address = base.toString().replace(/\/$/, '');
  const endpoint = `${address}/api/v1/query`;
  const header = authorization(auth);
  const timeoutMs = config.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;

  async function instantQuery(query: string, signal?: AbortSignal): Promise<InstantResult> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const body = new URLSearchParams({ query, timeout: `${timeoutMs / 1000}s` });
    let response: Response;
    let text: string;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...(header ? { authorization: header } : {}),
        },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      if (timeout.aborted) {
        throw new PrometheusQueryError(
          `Prometheus at ${address} did not answer within ${timeoutMs} ms`,
          'unavailable',
        );
      }
      throw new PrometheusQueryError(
        `Prometheus at ${address} is unreachable (${describeCause(error)})`,
        'unavailable',
      );
    }
    let parsed: ApiResponse | undefined;
    try {
      parsed = JSON.parse(text) as ApiResponse;
    } catch {
      parsed = undefined;
    }
    if (response.ok && parsed?.status === 'success') {
      const result = parseResult(parsed.data);
      if (typeof result === 'string') throw new PrometheusQueryError(result, 'invalid');
      return result;
    }
    const reason = parsed?.error ?? `HTTP ${response.status} ${response.statusText}`.trim();
    if (response.status === 400 && parsed?.errorType === 'bad_data') {
      throw new PrometheusQueryError(reason, 'invalid', response.status);
    }
    if (response.status === 422) {
      throw new PrometheusQueryError(reason, 'execution', response.status);
    }
    if (response.status === 401 || response.status === 403) {
      throw new PrometheusQueryError(
        `Prometheus at ${address} refused the worker's credentials (HTTP ${response.status})`,
        'unavailable',
        response.status,
      );
    }
    throw new PrometheusQueryError(
      `Prometheus at ${address} answered HTTP ${response.status}: ${parsed?.error ?? 'not a Prometheus API response'}`,
      'unavailable',
      response.status,
    );
  }

  return { address, instantQuery };
}

/** The values of a result, one per series (a scalar is one series). */
export function resultValues(result: InstantResult): number[] {
  return result.kind === 'scalar' ? [result.value] : result.series.map((s) => s.value);
}
