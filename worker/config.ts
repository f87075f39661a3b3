import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { durationHint, formatDuration, parseDuration } from '../src/core/change/duration';
import type { PrometheusAuth } from '../src/prometheus/api';
import {
  ConnectionConfigError,
  describeConnection,
  loadConnectionOptions,
  type ConnectionOptions,
  type EnvIssue,
} from '../src/temporal/connection';
import { DEFAULT_TASK_QUEUE } from '../src/temporal/start';

export interface WorkerConfig {
  temporal: ConnectionOptions;
  taskQueue: string;
  kube: { kubeconfigPath?: string; context?: string; inCluster: boolean };
  prometheus: { url: string; timeoutMs: number; auth?: PrometheusAuth };
  notifications: { log: boolean; webhookUrl?: string; file?: string };
  /** Gate webhooks by the name a request's gates give (`webhook: <name>`). */
  gates: Record<string, string>;
  policyPath: string;
  veleroNamespace: string;
  production: boolean;
  /** A prebuilt workflow bundle (`npm run build:workflows`); required in production. */
  workflowBundlePath?: string;
}

export class WorkerConfigError extends Error {
  constructor(readonly issues: EnvIssue[]) {
    super(
      `worker configuration is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'WorkerConfigError';
  }
}

export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 10_000;
export const DEFAULT_VELERO_NAMESPACE = 'velero';

/** Kubernetes ConfigMaps often carry empty values for "unset"; treat them so. */
const unsetIfEmpty = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

function required<T extends z.ZodType>(schema: T, expected: string) {
  return z
    .preprocess(
      unsetIfEmpty,
      z.unknown().superRefine((value, ctx) => {
        if (value === undefined)
          ctx.addIssue({ code: 'custom', message: `required (${expected})` });
      }),
    )
    .pipe(schema);
}

const flag = z
  .string()
  .regex(/^(true|false|1|0)$/i, {
    error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}`,
  })
  .transform((text) => /^(true|1)$/i.test(text));

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected ${durationHint}, got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** An http(s) URL; its value is never repeated in a message since it may carry a secret. */
function httpUrl(what: string, allowCredentials: boolean) {
  return z.string().superRefine((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected an http(s) URL of ${what}` });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `expected an http(s) URL of ${what}` });
    } else if (!allowCredentials && (url.username || url.password)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'expected a URL without credentials; set PROMETHEUS_BEARER_TOKEN or PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD',
      });
    }
  });
}

/** `{"<name>": "<url>", ...}`: the webhooks gates may name; never repeated in a message. */
const gateWebhooks = z.string().transform((text, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object of gate names to URLs' });
    return z.NEVER;
  }
  const result = z
    .record(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/), z.url({ protocol: /^https?$/ }))
    .safeParse(parsed);
  if (!result.success) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a JSON object of gate names (DNS labels) to http(s) URLs',
    });
    return z.NEVER;
  }
  return result.data;
});

const existingFile = z.string().superRefine((path, ctx) => {
  if (!existsSync(path)) ctx.addIssue({ code: 'custom', message: `file not found: ${path}` });
  else if (!statSync(path).isFile()) {
    ctx.addIssue({ code: 'custom', message: `expected a file, got a folder: ${path}` });
  }
});

const writableFilePath = z.string().superRefine((path, ctx) => {
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) {
    ctx.addIssue({ code: 'custom', message: `the folder ${folder} does not exist` });
  } else if (existsSync(path) && statSync(path).isDirectory()) {
    ctx.addIssue({ code: 'custom', message: `expected a file, got a folder: ${path}` });
  }
});

const secret = z.string();

const envSchema = z.object({
  CHANGECTL_TASK_QUEUE: optional(
    z.string().regex(/^\S+$/, {
      error: (issue) =>
        `expected a task queue name without spaces, got ${JSON.stringify(issue.input)}`,
    }),
  ),
  KUBECONFIG: optional(
    z.string().superRefine((list, ctx) => {
      for (const path of list.split(':').filter(Boolean)) {
        if (!existsSync(path)) ctx.addIssue({ code: 'custom', message: `file not found: ${path}` });
      }
    }),
  ),
  CHANGECTL_KUBE_CONTEXT: optional(z.string()),
  CHANGECTL_KUBE_IN_CLUSTER: optional(flag),
  PROMETHEUS_URL: required(httpUrl('the Prometheus server', false), 'the Prometheus server URL'),
  PROMETHEUS_BEARER_TOKEN: optional(secret),
  PROMETHEUS_USERNAME: optional(z.string()),
  PROMETHEUS_PASSWORD: optional(secret),
  PROMETHEUS_TIMEOUT: optional(duration),
  CHANGECTL_POLICY: required(existingFile, 'the path of the policy file'),
  CHANGECTL_NOTIFY_LOG: optional(flag),
  CHANGECTL_NOTIFY_WEBHOOK_URL: optional(httpUrl('a webhook taking Slack-style JSON', true)),
  CHANGECTL_NOTIFY_FILE: optional(writableFilePath),
  CHANGECTL_GATE_WEBHOOKS: optional(gateWebhooks),
  CHANGECTL_VELERO_NAMESPACE: optional(
    z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
      error: (issue) => `expected a Kubernetes namespace name, got ${JSON.stringify(issue.input)}`,
    }),
  ),
  NODE_ENV: optional(z.string()),
  CHANGECTL_WORKFLOW_BUNDLE: optional(existingFile),
});
type RawEnv = Record<keyof typeof envSchema.shape, string | undefined>;

/**
 * Rules between variables. They read the raw values so that they are reported even when a
 * single variable is invalid too (zod skips object refinements once a field has failed).
 */
function crossVariableIssues(raw: RawEnv): EnvIssue[] {
  const issues: EnvIssue[] = [];
  const set = (value: string | undefined): value is string => unsetIfEmpty(value) !== undefined;
  const inCluster = /^(true|1)$/i.test(raw.CHANGECTL_KUBE_IN_CLUSTER ?? '');
  if (inCluster && set(raw.KUBECONFIG)) {
    issues.push({
      variable: 'CHANGECTL_KUBE_IN_CLUSTER',
      message: 'in-cluster credentials and KUBECONFIG exclude each other; unset one',
    });
  }
  if (inCluster && set(raw.CHANGECTL_KUBE_CONTEXT)) {
    issues.push({
      variable: 'CHANGECTL_KUBE_CONTEXT',
      message: 'a context applies to a kubeconfig, not to in-cluster credentials',
    });
  }
  if (set(raw.PROMETHEUS_BEARER_TOKEN) && set(raw.PROMETHEUS_USERNAME)) {
    issues.push({
      variable: 'PROMETHEUS_BEARER_TOKEN',
      message:
        'set either PROMETHEUS_BEARER_TOKEN or PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD, not both',
    });
  }
  if (set(raw.PROMETHEUS_USERNAME) && !set(raw.PROMETHEUS_PASSWORD)) {
    issues.push({
      variable: 'PROMETHEUS_PASSWORD',
      message: 'required when PROMETHEUS_USERNAME is set',
    });
  }
  if (set(raw.PROMETHEUS_PASSWORD) && !set(raw.PROMETHEUS_USERNAME)) {
    issues.push({
      variable: 'PROMETHEUS_USERNAME',
      message: 'required when PROMETHEUS_PASSWORD is set',
    });
  }
  if (raw.NODE_ENV === 'production' && !set(raw.CHANGECTL_WORKFLOW_BUNDLE)) {
    issues.push({
      variable: 'CHANGECTL_WORKFLOW_BUNDLE',
      message:
        "required when NODE_ENV=production: the path of the bundle 'npm run build:workflows' writes",
    });
  }
  return issues;
}

/** Only the variables the schema names; others in the environment are none of its business. */
function pick(env: NodeJS.ProcessEnv): RawEnv {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) picked[key] = env[key];
  return picked as RawEnv;
}

/**
 * The worker's configuration from its environment, validated once at start. Throws a
 * WorkerConfigError naming every bad variable; secrets are never repeated in it.
 */
export function parseWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const issues: EnvIssue[] = [];
  let temporal: ConnectionOptions | undefined;
  try {
    temporal = loadConnectionOptions({ env });
  } catch (err) {
    if (!(err instanceof ConnectionConfigError)) throw err;
    issues.push(...err.issues);
  }
  const raw = pick(env);
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      issues.push({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message });
    }
  }
  issues.push(...crossVariableIssues(raw));
  if (!parsed.success || !temporal || issues.length > 0) throw new WorkerConfigError(issues);

  const e = parsed.data;
  const prometheusUrl = e.PROMETHEUS_URL;
  const policyPath = e.CHANGECTL_POLICY;

  let auth: PrometheusAuth | undefined;
  if (e.PROMETHEUS_BEARER_TOKEN !== undefined)
    auth = { kind: 'bearer', token: e.PROMETHEUS_BEARER_TOKEN };
  else if (e.PROMETHEUS_USERNAME !== undefined && e.PROMETHEUS_PASSWORD !== undefined) {
    auth = { kind: 'basic', username: e.PROMETHEUS_USERNAME, password: e.PROMETHEUS_PASSWORD };
  }

  const config: WorkerConfig = {
    temporal,
    taskQueue: e.CHANGECTL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    kube: { inCluster: e.CHANGECTL_KUBE_IN_CLUSTER ?? false },
    prometheus: {
      url: prometheusUrl.replace(/\/+$/, ''),
      timeoutMs: e.PROMETHEUS_TIMEOUT ?? DEFAULT_PROMETHEUS_TIMEOUT_MS,
      ...(auth ? { auth } : {}),
    },
    notifications: { log: e.CHANGECTL_NOTIFY_LOG ?? true },
    gates: e.CHANGECTL_GATE_WEBHOOKS ?? {},
    policyPath: resolve(policyPath),
    veleroNamespace: e.CHANGECTL_VELERO_NAMESPACE ?? DEFAULT_VELERO_NAMESPACE,
    production: e.NODE_ENV === 'production',
  };
  if (e.KUBECONFIG !== undefined) config.kube.kubeconfigPath = e.KUBECONFIG;
  if (e.CHANGECTL_KUBE_CONTEXT !== undefined) config.kube.context = e.CHANGECTL_KUBE_CONTEXT;
  if (e.CHANGECTL_NOTIFY_WEBHOOK_URL !== undefined) {
    config.notifications.webhookUrl = e.CHANGECTL_NOTIFY_WEBHOOK_URL;
  }
  if (e.CHANGECTL_NOTIFY_FILE !== undefined) {
    config.notifications.file = resolve(e.CHANGECTL_NOTIFY_FILE);
  }
  if (e.CHANGECTL_WORKFLOW_BUNDLE !== undefined) {
    config.workflowBundlePath = resolve(e.CHANGECTL_WORKFLOW_BUNDLE);
  }
  return config;
}

/** One line for the startup log: where everything goes, with every secret left out. */
export function describeConfig(config: WorkerConfig): string {
  const { kube, prometheus, notifications } = config;
  const kubeSource = kube.inCluster
    ? 'in-cluster'
    : `kubeconfig=${kube.kubeconfigPath ?? '(default)'}${kube.context ? ` context=${kube.context}` : ''}`;
  const prometheusAuth = !prometheus.auth
    ? 'none'
    : prometheus.auth.kind === 'bearer'
      ? 'bearer'
      : `basic(${prometheus.auth.username})`;
  const sinks = [
    notifications.log ? 'log' : undefined,
    notifications.webhookUrl ? 'webhook' : undefined,
    notifications.file ? `file:${notifications.file}` : undefined,
  ].filter(Boolean);
  return [
    describeConnection(config.temporal),
    `taskQueue=${config.taskQueue}`,
    kubeSource,
    `velero=${config.veleroNamespace}`,
    `prometheus=${prometheus.url}`,
    `prometheusAuth=${prometheusAuth}`,
    `prometheusTimeout=${formatDuration(prometheus.timeoutMs)}`,
    `policy=${config.policyPath}`,
    `notify=${sinks.length > 0 ? sinks.join(',') : 'none'}`,
    `workflows=${config.workflowBundlePath ? `bundle:${config.workflowBundlePath}` : 'source'}`,
  ].join(' ');
}
