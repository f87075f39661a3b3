import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AppsV1Api } from '@kubernetes/client-node';
import { startLocalCluster } from '../../src/stack/cluster/index';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe('local cluster', () => {
  void it('starts seeded, on loopback with a token, and stop leaves no process or file', async () => {
    const cluster = await startLocalCluster({ podReadyDelayMs: 200 });
    const pids = cluster.pids();
    try {
      assert.match(cluster.server, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(pids.length, 5, 'etcd, kube-apiserver, controller-manager, scheduler, KWOK');
      assert.ok(pids.every(alive));
      const apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
      const { items } = await apps.listNamespacedDeployment({ namespace: 'production' });
      assert.deepEqual(items.map((d) => [d.metadata?.name, d.status?.readyReplicas]).sort(), [
        ['api-gateway', 3],
        ['auth-service', 2],
      ]);
      const anonymous = await fetch(`${cluster.server}/api`).catch((e: unknown) => e);
      assert.ok(anonymous instanceof Error, 'the serving certificate is not publicly trusted');
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(pids.filter(alive), [], 'every server process has exited');
    assert.equal(existsSync(cluster.dir), false, 'the run folder is removed');
  });
});
