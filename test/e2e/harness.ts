import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { DevStack } from '../../src/stack/devstack';
import { projectRoot } from '../../src/stack/tools';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment a user of the dev stack has: its settings, and none of the caller's. */
export function cliEnv(stackEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(TEMPORAL_|CHANGECTL_|KUBECONFIG$|PROMETHEUS_)/.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, ...stackEnv, NO_COLOR: '1' };
}

/** Runs the real `bin/changectl.js` as a user would, and reports how it exited. */
export function changectl(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['bin/changectl.js', ...args],
      { cwd: projectRoot, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`changectl ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

/** Describes a CLI run for assertion messages. */
export function shown(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/**
 * The environment of a person acting with the key the dev stack made for them (the policy's
 * people have no keys of their own; the stack writes a copy that lists the generated ones).
 */
export function actingAs(
  stack: DevStack,
  env: Record<string, string>,
  person: string,
): Record<string, string> {
  const key = stack.keys[person];
  if (!key) throw new Error(`the dev stack made no key for ${person}`);
  return { ...env, CHANGECTL_KEY: key.path };
}

/**
 * A policy without windows or freezes, so changes run as soon as they are approved. Its people
 * have no keys: the dev stack gives each one, as `npm run dev` does.
 */
export const windowFreePolicy = {
  apiVersion: 'changectl/v1',
  kind: 'Policy',
  metadata: { name: 'e2e-window-free' },
  spec: {
    people: {
      alice: { teams: ['platform'] },
      bob: { teams: ['sre'] },
      carol: { teams: ['sre'], incidentCommander: true },
      dan: { teams: ['platform'] },
    },
    environments: {
      production: { namespaces: ['production'] },
      staging: { namespaces: ['staging'] },
    },
    standardChanges: {
      'staging-config': {
        environments: ['staging'],
        services: ['auth-service'],
        changes: { kinds: ['ConfigMap'] },
        maxRisk: 'low',
      },
    },
    approvals: {
      environments: { '*': { minApprovers: 1 } },
      services: { 'api-gateway': { teams: ['sre'] } },
    },
    verification: { alertSelector: '' },
    // The emergency watch is a minimum (10m by default); the tests' changes watch for seconds.
    emergency: { watch: { watch: '5s', interval: '1s' } },
  },
};

export async function writePolicy(dir: string): Promise<string> {
  const path = join(dir, 'policy.yaml');
  await writeFile(path, stringify(windowFreePolicy));
  return path;
}

export interface RequestOptions {
  id: string;
  service: 'api-gateway' | 'auth-service';
  /** The image tag; `-erroring` makes the simulator answer about 8% with 5xx. */
  tag: string;
  type?: 'normal' | 'emergency' | 'standard';
  /** The policy template a standard change names. */
  standard?: string;
  watch?: string;
  requestedBy?: string;
  environment?: string;
  namespace?: string;
}

/** A rolling change to a seeded deployment of the local cluster, watched for its error rate. */
export function changeRequest(o: RequestOptions): Record<string, unknown> {
  const errorRate =
    `sum(rate(http_requests_total{service="${o.service}",code=~"5.."}[10s])) / ` +
    `sum(rate(http_requests_total{service="${o.service}"}[10s]))`;
  return {
    apiVersion: 'changectl/v1',
    kind: 'ChangeRequest',
    metadata: {
      id: o.id,
      title: `Upgrade ${o.service} to ${o.tag}`,
      requestedBy: o.requestedBy ?? 'alice',
    },
    spec: {
      type: o.type ?? 'normal',
      ...(o.type === 'emergency' ? { incident: 'INC-42' } : {}),
      ...(o.standard ? { standard: o.standard } : {}),
      environment: o.environment ?? 'production',
      namespace: o.namespace ?? 'production',
      services: [o.service],
      description: `${o.service} ${o.tag}`,
      impact: 'pods restart one by one',
      risk: 'low',
      rollout: {
        strategy: 'rolling',
        target: { kind: 'Deployment', name: o.service },
        image: `registry.example.com/${o.service}:${o.tag}`,
        timeout: '1m',
      },
      verification: {
        watch: o.watch ?? '5s',
        interval: '1s',
        failureLimit: 2,
        inconclusiveLimit: 2,
        metrics: [{ name: 'error-rate', query: errorRate, failWhen: '> 0.01' }],
      },
    },
  };
}

export async function writeRequest(dir: string, request: Record<string, unknown>): Promise<string> {
  const metadata = request.metadata as { id: string };
  const path = join(dir, `${metadata.id}.yaml`);
  await writeFile(path, stringify(request));
  return path;
}
