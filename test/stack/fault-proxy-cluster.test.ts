/**
 * The fault proxy in front of the real API server: the client library and the real kubectl work
 * through it unchanged (requests, server-side apply, watches), and its faults reach them as the
 * API server's own would.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../activities/kubernetes/kubeconfig';
import { startLocalCluster, type LocalCluster } from '../../src/stack/cluster/index';
import { startFaultProxy, type FaultProxy } from '../../src/stack/fault-proxy';

const run = promisify(execFile);

let cluster: LocalCluster;
let proxy: FaultProxy;

async function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  const running = run('kubectl', [`--kubeconfig=${proxy.kubeconfigPath}`, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: cluster.dir },
  });
  running.child.stdin?.end(input ?? '');
  try {
    const { stdout } = await running;
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

void describe('fault proxy in front of the real API server', () => {
  before(async () => {
    cluster = await startLocalCluster({ seed: false });
    proxy = await startFaultProxy({ kubeconfigPath: cluster.kubeconfigPath, namespace: 'proxied' });
  });

  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  void it('passes the client, watches and kubectl through unchanged', async () => {
    const kubeConfig = loadKubeConfig({ path: proxy.kubeconfigPath });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'proxied' } } });

    // A watch through the proxy sees events as they happen.
    const events: string[] = [];
    const seen = (count: number) =>
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (events.length >= count) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
    const watch = await new Watch(kubeConfig).watch(
      '/api/v1/namespaces/proxied/configmaps',
      { fieldSelector: 'metadata.name=settings' },
      (type: string, object: V1ConfigMap) => events.push(`${type} ${object.data?.mode ?? ''}`),
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({
        namespace: 'proxied',
        body: { metadata: { name: 'settings' }, data: { mode: 'one' } },
      });
      await seen(1);
      // kubectl (protobuf, discovery, server-side apply) through the same proxy.
      const manifest = JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'proxied' },
        data: { mode: 'two' },
      });
      const applied = await kubectl(
        ['apply', '--server-side', '--force-conflicts', '-f', '-'],
        manifest,
      );
      assert.deepEqual(applied, { code: 0, out: 'configmap/settings serverside-applied\n' });
      await seen(2);
      assert.deepEqual(events.slice(0, 2), ['ADDED one', 'MODIFIED two']);
    } finally {
      (watch as { abort(): void }).abort();
    }

    const got = await kubectl(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.mode}']);
    assert.deepEqual(got, { code: 0, out: 'two' });
    const namespaces = await kubectl(['get', 'namespaces', '-o', 'name']);
    assert.match(namespaces.out, /namespace\/proxied/);
    assert.ok(proxy.counts().forwarded > 5);
    assert.equal(proxy.counts().serverErrors, 0);
  });

  void it('hands its faults to kubectl as the API server’s own answers', async () => {
    proxy.setFaults({ conflictOnUpdate: 1 });
    const conflict = await kubectl(['label', 'namespace', 'proxied', 'x=y', '--overwrite']);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.out, /Operation cannot be fulfilled on namespaces "proxied"/);
    // Reads still work while updates conflict.
    assert.equal((await kubectl(['get', 'namespace', 'proxied'])).code, 0);

    proxy.setFaults({ conflictOnUpdate: 0, serverErrorRate: 1 });
    const unavailable = await kubectl(['get', 'configmap', 'settings', '--request-timeout=5s']);
    assert.notEqual(unavailable.code, 0);
    assert.match(unavailable.out, /unable to handle the request/);

    proxy.setFaults({ serverErrorRate: 0 });
    assert.equal((await kubectl(['label', 'namespace', 'proxied', 'x=y'])).code, 0);
  });
});
