/**
 * Prometheus activities: pre-flight query validation, the "no active incident" alert check,
 * baseline capture, and the watch after a rollout. Built over the HTTP API with the worker's
 * address and credentials; nothing here takes credentials from a request.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type {
  FiringAlert,
  Measurement,
  MetricCheck,
  PrometheusActivities,
  WatchInput,
  WatchResult,
} from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import {
  createPrometheusClient,
  PrometheusQueryError,
  resultValues,
  type InstantResult,
  type PrometheusClient,
  type PrometheusConfig,
} from '../src/prometheus/api';
import { baselineValue, errorMeasurement, evaluateSeries } from '../src/core/verification/engine';
import { runWatchLoop } from './watch-loop';

/** `ALERTS{alertstate="firing",<selector>}`; the selector may come with or without braces. */
export function firingAlertsQuery(selector: string): string {
  const inner = selector.trim().replace(/^\{/, '').replace(/\}$/, '').trim().replace(/^,|,$/g, '');
  return `ALERTS{alertstate="firing"${inner ? `,${inner}` : ''}}`;
}

function failureOf(error: unknown, what: string): unknown {
  if (!(error instanceof PrometheusQueryError)) return error;
  if (error.kind === 'unavailable') {
    return ApplicationFailure.retryable(error.message, FailureType.PrometheusUnavailable);
  }
  return ApplicationFailure.nonRetryable(`${what}: ${error.message}`, FailureType.QueryInvalid);
}

export function createPrometheusActivities(config: PrometheusConfig): PrometheusActivities {
  const prometheus: PrometheusClient = createPrometheusClient(config);

  async function query(text: string, what: string): Promise<InstantResult> {
    try {
      return await prometheus.instantQuery(text, Context.current().cancellationSignal);
    } catch (error) {
      throw failureOf(error, what);
    }
  }

  async function validateQueries(metrics: MetricCheck[]): Promise<void> {
    const outcomes = await Promise.allSettled(
      metrics.map((m) => prometheus.instantQuery(m.query, Context.current().cancellationSignal)),
    );
    const refused: { metric: string; query: string; error: string }[] = [];
    let unavailable: PrometheusQueryError | undefined;
    outcomes.forEach((outcome, i) => {
      const metric = metrics[i];
      if (outcome.status === 'fulfilled' || !metric) return;
      const error: unknown = outcome.reason;
      if (!(error instanceof PrometheusQueryError)) throw error;
      if (error.kind === 'unavailable') unavailable ??= error;
      else refused.push({ metric: metric.name, query: metric.query, error: error.message });
    });
    if (refused.length > 0) {
      throw ApplicationFailure.create({
        message: refused.map((r) => `metric ${r.metric}: ${r.error}`).join('; '),
        type: FailureType.QueryInvalid,
        nonRetryable: true,
        details: refused,
      });
    }
    if (unavailable) {
      throw ApplicationFailure.retryable(unavailable.message, FailureType.PrometheusUnavailable);
    }
  }

  async function firingAlerts(input: { selector: string }): Promise<FiringAlert[]> {
    const result = await query(firingAlertsQuery(input.selector), 'firing alerts');
    if (result.kind !== 'vector') return [];
    return result.series
      .map(({ labels }) => {
        const { __name__: _name, alertstate: _state, ...rest } = labels;
        return { name: labels.alertname ?? 'unnamed', labels: rest };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async function captureBaseline(metrics: MetricCheck[]): Promise<Record<string, number | null>> {
    const values = await Promise.all(
      metrics.map(async (m) =>
        baselineValue(m, resultValues(await query(m.query, `metric ${m.name}`))),
      ),
    );
    return Object.fromEntries(metrics.map((m, i) => [m.name, values[i] ?? null]));
  }

  async function measureRound(input: WatchInput, at: string): Promise<Measurement[]> {
    const signal = Context.current().cancellationSignal;
    return Promise.all(
      input.metrics.map(async (metric) => {
        try {
          const result = await prometheus.instantQuery(metric.query, signal);
          return evaluateSeries(metric, resultValues(result), input.baseline[metric.name], at);
        } catch (error) {
          if (signal.aborted || !(error instanceof PrometheusQueryError)) throw error;
          return errorMeasurement(metric, error.message, at);
        }
      }),
    );
  }

  function watchMetrics(input: WatchInput): Promise<WatchResult> {
    return runWatchLoop(input, (at) => measureRound(input, at));
  }

  return { validateQueries, firingAlerts, captureBaseline, watchMetrics };
}
