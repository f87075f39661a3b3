import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, it, type TestContext } from 'node:test';
import { KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { createCheckMeasurer } from '../../activities/kubernetes/checks';
import type { CheckSpec } from '../../src/core/change/request';
import type { CheckWatchInput, Measurement } from '../../src/core/contracts';
import { eventually } from '../helpers/cluster';
import { uniqueChangeId } from '../helpers/temporal';
import { namespaceFor, runAsActivity } from './kubernetes-harness';

function checkInput(
  namespace: string,
  checks: CheckSpec[],
  overrides: Partial<CheckWatchInput> = {},
): CheckWatchInput {
  const startedAt = Date.now();
  return {
    changeId: uniqueChangeId('CHG'),
    namespace,
    deployments: ['api-gateway'],
    checks,
    since: 0,
    intervalMs: 500,
    startedAt,
    endsAt: startedAt + 2_000,
    failureLimit: 0,
    inconclusiveLimit: 0,
    consecutiveErrorLimit: 4,
    ...overrides,
  };
}

const at = () => new Date().toISOString();

async function measureOne(kubeConfig: KubeConfig, input: CheckWatchInput): Promise<Measurement> {
  const [measured] = await createCheckMeasurer(kubeConfig).measureRound(input, at());
  assert.ok(measured);
  return measured;
}

/** An HTTP server the test answers with `status`, on `host`; closed when the test ends. */
async function statusServer(
  t: TestContext,
  host: string,
): Promise<{ server: Server; port: number; answer: (status: number) => void; seen: string[] }> {
  let status = 200;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status).end(status < 300 ? 'ok' : 'unavailable');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    answer: (next) => {
      status = next;
    },
    seen,
  };
}

void describe('post-change checks on the real control plane', () => {
  void it('podsReady passes at desired and fails while a rollout leaves pods unready', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const input = checkInput(namespace, [{ name: 'pods-ready', podsReady: {} }]);
    const ready = await measureOne(kubeConfig, input);
    assert.deepEqual(
      { status: ready.status, value: ready.value, message: ready.message },
      { status: 'passed', value: 3, message: 'api-gateway 3/3 ready' },
    );
    // An image that never turns Ready: the rollout takes one old pod down and stalls.
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'api-gateway',
        body: [
          {
            op: 'replace',
            path: '/spec/template/spec/containers/0/image',
            value: 'registry.example.com/api-gateway:2.5.0-broken',
          },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const short = await eventually('a pod short of desired', async () => {
      const m = await measureOne(kubeConfig, input);
      return m.status === 'failed' ? m : undefined;
    });
    assert.match(short.message ?? '', /^api-gateway [0-3]\/3 ready, [1-9] not ready$/);
    assert.equal(short.threshold, 3);
  });

  void it('restarts counts the rolled-out pods’ restarts since the rollout', async (t) => {
    const { namespace, kubeConfig, core } = await namespaceFor(t);
    const check: CheckSpec = { name: 'restarts', restarts: { failWhen: '> 0' } };
    const input = checkInput(namespace, [check]);
    const none = await measureOne(kubeConfig, input);
    assert.equal(none.status, 'passed', none.message);
    assert.equal(none.value, 0);
    assert.match(none.message ?? '', /restarts in 3 pods$/);

    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=api-gateway' });
    const pod = pods.items[0];
    assert.ok(pod?.status?.containerStatuses?.[0]);
    const statuses = pod.status.containerStatuses.map((c) => ({ ...c, restartCount: 2 }));
    await core.patchNamespacedPodStatus(
      {
        namespace,
        name: pod.metadata?.name ?? '',
        body: { status: { containerStatuses: statuses } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const restarted = await eventually('the restarts to show', async () => {
      const m = await measureOne(kubeConfig, input);
      return m.value === 2 ? m : undefined;
    });
    assert.equal(restarted.status, 'failed');
    assert.match(restarted.message ?? '', /^2 > 0: restarts in 3 pods$/);
    // Pods older than the rollout count only restarts after it: none here.
    const later = await measureOne(kubeConfig, { ...input, since: Date.now() });
    assert.equal(later.value, 0);
  });

  void it('http checks a URL and a Service port through the API server’s service proxy', async (t) => {
    const { namespace, kubeConfig, core } = await namespaceFor(t);
    const direct = await statusServer(t, '127.0.0.1');
    const url = `http://127.0.0.1:${direct.port}/healthz`;
    const urlCheck: CheckSpec = {
      name: 'health',
      http: { url, path: '/', expectStatus: 200, timeout: '2s' },
    };
    const passed = await measureOne(kubeConfig, checkInput(namespace, [urlCheck]));
    assert.deepEqual(
      [passed.status, passed.value, passed.message],
      ['passed', 200, `${url} answered 200`],
    );
    direct.answer(503);
    const failed = await measureOne(kubeConfig, checkInput(namespace, [urlCheck]));
    assert.deepEqual(
      [failed.status, failed.message],
      ['failed', `${url} answered 503, expected 200: unavailable`],
    );
    await new Promise<void>((resolve) => direct.server.close(() => resolve()));
    const unreachable = await measureOne(kubeConfig, checkInput(namespace, [urlCheck]));
    assert.equal(unreachable.status, 'error');
    assert.match(unreachable.message ?? '', /ECONNREFUSED/);

    // The API server proxies only to addresses that are not loopback: the machine's own.
    const host = Object.values(networkInterfaces())
      .flat()
      .find((i) => i?.family === 'IPv4' && !i.internal)?.address;
    assert.ok(host, 'the service proxy needs a non-loopback IPv4 address on this machine');
    const backend = await statusServer(t, host);
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'health-probe' },
        spec: { ports: [{ name: 'http', port: 80, targetPort: backend.port }] },
      },
    });
    // The API server proxies only to endpoints that are pods with that address: a KWOK pod
    // takes the backend's, and a selector-less Service's endpoints point at it.
    const [pod] = (await core.listNamespacedPod({ namespace, labelSelector: 'app=api-gateway' }))
      .items;
    const podName = pod?.metadata?.name ?? '';
    await core.patchNamespacedPodStatus(
      { namespace, name: podName, body: { status: { podIP: host, podIPs: [{ ip: host }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.createNamespacedEndpoints({
      namespace,
      body: {
        metadata: { name: 'health-probe' },
        subsets: [
          {
            addresses: [{ ip: host, targetRef: { kind: 'Pod', name: podName, namespace } }],
            ports: [{ name: 'http', port: backend.port }],
          },
        ],
      },
    });
    const serviceCheck: CheckSpec = {
      name: 'health',
      http: {
        service: 'health-probe',
        port: 80,
        path: '/healthz',
        expectStatus: 200,
        timeout: '2s',
      },
    };
    let last: Measurement | undefined;
    const proxied = await eventually(
      'the service proxy to reach the backend',
      async () => {
        last = await measureOne(kubeConfig, checkInput(namespace, [serviceCheck]));
        return last.status === 'passed' ? last : undefined;
      },
      10_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last: ${JSON.stringify(last)}`);
    });
    assert.equal(proxied.message, 'service health-probe:80/healthz answered 200');
    assert.ok(backend.seen.includes('/healthz'), 'the request reached the backend by its path');
    backend.answer(500);
    const down = await measureOne(kubeConfig, checkInput(namespace, [serviceCheck]));
    assert.deepEqual([down.status, down.value], ['failed', 500]);
  });

  void it('watchChecks measures every interval to the end of the watch', async (t) => {
    const { namespace, kubeConfig } = await namespaceFor(t);
    const k8s = createKubernetesActivities(kubeConfig, { pollIntervalMs: 20 });
    const input = checkInput(namespace, [
      { name: 'pods-ready', podsReady: {} },
      { name: 'restarts', restarts: { failWhen: '> 0' } },
    ]);
    const { result } = await runAsActivity(() => k8s.watchChecks(input));
    assert.equal(result.outcome, 'passed', result.reason);
    assert.ok((result.state.tallies['pods-ready']?.measured ?? 0) >= 2);
    assert.equal(result.state.tallies['pods-ready']?.failed, 0);
    assert.equal(result.state.counts.passed, result.state.measurementsTaken);
    assert.match(result.reason, /pods-ready 3 passed, restarts 0 passed/);
  });
});

void describe('post-change checks: logs', () => {
  /** A stand-in API server with one deployment, its two pods and their logs. */
  async function logsServer(t: TestContext, logs: Record<string, string>) {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${url.pathname}${url.search}`);
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/apis/apps/v1/namespaces/prod/deployments/api-gateway') {
        return json({
          metadata: { name: 'api-gateway' },
          spec: { replicas: 2, selector: { matchLabels: { app: 'api-gateway' } } },
        });
      }
      if (url.pathname === '/api/v1/namespaces/prod/pods') {
        return json({
          items: Object.keys(logs).map((name) => ({
            metadata: { name },
            spec: { containers: [{ name: 'api-gateway' }] },
          })),
        });
      }
      const log = /^\/api\/v1\/namespaces\/prod\/pods\/([^/]+)\/log$/.exec(url.pathname);
      if (log?.[1] !== undefined && logs[log[1]] !== undefined) {
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(logs[log[1]]);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          // Plain HTTP on loopback: the client wants TLS verification marked skipped.
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return { kubeConfig, seen };
  }

  void it('counts lines matching the pattern in every pod since the rollout', async (t) => {
    const { kubeConfig, seen } = await logsServer(t, {
      'api-gateway-a': 'GET / 200\nERROR upstream reset\nGET / 200\n',
      'api-gateway-b': 'ERROR timeout\npanic: nil map\nGET / 200',
    });
    const check: CheckSpec = {
      name: 'error-logs',
      logs: { pattern: 'ERROR|panic', failWhen: '> 2' },
    };
    const since = Date.now() - 90_000;
    const measured = await measureOne(kubeConfig, checkInput('prod', [check], { since }));
    assert.equal(measured.value, 3);
    assert.equal(measured.status, 'failed');
    assert.equal(measured.message, '3 > 2: lines matching /ERROR|panic/ in 2 pods');
    const logRequests = seen.filter((s) => s.includes('/log'));
    assert.equal(logRequests.length, 2);
    for (const request of logRequests) {
      assert.match(request, /container=api-gateway/);
      const seconds = Number(/sinceSeconds=(\d+)/.exec(request)?.[1]);
      assert.ok(seconds >= 90 && seconds < 120, `logs since the rollout, not ${seconds} s`);
    }
    const calm = await measureOne(
      kubeConfig,
      checkInput('prod', [{ name: 'x', logs: { pattern: 'FATAL', failWhen: '> 0' } }], { since }),
    );
    assert.deepEqual([calm.status, calm.value], ['passed', 0]);
  });
});
