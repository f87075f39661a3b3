/**
 * Verification as pure logic, shared by the watch activity and the workflows: each metric's
 * value is judged against its `failWhen`, and rounds of measurements are folded into a bounded
 * WatchState until a limit is exceeded, with Argo Rollouts' analysis semantics: per metric,
 * `failureLimit` and `inconclusiveLimit` bound the total number of failed and inconclusive
 * measurements over the whole watch (the metric fails when its count is greater than the
 * limit, so the default 0 fails on the first one), and `consecutiveErrorLimit` bounds the
 * current run of measurements that could not be taken (any answer ends the run).
 */
import {
  compare,
  parseComparison,
  thresholdOf,
  type Comparison,
  type ComparisonOperator,
} from '../change/comparison';
import type {
  Measurement,
  MeasurementStatus,
  MetricCheck,
  WatchOutcome,
  WatchResult,
  WatchState,
} from '../contracts';

/** How many measurements a WatchState keeps, whatever the watch's length. */
export const RECENT_MEASUREMENTS = 50;

export interface WatchLimits {
  /** Failed measurements of one metric allowed in all; one more fails the watch. */
  failureLimit: number;
  /** No-data measurements of one metric allowed in all; one more makes the watch inconclusive. */
  inconclusiveLimit: number;
  /** Query errors in a row allowed for one metric; one more makes the watch inconclusive. */
  consecutiveErrorLimit: number;
}

export interface WatchVerdict {
  outcome: Exclude<WatchOutcome, 'passed'>;
  reason: string;
}

const STATUSES: readonly MeasurementStatus[] = ['passed', 'failed', 'inconclusive', 'error'];

export function initialWatchState(): WatchState {
  return {
    recent: [],
    counts: { passed: 0, failed: 0, inconclusive: 0, error: 0 },
    tallies: {},
    measurementsTaken: 0,
  };
}

/** A number as people read it in a measurement: 4 significant digits, `+Inf` for infinity. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(Number(value.toPrecision(4)));
}

const NEGATION: Record<ComparisonOperator, ComparisonOperator> = {
  '>': '<=',
  '>=': '<',
  '<': '>=',
  '<=': '>',
  '==': '!=',
  '!=': '==',
};

function describeThreshold(comparison: Comparison, threshold: number, baseline: number): string {
  if (comparison.kind === 'absolute') return formatValue(threshold);
  return `${formatValue(threshold)} (baseline ${formatValue(baseline)} ${comparison.combine} ${formatValue(comparison.operand)})`;
}

/**
 * Judges one value of a metric. `null` is no data (an empty result or NaN); a comparison
 * relative to a baseline that was never captured cannot be judged either.
 */
export function evaluateMeasurement(
  metric: MetricCheck,
  value: number | null,
  baseline: number | null | undefined,
  at: string,
): Measurement {
  const comparison = parseComparison(metric.failWhen);
  if (!comparison) {
    return {
      at,
      metric: metric.name,
      value,
      status: 'error',
      message: `failWhen '${metric.failWhen}' is not a comparison`,
    };
  }
  if (value === null || Number.isNaN(value)) {
    return { at, metric: metric.name, value: null, status: 'inconclusive', message: 'no data' };
  }
  const threshold = thresholdOf(comparison, baseline ?? undefined);
  if (threshold === undefined) {
    return {
      at,
      metric: metric.name,
      value,
      status: 'inconclusive',
      message: `no baseline to compare with (fails when ${comparison.source.trim()})`,
    };
  }
  const failed = compare(value, comparison.op, threshold);
  const op = failed ? comparison.op : NEGATION[comparison.op];
  // thresholdOf returned a number, so a relative comparison had a finite baseline.
  const described = describeThreshold(comparison, threshold, baseline ?? 0);
  return {
    at,
    metric: metric.name,
    value,
    threshold,
    status: failed ? 'failed' : 'passed',
    message: `${formatValue(value)} ${op} ${described}`,
  };
}

/**
 * Judges a query's result, one value per series. NaN series are no data. With several series
 * the worst one for the comparison is judged (the one that fails, if any does; for ordered
 * comparisons the extreme one), and the message says how many there were.
 */
export function evaluateSeries(
  metric: MetricCheck,
  values: number[],
  baseline: number | null | undefined,
  at: string,
): Measurement {
  const present = values.filter((v) => !Number.isNaN(v));
  if (present.length <= 1) return evaluateMeasurement(metric, present[0] ?? null, baseline, at);
  const comparison = parseComparison(metric.failWhen);
  const threshold = comparison && thresholdOf(comparison, baseline ?? undefined);
  const worst = comparison ? worstValue(present, comparison.op, threshold) : (present[0] ?? null);
  const measurement = evaluateMeasurement(metric, worst, baseline, at);
  return {
    ...measurement,
    message: `${measurement.message ?? measurement.status}; worst of ${present.length} series`,
  };
}

/** The value of several that matters most for `op`: one that fails if any does. */
export function worstValue(
  values: number[],
  op: ComparisonOperator,
  threshold: number | undefined,
): number | null {
  if (values.length === 0) return null;
  switch (op) {
    case '>':
    case '>=':
      return Math.max(...values);
    case '<':
    case '<=':
      return Math.min(...values);
    case '==':
    case '!=': {
      const failing =
        threshold === undefined ? undefined : values.find((v) => compare(v, op, threshold));
      return failing ?? values[0] ?? null;
    }
  }
}

/**
 * The value a metric's baseline is captured as: null for no data, and with several series the
 * same worst one the watch will judge (no threshold yet, so `==`/`!=` take the first).
 */
export function baselineValue(metric: MetricCheck, values: number[]): number | null {
  const present = values.filter((v) => !Number.isNaN(v));
  if (present.length <= 1) return present[0] ?? null;
  const comparison = parseComparison(metric.failWhen);
  return comparison ? worstValue(present, comparison.op, undefined) : (present[0] ?? null);
}

/** A measurement that could not be taken: the query failed or Prometheus did not answer. */
export function errorMeasurement(metric: MetricCheck, message: string, at: string): Measurement {
  return { at, metric: metric.name, value: null, status: 'error', message };
}

type Tally = WatchState['tallies'][string];

const EMPTY_TALLY: Tally = {
  measured: 0,
  failed: 0,
  inconclusive: 0,
  error: 0,
  consecutiveErrors: 0,
};

function nextTally(tally: Tally, status: MeasurementStatus): Tally {
  const next = { ...tally, measured: tally.measured + 1 };
  if (status === 'error') {
    next.error += 1;
    next.consecutiveErrors += 1;
    return next;
  }
  next.consecutiveErrors = 0;
  if (status === 'failed') next.failed += 1;
  if (status === 'inconclusive') next.inconclusive += 1;
  return next;
}

function last(measurement: Measurement | undefined): string {
  return measurement?.message ?? measurement?.status ?? 'none';
}

function lastOf(recent: Measurement[], metric: string, status: MeasurementStatus): string {
  return last([...recent].reverse().find((m) => m.metric === metric && m.status === status));
}

/**
 * Folds one round of measurements (at most one per metric) into the state. Pure: the input
 * state is never changed. The verdict is set when a metric exceeds a limit; failures win over
 * inconclusive results (a metric that failed is rolled back even if it also lacked data).
 */
export function recordRound(
  state: WatchState,
  measurements: Measurement[],
  limits: WatchLimits,
  roundAt: number,
): { state: WatchState; verdict?: WatchVerdict } {
  const counts = { ...state.counts };
  const tallies: WatchState['tallies'] = { ...state.tallies };
  const measured = new Set<string>();
  for (const measurement of measurements) {
    counts[measurement.status] += 1;
    tallies[measurement.metric] = nextTally(
      tallies[measurement.metric] ?? EMPTY_TALLY,
      measurement.status,
    );
    measured.add(measurement.metric);
  }
  const next: WatchState = {
    recent: [...state.recent, ...measurements].slice(-RECENT_MEASUREMENTS),
    counts,
    tallies,
    measurementsTaken: state.measurementsTaken + measurements.length,
    lastRoundAt: roundAt,
  };

  const failures: string[] = [];
  const inconclusive: string[] = [];
  for (const metric of measured) {
    const tally = tallies[metric];
    if (!tally) continue;
    if (tally.failed > limits.failureLimit) {
      failures.push(
        `${metric} failed ${times(tally.failed)}, more than failureLimit ${limits.failureLimit} (last ${lastOf(next.recent, metric, 'failed')})`,
      );
    } else if (tally.inconclusive > limits.inconclusiveLimit) {
      inconclusive.push(
        `${metric} was inconclusive ${times(tally.inconclusive)}, more than inconclusiveLimit ${limits.inconclusiveLimit} (last: ${lastOf(next.recent, metric, 'inconclusive')})`,
      );
    } else if (tally.consecutiveErrors > limits.consecutiveErrorLimit) {
      inconclusive.push(
        `${metric} could not be measured ${times(tally.consecutiveErrors)} in a row, more than consecutiveErrorLimit ${limits.consecutiveErrorLimit} (last: ${lastOf(next.recent, metric, 'error')})`,
      );
    }
  }
  if (failures.length > 0) {
    return { state: next, verdict: { outcome: 'failed', reason: failures.join('; ') } };
  }
  if (inconclusive.length > 0) {
    return { state: next, verdict: { outcome: 'inconclusive', reason: inconclusive.join('; ') } };
  }
  return { state: next };
}

function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

const STATUS_WORDS: Record<MeasurementStatus, [string, string]> = {
  passed: ['passed', 'passed'],
  failed: ['failed', 'failed'],
  inconclusive: ['no data', 'no data'],
  error: ['error', 'errors'],
};

/** One line for people: how many measurements of each kind, and each metric's latest. */
export function summarizeWatch(state: WatchState): string {
  if (state.measurementsTaken === 0) return 'no measurements yet';
  const counts = STATUSES.map((status) => {
    const n = state.counts[status];
    const [one, many] = STATUS_WORDS[status];
    return `${n} ${n === 1 ? one : many}`;
  }).join(', ');
  const latest = new Map<string, Measurement>();
  for (const measurement of state.recent) latest.set(measurement.metric, measurement);
  const described = [...latest.values()].map((m) => {
    const value = m.value === null ? '' : ` ${formatValue(m.value)}`;
    return `${m.metric}${value} ${m.status === 'inconclusive' ? 'no data' : m.status}`;
  });
  const noun = state.measurementsTaken === 1 ? 'measurement' : 'measurements';
  const tail = described.length > 0 ? `; latest: ${described.join(', ')}` : '';
  return `${state.measurementsTaken} ${noun} (${counts})${tail}`;
}

/** Several watches' states as one: counts and tallies added, the newest measurements kept. */
export function mergeWatchStates(states: WatchState[]): WatchState {
  const merged = initialWatchState();
  const recent: Measurement[] = [];
  for (const state of states) {
    for (const status of STATUSES) merged.counts[status] += state.counts[status];
    Object.assign(merged.tallies, state.tallies);
    merged.measurementsTaken += state.measurementsTaken;
    recent.push(...state.recent);
    if (state.lastRoundAt !== undefined) {
      merged.lastRoundAt = Math.max(merged.lastRoundAt ?? 0, state.lastRoundAt);
    }
  }
  merged.recent = recent
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.at.localeCompare(b.m.at) || a.i - b.i)
    .map(({ m }) => m)
    .slice(-RECENT_MEASUREMENTS);
  return merged;
}

/**
 * Watches of one period as one result: failed if any failed, else inconclusive if any was,
 * else passed; the reasons of those that did not pass.
 */
export function mergeWatchResults(results: WatchResult[]): WatchResult {
  if (results.length === 1 && results[0]) return results[0];
  const state = mergeWatchStates(results.map((r) => r.state));
  const endedAt = Math.max(0, ...results.map((r) => r.endedAt));
  const failed = results.filter((r) => r.outcome === 'failed');
  const inconclusive = results.filter((r) => r.outcome === 'inconclusive');
  const deciding = failed.length > 0 ? failed : inconclusive;
  if (deciding.length > 0) {
    return {
      outcome: failed.length > 0 ? 'failed' : 'inconclusive',
      reason: deciding.map((r) => r.reason).join('; '),
      state,
      endedAt,
    };
  }
  return {
    outcome: 'passed',
    reason: `no metric or check crossed a limit: ${summarizeWatch(state)}`,
    state,
    endedAt,
  };
}

/** True when a value (heartbeat details, a workflow's memory) has the shape of a WatchState. */
export function isWatchState(value: unknown): value is WatchState {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<WatchState>;
  return (
    Array.isArray(candidate.recent) &&
    typeof candidate.measurementsTaken === 'number' &&
    typeof candidate.counts === 'object' &&
    candidate.counts !== null &&
    STATUSES.every((s) => typeof candidate.counts?.[s] === 'number') &&
    typeof candidate.tallies === 'object' &&
    candidate.tallies !== null &&
    (candidate.lastRoundAt === undefined || typeof candidate.lastRoundAt === 'number')
  );
}
