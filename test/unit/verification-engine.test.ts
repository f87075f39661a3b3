import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Measurement,
  MeasurementStatus,
  MetricCheck,
  WatchState,
} from '../../src/core/contracts';
import {
  baselineValue,
  errorMeasurement,
  evaluateMeasurement,
  evaluateSeries,
  initialWatchState,
  isWatchState,
  mergeWatchResults,
  RECENT_MEASUREMENTS,
  recordRound,
  summarizeWatch,
  type WatchLimits,
} from '../../src/core/verification/engine';

const at = '2026-12-01T02:00:00.000Z';
const errorRate: MetricCheck = { name: 'error-rate', query: 'errors', failWhen: '> 0.01' };
const latency: MetricCheck = { name: 'p99-latency', query: 'p99', failWhen: '> baseline * 1.5' };
const availability: MetricCheck = { name: 'availability', query: 'up', failWhen: '< 0.99' };
const limits: WatchLimits = { failureLimit: 3, inconclusiveLimit: 2, consecutiveErrorLimit: 4 };

/** A value that passes and one that fails, per metric (the baseline is 0.1). */
const samples: Record<string, { passed: number; failed: number }> = {
  'error-rate': { passed: 0.001, failed: 0.081 },
  availability: { passed: 1, failed: 0.5 },
  'p99-latency': { passed: 0.1, failed: 0.5 },
};

function measure(metric: MetricCheck, status: MeasurementStatus): Measurement {
  const sample = samples[metric.name] ?? { passed: 0, failed: 1 };
  switch (status) {
    case 'passed':
      return evaluateMeasurement(metric, sample.passed, 0.1, at);
    case 'failed':
      return evaluateMeasurement(metric, sample.failed, 0.1, at);
    case 'inconclusive':
      return evaluateMeasurement(metric, null, 0.1, at);
    case 'error':
      return errorMeasurement(metric, 'Prometheus at http://127.0.0.1:1 is unreachable', at);
  }
}

/** Records one round per status, for one metric, from a fresh state. */
function play(statuses: MeasurementStatus[], metric = errorRate, l = limits) {
  let state = initialWatchState();
  let verdict: ReturnType<typeof recordRound>['verdict'];
  statuses.forEach((status, i) => {
    assert.equal(verdict, undefined, `no verdict before round ${i + 1}`);
    ({ state, verdict } = recordRound(state, [measure(metric, status)], l, 1_000 * (i + 1)));
  });
  return { state, verdict };
}

describe('evaluateMeasurement', () => {
  it('fails a value beyond an absolute threshold and passes one within it', () => {
    const failed = evaluateMeasurement(errorRate, 0.081, undefined, at);
    assert.deepEqual(failed, {
      at,
      metric: 'error-rate',
      value: 0.081,
      threshold: 0.01,
      status: 'failed',
      message: '0.081 > 0.01',
    });
    const passed = evaluateMeasurement(errorRate, 0.002, undefined, at);
    assert.equal(passed.status, 'passed');
    assert.equal(passed.message, '0.002 <= 0.01');
    assert.equal(evaluateMeasurement(errorRate, 0.01, undefined, at).status, 'passed');
    assert.equal(evaluateMeasurement(availability, 0.95, undefined, at).status, 'failed');
  });

  it('compares with the baseline when failWhen is relative', () => {
    const failed = evaluateMeasurement(latency, 0.31, 0.2, at);
    assert.equal(failed.status, 'failed');
    assert.ok(Math.abs((failed.threshold ?? 0) - 0.3) < 1e-12);
    assert.equal(failed.message, '0.31 > 0.3 (baseline 0.2 * 1.5)');
    assert.equal(evaluateMeasurement(latency, 0.29, 0.2, at).status, 'passed');
    const additive = { ...latency, failWhen: '> baseline + 0.05' };
    assert.equal(evaluateMeasurement(additive, 0.26, 0.2, at).status, 'failed');
    assert.equal(evaluateMeasurement(additive, 0.24, 0.2, at).status, 'passed');
  });

  it('is inconclusive for a relative comparison without a baseline', () => {
    for (const baseline of [null, undefined]) {
      const measurement = evaluateMeasurement(latency, 0.31, baseline, at);
      assert.equal(measurement.status, 'inconclusive');
      assert.equal(measurement.value, 0.31);
      assert.match(measurement.message ?? '', /no baseline/);
    }
  });

  it('treats no value and NaN as no data, never as zero', () => {
    for (const value of [null, NaN]) {
      const measurement = evaluateMeasurement(availability, value, undefined, at);
      assert.equal(measurement.status, 'inconclusive');
      assert.equal(measurement.value, null);
      assert.equal(measurement.message, 'no data');
    }
  });

  it('fails an infinite latency (a quantile above the highest bucket)', () => {
    const measurement = evaluateMeasurement(
      { ...errorRate, failWhen: '> 0.2' },
      Infinity,
      undefined,
      at,
    );
    assert.equal(measurement.status, 'failed');
    assert.equal(measurement.message, '+Inf > 0.2');
  });

  it('reports a failWhen that is not a comparison as an error', () => {
    const measurement = evaluateMeasurement({ ...errorRate, failWhen: 'high' }, 1, undefined, at);
    assert.equal(measurement.status, 'error');
  });
});

describe('evaluateSeries', () => {
  it('judges the worst series for the direction and says how many there were', () => {
    const high = evaluateSeries(errorRate, [0.001, 0.05, 0.002], undefined, at);
    assert.equal(high.status, 'failed');
    assert.equal(high.value, 0.05);
    assert.equal(high.message, '0.05 > 0.01; worst of 3 series');
    const low = evaluateSeries(availability, [0.999, 0.97], undefined, at);
    assert.equal(low.value, 0.97);
    assert.equal(low.status, 'failed');
    const equal = { ...errorRate, failWhen: '== 0' };
    assert.equal(evaluateSeries(equal, [1, 0, 2], undefined, at).status, 'failed');
    assert.equal(evaluateSeries(equal, [1, 3], undefined, at).status, 'passed');
  });

  it('ignores NaN series and is no data when nothing is left', () => {
    assert.equal(evaluateSeries(errorRate, [NaN, 0.002], undefined, at).value, 0.002);
    assert.equal(evaluateSeries(errorRate, [NaN, 0.002], undefined, at).message, '0.002 <= 0.01');
    assert.equal(evaluateSeries(errorRate, [], undefined, at).status, 'inconclusive');
    assert.equal(evaluateSeries(errorRate, [NaN], undefined, at).status, 'inconclusive');
  });

  it('captures the same worst series as a baseline', () => {
    assert.equal(baselineValue(latency, [0.1, 0.4, 0.2]), 0.4);
    assert.equal(baselineValue(availability, [0.999, 0.97]), 0.97);
    assert.equal(baselineValue(latency, [NaN]), null);
    assert.equal(baselineValue(latency, []), null);
  });
});

describe('recordRound', () => {
  it('fails when the failed measurements of a metric exceed failureLimit, in all', () => {
    const { verdict, state } = play(['failed', 'failed', 'failed', 'failed']);
    assert.deepEqual(verdict, {
      outcome: 'failed',
      reason: 'error-rate failed 4 times, more than failureLimit 3 (last 0.081 > 0.01)',
    });
    assert.deepEqual(state.tallies['error-rate'], {
      measured: 4,
      failed: 4,
      inconclusive: 0,
      error: 0,
      consecutiveErrors: 0,
    });
    assert.equal(play(['failed', 'failed', 'failed']).verdict, undefined, 'three is the limit');
  });

  it('fails a flapping metric: passes between failures do not reset the count', () => {
    const { verdict, state } = play(['failed', 'passed', 'failed', 'passed', 'failed', 'failed']);
    assert.equal(verdict?.outcome, 'failed');
    assert.match(verdict?.reason ?? '', /^error-rate failed 4 times, more than failureLimit 3/);
    assert.equal(state.tallies['error-rate']?.measured, 6);
  });

  it('fails on the first failed measurement with the default failureLimit of 0', () => {
    const argo = { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 };
    assert.equal(play(['passed', 'passed'], errorRate, argo).verdict, undefined);
    assert.deepEqual(play(['passed', 'failed'], errorRate, argo).verdict, {
      outcome: 'failed',
      reason: 'error-rate failed once, more than failureLimit 0 (last 0.081 > 0.01)',
    });
    assert.equal(play(['inconclusive'], errorRate, argo).verdict?.outcome, 'inconclusive');
  });

  it('is inconclusive when the no-data measurements exceed inconclusiveLimit, in all', () => {
    const { verdict } = play(['inconclusive', 'passed', 'inconclusive', 'failed', 'inconclusive']);
    assert.deepEqual(verdict, {
      outcome: 'inconclusive',
      reason: 'error-rate was inconclusive 3 times, more than inconclusiveLimit 2 (last: no data)',
    });
    assert.equal(play(['inconclusive', 'passed', 'inconclusive', 'failed']).verdict, undefined);
  });

  it('counts a relative comparison without a baseline as inconclusive', () => {
    let state = initialWatchState();
    let verdict: ReturnType<typeof recordRound>['verdict'];
    for (let round = 1; round <= 3; round++) {
      ({ state, verdict } = recordRound(
        state,
        [evaluateMeasurement(latency, 0.2, null, at)],
        limits,
        round,
      ));
    }
    assert.equal(verdict?.outcome, 'inconclusive');
    assert.match(
      verdict?.reason ?? '',
      /p99-latency was inconclusive 3 times, more than inconclusiveLimit 2 \(last: no baseline/,
    );
  });

  it('keeps query errors apart: more than consecutiveErrorLimit in a row are inconclusive', () => {
    const four = play(['error', 'error', 'error', 'error']);
    assert.equal(four.verdict, undefined, 'four errors are the limit of four');
    assert.deepEqual(four.state.tallies['error-rate'], {
      measured: 4,
      failed: 0,
      inconclusive: 0,
      error: 4,
      consecutiveErrors: 4,
    });
    const five = play(['error', 'error', 'error', 'error', 'error']);
    assert.equal(five.verdict?.outcome, 'inconclusive');
    assert.equal(
      five.verdict?.reason,
      'error-rate could not be measured 5 times in a row, more than consecutiveErrorLimit 4 (last: Prometheus at http://127.0.0.1:1 is unreachable)',
    );
    // Any answer ends the run of errors, and errors count toward neither other limit.
    const broken = play(['error', 'error', 'error', 'error', 'passed', 'error', 'error']);
    assert.equal(broken.verdict, undefined);
    assert.equal(broken.state.tallies['error-rate']?.consecutiveErrors, 2);
    assert.equal(broken.state.tallies['error-rate']?.error, 6);
  });

  it('prefers a failure over an inconclusive result in the same round', () => {
    const l = { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 };
    const { verdict } = recordRound(
      initialWatchState(),
      [measure(availability, 'inconclusive'), measure(errorRate, 'failed')],
      l,
      1,
    );
    assert.equal(verdict?.outcome, 'failed');
    assert.match(verdict?.reason ?? '', /^error-rate failed once, more than failureLimit 0/);
  });

  it('counts per metric', () => {
    let state = initialWatchState();
    let verdict: ReturnType<typeof recordRound>['verdict'];
    for (let round = 1; round <= 6; round++) {
      // The metrics take turns failing, so each fails three times: within the limit of three.
      const failing = round % 2 === 0 ? errorRate : availability;
      const passing = failing === errorRate ? availability : errorRate;
      ({ state, verdict } = recordRound(
        state,
        [measure(failing, 'failed'), measure(passing, 'passed')],
        limits,
        round,
      ));
    }
    assert.equal(verdict, undefined);
    assert.equal(state.counts.failed, 6);
    assert.equal(state.tallies['error-rate']?.failed, 3);
    assert.equal(state.tallies.availability?.failed, 3);
  });

  it('counts every measurement and keeps only the last ones', () => {
    const rounds = RECENT_MEASUREMENTS + 20;
    let state = initialWatchState();
    for (let round = 1; round <= rounds; round++) {
      const measurements = [
        { ...measure(errorRate, 'passed'), at: `round-${round}` },
        measure(availability, round % 10 === 0 ? 'inconclusive' : 'passed'),
      ];
      state = recordRound(state, measurements, limits, round * 1_000).state;
    }
    assert.equal(state.measurementsTaken, rounds * 2);
    assert.deepEqual(state.counts, {
      passed: rounds * 2 - rounds / 10,
      failed: 0,
      inconclusive: rounds / 10,
      error: 0,
    });
    assert.equal(state.recent.length, RECENT_MEASUREMENTS);
    assert.equal(state.recent.at(-2)?.at, `round-${rounds}`, 'newest last');
    assert.equal(state.recent[0]?.at, `round-${rounds - RECENT_MEASUREMENTS / 2 + 1}`);
    assert.equal(state.lastRoundAt, rounds * 1_000);
  });

  it('never changes the state it is given', () => {
    const before = play(['failed', 'inconclusive']).state;
    const frozen = JSON.parse(JSON.stringify(before)) as WatchState;
    const { state: after } = recordRound(
      before,
      [measure(errorRate, 'failed'), measure(availability, 'error')],
      limits,
      99_000,
    );
    assert.deepEqual(before, frozen);
    assert.notEqual(after, before);
    assert.notEqual(after.recent, before.recent);
    assert.equal(after.measurementsTaken, before.measurementsTaken + 2);
  });
});

describe('mergeWatchResults', () => {
  const pods: MetricCheck = { name: 'pods-ready', query: '', failWhen: '> 0' };
  function ended(metric: MetricCheck, statuses: MeasurementStatus[], outcome: 'passed' | 'failed') {
    const { state } = play(statuses, metric);
    return { outcome, reason: `${metric.name} ${outcome}`, state, endedAt: state.lastRoundAt ?? 0 };
  }

  it('passes only when every watch passed, and adds their states up', () => {
    const merged = mergeWatchResults([
      ended(errorRate, ['passed', 'passed'], 'passed'),
      ended(pods, ['passed', 'passed'], 'passed'),
    ]);
    assert.equal(merged.outcome, 'passed');
    assert.equal(merged.state.measurementsTaken, 4);
    assert.deepEqual(Object.keys(merged.state.tallies).sort(), ['error-rate', 'pods-ready']);
    assert.match(merged.reason, /^no metric or check crossed a limit: 4 measurements/);
  });

  it('fails with the reasons of the watches that failed', () => {
    const merged = mergeWatchResults([
      ended(errorRate, ['passed'], 'passed'),
      ended(pods, ['failed'], 'failed'),
    ]);
    assert.deepEqual([merged.outcome, merged.reason], ['failed', 'pods-ready failed']);
    assert.equal(merged.state.counts.failed, 1);
  });
});

describe('summarizeWatch', () => {
  it('says how many measurements of each kind and each metric’s latest', () => {
    assert.equal(summarizeWatch(initialWatchState()), 'no measurements yet');
    let state = initialWatchState();
    state = recordRound(
      state,
      [measure(errorRate, 'passed'), measure(availability, 'inconclusive')],
      limits,
      1,
    ).state;
    state = recordRound(
      state,
      [measure(errorRate, 'failed'), measure(availability, 'error')],
      limits,
      2,
    ).state;
    assert.equal(
      summarizeWatch(state),
      '4 measurements (1 passed, 1 failed, 1 no data, 1 error); latest: error-rate 0.081 failed, availability error',
    );
    assert.ok(!summarizeWatch(state).includes('\n'));
  });
});

describe('isWatchState', () => {
  it('recognises a state and refuses other heartbeat details', () => {
    assert.ok(isWatchState(initialWatchState()));
    assert.ok(isWatchState(play(['passed']).state));
    assert.ok(isWatchState(JSON.parse(JSON.stringify(play(['failed']).state))));
    for (const other of [undefined, null, 3, 'state', {}, { recent: [], measurementsTaken: 1 }]) {
      assert.equal(isWatchState(other), false);
    }
  });
});
