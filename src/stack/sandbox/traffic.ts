import type { Deployment, Pod } from './objects';
import { deployments, pods, replicaSets } from './resources';
import type { Store } from './store';

/** Simulated requests per second each service receives. */
export const requestsPerSecond = 50;

export const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** How an image behaves under traffic: its share of 5xx answers and its latency distribution. */
interface Profile {
  errorRatio: number;
  /** Share of requests at or under each of latencyBuckets. */
  cumulative: readonly number[];
  meanSeconds: number;
}

/** About 80 ms, p99 under 100 ms. */
const healthy: Profile = {
  errorRatio: 0.001,
  cumulative: [0, 0.001, 0.01, 0.2, 1, 1, 1, 1, 1, 1, 1],
  meanSeconds: 0.08,
};
/** histogram_quantile(0.99) interpolates to 0.9 s within the (0.5, 1] bucket. */
const slow: Profile = {
  errorRatio: 0.001,
  cumulative: [0, 0, 0.005, 0.02, 0.1, 0.5, 0.95, 1, 1, 1, 1],
  meanSeconds: 0.33,
};

/** The traffic an image's tag asks for: `-erroring` about 8% 5xx, `-slow` a p99 near 900 ms. */
export function profileOf(image: string): Profile {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tag = colon > slash ? image.slice(colon + 1) : '';
  if (tag.endsWith('-erroring')) return { ...healthy, errorRatio: 0.08 };
  if (tag.endsWith('-slow')) return slow;
  return healthy;
}

/** A pod's profile is its worst container's: the most errors, the slowest latency. */
function podProfile(p: Pod): Profile {
  const profiles = p.spec.containers.map((c) => profileOf(c.image));
  const worstLatency = profiles.reduce((a, b) => (b.meanSeconds > a.meanSeconds ? b : a), healthy);
  const errorRatio = Math.max(...profiles.map((x) => x.errorRatio));
  return { ...worstLatency, errorRatio };
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

function isReady(p: Pod): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/**
 * Request traffic to each service, advanced from elapsed time and shaped by the images its ready
 * pods run (weighted by how many pods run each). A service is a pod's `app` label, else the name
 * of the Deployment that owns it, so canary and blue/green Deployments labelled `app=<service>`
 * count toward their service. Counts are exact fractions of time, not random draws.
 */
export class TrafficSimulator {
  private readonly series = new Map<string, Series>();
  private last: number;

  constructor(
    private readonly store: Store,
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
  private servingPods(): Map<string, { namespace: string; service: string; pods: Pod[] }> {
    const rsOwner = new Map<string, string>();
    for (const rs of this.store.list(replicaSets)) {
      const owner = rs.metadata.ownerReferences?.find(
        (r) => r.controller && r.kind === 'Deployment',
      );
      if (owner) rsOwner.set(rs.metadata.uid, owner.name);
    }
    const out = new Map<string, { namespace: string; service: string; pods: Pod[] }>();
    for (const d of this.store.list(deployments)) {
      const service = (d as Deployment).spec.template.metadata.labels?.app ?? d.metadata.name;
      const namespace = d.metadata.namespace ?? '';
      this.seriesFor(namespace, service);
    }
    for (const p of this.store.list(pods) as Pod[]) {
      if (!isReady(p)) continue;
      const rsUid = p.metadata.ownerReferences?.find((r) => r.controller)?.uid ?? '';
      const service = p.metadata.labels?.app ?? rsOwner.get(rsUid) ?? p.metadata.name;
      const namespace = p.metadata.namespace ?? '';
      const key = `${namespace}/${service}`;
      const entry = out.get(key) ?? { namespace, service, pods: [] };
      entry.pods.push(p);
      out.set(key, entry);
    }
    return out;
  }

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
  exposition(apiRequests: Map<string, number>): string {
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
    lines.push('# HELP sandbox_api_requests_total Kubernetes API requests the sandbox answered.');
    lines.push('# TYPE sandbox_api_requests_total counter');
    for (const [key, count] of [...apiRequests.entries()].sort()) {
      lines.push(`sandbox_api_requests_total{${key}} ${count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
