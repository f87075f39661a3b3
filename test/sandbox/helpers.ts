import type { TestContext } from 'node:test';
import type { V1Deployment, V1Status } from '@kubernetes/client-node';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/stack/sandbox/index';

/** A sandbox for one test, closed when the test ends; pods and backups are quick. */
export async function sandboxFor(t: TestContext, options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ podReadyAfterMs: 30, veleroBackupMs: 100, ...options });
  t.after(() => sandbox.close());
  return sandbox;
}

export interface Answer<T> {
  status: number;
  contentType: string;
  /** The parsed JSON body, taken to be a T unchecked: the tests' assertions check it. */
  body: T;
  text: string;
}

/** One HTTP request to the sandbox; JSON bodies are sent and parsed. */
export async function call<T = V1Status>(
  sandbox: Sandbox,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer<T>> {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    contentType: type,
    body: (type.startsWith('application/json') && text ? JSON.parse(text) : undefined) as T,
    text,
  };
}

export const strategicMerge = 'application/strategic-merge-patch+json';
export const mergePatch = 'application/merge-patch+json';
export const jsonPatch = 'application/json-patch+json';

export const deploymentPath = (namespace: string, name = '') =>
  `/apis/apps/v1/namespaces/${namespace}/deployments${name ? `/${name}` : ''}`;

/** Polls until `check` returns a value other than undefined, or fails naming what it waited for. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function setImage(sandbox: Sandbox, name: string, image: string, container = name) {
  return call<V1Deployment & V1Status>(
    sandbox,
    'PATCH',
    deploymentPath('production', name),
    { spec: { template: { spec: { containers: [{ name: container, image }] } } } },
    strategicMerge,
  );
}

/** Waits until the deployment's rollout is complete, as `kubectl rollout status` judges it. */
export function rolledOut(sandbox: Sandbox, name: string, namespace = 'production') {
  return eventually(`${namespace}/${name} to finish rolling out`, async () => {
    const { body: d } = await call<V1Deployment>(sandbox, 'GET', deploymentPath(namespace, name));
    const s = d.status ?? {};
    const done =
      (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0) &&
      (s.updatedReplicas ?? 0) === d.spec?.replicas &&
      (s.replicas ?? 0) === (s.updatedReplicas ?? 0) &&
      (s.availableReplicas ?? 0) === (s.updatedReplicas ?? 0);
    return done ? d : undefined;
  });
}
