/**
 * The application simulator: request traffic for the services running on the local cluster,
 * served as Prometheus metrics on 127.0.0.1. It watches the real Deployments, ReplicaSets and
 * Pods and shapes each service's traffic by the images its Ready pods run (`...-erroring` about
 * 8% 5xx, `...-slow` a p99 near 900 ms, anything else healthy), so Prometheus sees a bad rollout
 * and its rollback as they happen on the cluster. Counts are exact fractions of elapsed time, not
 * random draws.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AppsV1Api,
  CoreV1Api,
  makeInformer,
  type Informer,
  type ObjectCache,
  type KubeConfig,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
} from '@kubernetes/client-node';

/** Simulated requests per second each service receives. */
export const requestsPerSecond = 50;

export const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** How an image behaves under traffic: its share of 5xx answers and its latency distribution. */
export interface TrafficProfile {
  errorRatio: number;
  /** Share of requests at or under each of latencyBuckets. */
  cumulative: readonly number[];
  meanSeconds: number;
}

/** About 80 ms, p99 under 100 ms. */
const healthy: TrafficProfile = {
  errorRatio: 0.001,
  cumulative: [0, 0.001, 0.01, 0.2, 1, 1, 1, 1, 1, 1, 1],
  meanSeconds: 0.08,
};
/** histogram_quantile(0.99) interpolates to 0.9 s within the (0.5, 1] bucket. */
const slow: TrafficProfile = {
  errorRatio: 0.001,
  cumulative: [0, 0, 0.005, 0.02, 0.1, 0.5, 0.95, 1, 1, 1, 1],
  meanSeconds: 0.33,
};

/** The traffic an image's tag asks for: `-erroring` about 8% 5xx, `-slow` a p99 near 900 ms. */
export function profileOf(image: string): TrafficProfile {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tag = colon > slash ? image.slice(colon + 1) : '';
  if (tag.endsWith('-erroring')) return { ...healthy, errorRatio: 0.08 };
  if (tag.endsWith('-slow')) return slow;
  return healthy;
}

/** A pod's profile is its worst container's: the most errors, the slowest latency. */
function podProfile(p: V1Pod): TrafficProfile {
  const profiles = (p.spec?.containers ?? []).map((c) => profileOf(c.image ?? ''));
  const worstLatency = profiles.reduce((a, b) => (b.meanSeconds > a.meanSeconds ? b : a), healthy);
  const errorRatio = Math.max(healthy.errorRatio, ...profiles.map((x) => x.errorRatio));
  return { ...worstLatency, errorRatio };
}

function isReady(p: V1Pod): boolean {
  if (p.metadata?.deletionTimestamp) return false;
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

interface Series {
  namespace: string;
  service: string;
  ok: number;
  errors: number;
  buckets: number[];
  sum: number;
  count: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/** What the traffic is computed from: the cluster's objects, as the informers last saw them. */
export interface ClusterView {
  deployments(): readonly V1Deployment[];
  replicaSets(): readonly V1ReplicaSet[];
  pods(): readonly V1Pod[];
}

/**
 * Request traffic to each service, advanced from elapsed time and shaped by the images its ready
 * pods run (weighted by how many pods run each). A service is a pod's `app` label, else the name
 * of the Deployment that owns it, so canary and blue/green Deployments labelled `app=<service>`
 * count toward their service.
 */
export class TrafficModel {
  private readonly series = new Map<string, Series>();
  private last: number;

  constructor(
    private readonly view: ClusterView,
    now: number = Date.now(),
  ) {
    this.last = now;
  }

  private seriesFor(namespace: string, service: string): Series {
    const key = `${namespace}/${service}`;
    let s = this.series.get(key);
    if (!s) {
      s = {
        namespace,
        service,
        ok: 0,
        errors: 0,
        buckets: latencyBuckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    return s;
  }

  /** Serving pods per (namespace, service). */
  private servingPods(): Map<string, { namespace: string; service: string; pods: V1Pod[] }> {
    const rsOwner = new Map<string, string>();
    for (const rs of this.view.replicaSets()) {
      const owner = rs.metadata?.ownerReferences?.find(
        (r) => r.controller && r.kind === 'Deployment',
      );
      if (owner && rs.metadata?.uid) rsOwner.set(rs.metadata.uid, owner.name);
    }
    for (const d of this.view.deployments()) {
      const service = d.spec?.template.metadata?.labels?.app ?? d.metadata?.name ?? '';
      this.seriesFor(d.metadata?.namespace ?? '', service);
    }
    const out = new Map<string, { namespace: string; service: string; pods: V1Pod[] }>();
    for (const p of this.view.pods()) {
      if (!isReady(p)) continue;
      const rsUid = p.metadata?.ownerReferences?.find((r) => r.controller)?.uid ?? '';
      const service = p.metadata?.labels?.app ?? rsOwner.get(rsUid) ?? p.metadata?.name ?? '';
      const namespace = p.metadata?.namespace ?? '';
      const key = `${namespace}/${service}`;
      const entry = out.get(key) ?? { namespace, service, pods: [] };
      entry.pods.push(p);
      out.set(key, entry);
    }
    return out;
  }

  /** Counts the traffic since the last call, as served by the pods ready now. */
  advance(now: number = Date.now()): void {
    const seconds = Math.max(0, (now - this.last) / 1000);
    this.last = now;
    if (seconds === 0) return;
    for (const { namespace, service, pods: serving } of this.servingPods().values()) {
      const s = this.seriesFor(namespace, service);
      const perPod = (requestsPerSecond * seconds) / serving.length;
      for (const p of serving) {
        const profile = podProfile(p);
        const errors = perPod * profile.errorRatio;
        s.errors += errors;
        s.ok += perPod - errors;
        profile.cumulative.forEach((share, i) => {
          s.buckets[i] = (s.buckets[i] ?? 0) + perPod * share;
        });
        s.sum += perPod * profile.meanSeconds;
        s.count += perPod;
      }
    }
  }

  /** Prometheus text exposition of the traffic counters and histogram. */
  exposition(): string {
    const lines: string[] = [];
    const all = [...this.series.values()].sort((a, b) =>
      `${a.namespace}/${a.service}`.localeCompare(`${b.namespace}/${b.service}`),
    );
    lines.push('# HELP http_requests_total Requests served by each service, by status code.');
    lines.push('# TYPE http_requests_total counter');
    for (const s of all) {
      const labels = `service="${escapeLabel(s.service)}",namespace="${escapeLabel(s.namespace)}"`;
      lines.push(`http_requests_total{${labels},code="200"} ${Math.floor(s.ok)}`);
      lines.push(`http_requests_total{${labels},code="500"} ${Math.floor(s.errors)}`);
    }
    lines.push('# HELP http_request_duration_seconds Request latency of each service.');
    lines.push('# TYPE http_request_duration_seconds histogram');
    for (const s of all) {
      const labels = `service="${escapeLabel(s.service)}",namespace="${escapeLabel(s.namespace)}"`;
      latencyBuckets.forEach((le, i) => {
        lines.push(
          `http_request_duration_seconds_bucket{${labels},le="${le}"} ${Math.floor(s.buckets[i] ?? 0)}`,
        );
      });
      lines.push(
        `http_request_duration_seconds_bucket{${labels},le="+Inf"} ${Math.floor(s.count)}`,
      );
      lines.push(`http_request_duration_seconds_sum{${labels}} ${formatNumber(s.sum)}`);
      lines.push(`http_request_duration_seconds_count{${labels}} ${Math.floor(s.count)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

export interface Simulator {
  /** http://127.0.0.1:PORT/metrics */
  metricsUrl: string;
  /** Stops the watches and the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

/** How often the traffic is advanced between scrapes, so a pod's readiness counts when it changes. */
const tickMs = 250;

/** Watches the cluster behind kubeConfig and serves its services' traffic on /metrics. */
export async function startSimulator(
  kubeConfig: KubeConfig,
  options: { port?: number } = {},
): Promise<Simulator> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const informers: Informer<KubernetesObject>[] = [];
  const watch = <T extends KubernetesObject>(
    path: string,
    list: () => Promise<{ items: T[] }>,
  ): Informer<T> & ObjectCache<T> => {
    const informer = makeInformer<T>(kubeConfig, path, list as never);
    // A dropped watch (the API server restarting) is picked up again after a pause.
    informer.on('error', () => {
      setTimeout(() => {
        if (!stopped) informer.start().catch(() => undefined);
      }, 1_000);
    });
    informers.push(informer as unknown as Informer<KubernetesObject>);
    return informer;
  };
  let stopped = false;
  const deployments = watch<V1Deployment>('/apis/apps/v1/deployments', () =>
    apps.listDeploymentForAllNamespaces(),
  );
  const replicaSets = watch<V1ReplicaSet>('/apis/apps/v1/replicasets', () =>
    apps.listReplicaSetForAllNamespaces(),
  );
  const pods = watch<V1Pod>('/api/v1/pods', () => core.listPodForAllNamespaces());
  await Promise.all(informers.map((i) => i.start()));

  const model = new TrafficModel({
    deployments: () => deployments.list(),
    replicaSets: () => replicaSets.list(),
    pods: () => pods.list(),
  });
  // Readiness changes are counted from when they happen, not from the next tick.
  for (const informer of [pods, deployments] as Informer<KubernetesObject>[]) {
    for (const event of ['add', 'update', 'delete'] as const) {
      informer.on(event, () => model.advance());
    }
  }
  const ticker = setInterval(() => model.advance(), tickMs);
  ticker.unref();

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      model.advance();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(model.exposition());
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: the simulator serves /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  return {
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(ticker);
        await Promise.all(informers.map((i) => i.stop()));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}
