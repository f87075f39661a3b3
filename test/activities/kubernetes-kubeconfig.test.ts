import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { KubeConfigError, loadKubeConfig } from '../../activities/kubernetes/kubeconfig';

function kubeconfig(clusters: Record<string, Record<string, unknown>>, current: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: Object.entries(clusters).map(([name, cluster]) => ({ name, cluster })),
    users: [{ name: 'alice', user: { token: 'secret' } }],
    contexts: Object.keys(clusters).map((name) => ({
      name,
      context: { cluster: name, user: 'alice', namespace: 'production' },
    })),
    'current-context': current,
  });
}

void describe('loadKubeConfig', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-kubeconfig-test-'));
    file = join(dir, 'config');
    await writeFile(
      file,
      kubeconfig(
        {
          staging: { server: 'https://staging.k8s.example.com' },
          prod: { server: 'https://prod.k8s.example.com' },
          proxy: { server: 'http://127.0.0.1:8001' },
        },
        'staging',
      ),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('loads a file and switches to the named context', () => {
    const config = loadKubeConfig({ path: file, context: 'prod' });
    assert.equal(config.getCurrentContext(), 'prod');
    assert.equal(config.getCurrentCluster()?.server, 'https://prod.k8s.example.com');
    assert.equal(loadKubeConfig({ path: file }).getCurrentContext(), 'staging');
  });

  void it('names the file that is missing', () => {
    const missing = join(dir, 'nope');
    assert.throws(
      () => loadKubeConfig({ path: missing }),
      (error: unknown) =>
        error instanceof KubeConfigError &&
        error.message === `kubeconfig file not found: ${missing}`,
    );
  });

  void it('names the context that is missing, the file, and the contexts there are', () => {
    assert.throws(
      () => loadKubeConfig({ path: file, context: 'production' }),
      (error: unknown) =>
        error instanceof KubeConfigError &&
        error.message ===
          `context 'production' not found in ${file} (contexts: staging, prod, proxy)`,
    );
  });

  void it('refuses a plain-HTTP cluster unless it opts out of TLS checks', async () => {
    assert.throws(
      () => loadKubeConfig({ path: file, context: 'proxy' }),
      /cluster 'proxy' .* is plain HTTP \(http:\/\/127.0.0.1:8001\); set insecure-skip-tls-verify: true/,
    );
    const insecure = join(dir, 'insecure');
    await writeFile(
      insecure,
      kubeconfig(
        { proxy: { server: 'http://127.0.0.1:8001', 'insecure-skip-tls-verify': true } },
        'proxy',
      ),
    );
    assert.equal(
      loadKubeConfig({ path: insecure }).getCurrentCluster()?.server,
      'http://127.0.0.1:8001',
    );
  });

  void it('reads $KUBECONFIG when no file is named', (t) => {
    const previous = process.env.KUBECONFIG;
    t.after(() => {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
    });
    process.env.KUBECONFIG = file;
    assert.equal(loadKubeConfig({}).getCurrentContext(), 'staging');
    process.env.KUBECONFIG = join(dir, 'absent');
    assert.throws(() => loadKubeConfig({}), /no kubeconfig found \(looked for .*absent\)/);
  });

  void it('explains in-cluster config outside a pod', (t) => {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    t.after(() => {
      if (host !== undefined) process.env.KUBERNETES_SERVICE_HOST = host;
    });
    delete process.env.KUBERNETES_SERVICE_HOST;
    assert.throws(() => loadKubeConfig({ inCluster: true }), /KUBERNETES_SERVICE_HOST .* not set/);
  });
});
