import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** The kubeconfig could not be loaded; the message names the file or context at fault. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

export interface KubeConfigOptions {
  /** A kubeconfig file; when absent, $KUBECONFIG, then ~/.kube/config. */
  path?: string;
  /** The context to use instead of the file's current-context. */
  context?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST and the mounted token). */
  inCluster?: boolean;
}

const serviceAccountToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads the cluster credentials the worker talks to Kubernetes with. Fails at once, naming the
 * file or context, rather than falling back to localhost:8080 as the client library does.
 */
export function loadKubeConfig(opts: KubeConfigOptions): KubeConfig {
  const kubeConfig = new KubeConfig();
  let source: string;
  if (opts.inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new KubeConfigError(
        'in-cluster config requested, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (is the worker running in a pod?)',
      );
    }
    if (!existsSync(serviceAccountToken)) {
      throw new KubeConfigError(
        `in-cluster config requested, but the service account token ${serviceAccountToken} is not mounted`,
      );
    }
    kubeConfig.loadFromCluster();
    source = 'in-cluster config';
  } else {
    const files = opts.path ? [opts.path] : defaultKubeConfigFiles();
    const present = files.filter((file) => existsSync(file));
    const [first, ...rest] = present;
    if (first === undefined) {
      throw new KubeConfigError(
        opts.path
          ? `kubeconfig file not found: ${opts.path}`
          : `no kubeconfig found (looked for ${files.join(', ') || '$KUBECONFIG'}); pass a kubeconfig path or use in-cluster config`,
      );
    }
    source = present.join(', ');
    try {
      kubeConfig.loadFromFile(first);
      for (const file of rest) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kubeConfig.mergeConfig(more, true);
      }
    } catch (error) {
      throw new KubeConfigError(
        `cannot read kubeconfig ${source}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  if (opts.context !== undefined) {
    if (!kubeConfig.getContextObject(opts.context)) {
      const known = kubeConfig.getContexts().map((c) => c.name);
      throw new KubeConfigError(
        `context '${opts.context}' not found in ${source} (contexts: ${known.join(', ') || 'none'})`,
      );
    }
    kubeConfig.setCurrentContext(opts.context);
  }
  if (!kubeConfig.getCurrentContext()) {
    throw new KubeConfigError(`${source} sets no current-context; name one with a context option`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(
      `context '${kubeConfig.getCurrentContext()}' in ${source} does not name a known cluster`,
    );
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // The client refuses plain HTTP on every request unless the cluster opts out of TLS checks.
    throw new KubeConfigError(
      `cluster '${cluster.name}' in ${source} is plain HTTP (${cluster.server}); set insecure-skip-tls-verify: true on it to allow that`,
    );
  }
  return kubeConfig;
}

function defaultKubeConfigFiles(): string[] {
  const fromEnv = process.env.KUBECONFIG;
  if (fromEnv) return fromEnv.split(':').filter((file) => file.length > 0);
  return [join(homedir(), '.kube', 'config')];
}
