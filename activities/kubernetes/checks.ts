/**
 * The seed's post-change validation as watch checks: pods ready against desired, container
 * restarts since the rollout, an HTTP endpoint (directly or through the API server's service
 * proxy) and error lines in the pods' logs. Each check is one measurement per round; anything
 * that stops a check from being measured (the API server, a timeout) is an error measurement,
 * which the consecutive-error limit bounds.
 */
import http from 'node:http';
import https from 'node:https';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import type { CheckSpec } from '../../src/core/change/request';
import { parseDuration } from '../../src/core/change/duration';
import type { CheckWatchInput, Measurement } from '../../src/core/contracts';
import { errorMeasurement, evaluateMeasurement } from '../../src/core/verification/engine';
import { ApiException } from '@kubernetes/client-node';
import { apiMessage } from './errors';

type HttpCheck = NonNullable<CheckSpec['http']>;

/** What the checks read from the cluster; tests may hand in a KubeConfig of another server. */
export function createCheckMeasurer(kubeConfig: KubeConfig) {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  async function deploymentsOf(input: CheckWatchInput): Promise<V1Deployment[]> {
    return Promise.all(
      input.deployments.map((name) =>
        apps.readNamespacedDeployment({ namespace: input.namespace, name }),
      ),
    );
  }

  /** The running pods of the deployments (terminating ones are on their way out). */
  async function podsOf(input: CheckWatchInput): Promise<V1Pod[]> {
    const pods: V1Pod[] = [];
    for (const deployment of await deploymentsOf(input)) {
      const labels = deployment.spec?.selector?.matchLabels ?? {};
      const labelSelector = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const list = await core.listNamespacedPod({ namespace: input.namespace, labelSelector });
      pods.push(...list.items.filter((p) => !p.metadata?.deletionTimestamp));
    }
    return pods;
  }

  /** Ready replicas at desired, and no pod that is not ready (a stalled surge pod fails too). */
  async function podsReady(input: CheckWatchInput, name: string, at: string) {
    const states = (await deploymentsOf(input)).map((d) => {
      const ready = d.status?.readyReplicas ?? 0;
      return {
        name: d.metadata?.name ?? '?',
        desired: d.spec?.replicas ?? 1,
        ready,
        unready: Math.max(0, (d.status?.replicas ?? 0) - ready),
      };
    });
    const desired = states.reduce((n, s) => n + s.desired, 0);
    const ready = states.reduce((n, s) => n + s.ready, 0);
    const short = states.filter((s) => s.ready < s.desired || s.unready > 0);
    const described = states
      .map(
        (s) =>
          `${s.name} ${s.ready}/${s.desired} ready${s.unready > 0 ? `, ${s.unready} not ready` : ''}`,
      )
      .join(', ');
    return {
      at,
      metric: name,
      value: ready,
      threshold: desired,
      status: short.length > 0 ? 'failed' : 'passed',
      message: described,
    } satisfies Measurement;
  }

  /**
   * Restarts since the rollout: every restart of a pod the rollout created, and a pod older
   * than the rollout once its last termination came after the rollout started.
   */
  async function restarts(input: CheckWatchInput, check: CheckSpec, at: string) {
    const pods = await podsOf(input);
    let count = 0;
    for (const pod of pods) {
      const created = Date.parse(String(pod.metadata?.creationTimestamp ?? ''));
      for (const container of pod.status?.containerStatuses ?? []) {
        if (created >= input.since) {
          count += container.restartCount;
        } else {
          const finished = container.lastState?.terminated?.finishedAt;
          if (finished && Date.parse(String(finished)) >= input.since) count += 1;
        }
      }
    }
    const measured = evaluateMeasurement(
      { name: check.name, query: '', failWhen: check.restarts?.failWhen ?? '> 0' },
      count,
      undefined,
      at,
    );
    return { ...measured, message: `${measured.message ?? ''}: restarts in ${pods.length} pods` };
  }

  /** The status of a GET, and the start of the body (what a failed answer says). */
  function request(
    url: URL,
    options: https.RequestOptions,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }> {
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      // A fresh connection per measurement: a pooled one would hide a server that went away.
      const req = transport.request(url, { ...options, agent: false, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 200) body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.slice(0, 200) }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** The check's address and the options that reach it: the API server's own for a Service. */
  async function target(
    input: CheckWatchInput,
    check: HttpCheck,
  ): Promise<{ url: URL; options: https.RequestOptions }> {
    if (check.url) return { url: new URL(check.url), options: {} };
    const server = kubeConfig.getCurrentCluster()?.server ?? '';
    const proxied = `/api/v1/namespaces/${input.namespace}/services/${check.service}:${check.port}/proxy${check.path}`;
    const url = new URL(proxied, server);
    const options: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(options);
    return { url, options };
  }

  async function httpStatus(input: CheckWatchInput, check: CheckSpec, at: string) {
    const spec = check.http as HttpCheck;
    const { url, options } = await target(input, spec);
    const timeoutMs = parseDuration(spec.timeout) ?? 5_000;
    const { status, body } = await request(url, options, timeoutMs);
    const where = spec.url ?? `service ${spec.service}:${spec.port}${spec.path}`;
    const said = body.trim().replace(/\s+/g, ' ');
    return {
      at,
      metric: check.name,
      value: status,
      threshold: spec.expectStatus,
      status: status === spec.expectStatus ? 'passed' : 'failed',
      message:
        status === spec.expectStatus
          ? `${where} answered ${status}`
          : `${where} answered ${status}, expected ${spec.expectStatus}${said ? `: ${said}` : ''}`,
    } satisfies Measurement;
  }

  /** Lines matching the pattern in each pod's logs since the rollout (or since it started). */
  async function logLines(input: CheckWatchInput, check: CheckSpec, at: string) {
    const spec = check.logs;
    const matcher = new RegExp(spec?.pattern ?? '$^');
    const sinceSeconds = Math.max(1, Math.ceil((Date.now() - input.since) / 1_000));
    let count = 0;
    const pods = await podsOf(input);
    for (const pod of pods) {
      const containers = spec?.container
        ? [spec.container]
        : (pod.spec?.containers ?? []).map((c) => c.name);
      for (const container of containers) {
        const text = await core.readNamespacedPodLog({
          namespace: input.namespace,
          name: pod.metadata?.name ?? '',
          container,
          sinceSeconds,
        });
        count += String(text)
          .split('\n')
          .filter((line) => line !== '' && matcher.test(line)).length;
      }
    }
    const measured = evaluateMeasurement(
      { name: check.name, query: '', failWhen: spec?.failWhen ?? '> 0' },
      count,
      undefined,
      at,
    );
    return {
      ...measured,
      message: `${measured.message ?? ''}: lines matching /${spec?.pattern}/ in ${pods.length} pods`,
    };
  }

  /** One measurement of one check; a check that cannot be measured is an error measurement. */
  async function measure(input: CheckWatchInput, check: CheckSpec, at: string) {
    try {
      if (check.podsReady) return await podsReady(input, check.name, at);
      if (check.restarts) return await restarts(input, check, at);
      if (check.http) return await httpStatus(input, check, at);
      if (check.logs) return await logLines(input, check, at);
      return errorMeasurement({ name: check.name, query: '', failWhen: '' }, 'no check kind', at);
    } catch (error) {
      const message =
        error instanceof ApiException
          ? apiMessage(error)
          : error instanceof Error
            ? error.message
            : String(error);
      return errorMeasurement({ name: check.name, query: '', failWhen: '' }, message, at);
    }
  }

  return {
    measureRound: (input: CheckWatchInput, at: string): Promise<Measurement[]> =>
      Promise.all(input.checks.map((check) => measure(input, check, at))),
  };
}
