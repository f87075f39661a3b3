import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bands,
  changeFacts,
  changesPerDay,
  median,
  type ReportChange,
} from '../../src/core/report/index';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('report arithmetic', () => {
  it('takes the median, the middle two averaged for an even count', () => {
    assert.equal(median([]), undefined);
    assert.equal(median([5]), 5);
    assert.equal(median([9, 1, 5]), 5);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("puts each figure in DORA's bands, at their edges", () => {
    assert.equal(bands.deploymentFrequency(1), 'elite');
    assert.equal(bands.deploymentFrequency(0.99), 'high');
    assert.equal(bands.deploymentFrequency(1 / 7), 'high');
    assert.equal(bands.deploymentFrequency(1 / 30), 'medium');
    assert.equal(bands.deploymentFrequency(0.01), 'low');
    assert.equal(bands.leadTime(DAY - 1), 'elite');
    assert.equal(bands.leadTime(DAY), 'high');
    assert.equal(bands.leadTime(7 * DAY), 'medium');
    assert.equal(bands.leadTime(30 * DAY), 'low');
    assert.equal(bands.changeFailureRate(0.05), 'elite');
    assert.equal(bands.changeFailureRate(0.1), 'high');
    assert.equal(bands.changeFailureRate(0.15), 'medium');
    assert.equal(bands.changeFailureRate(0.16), 'low');
    assert.equal(bands.timeToRestore(HOUR - 1), 'elite');
    assert.equal(bands.timeToRestore(HOUR), 'high');
    assert.equal(bands.timeToRestore(DAY), 'medium');
    assert.equal(bands.timeToRestore(7 * DAY), 'low');
  });

  it('reads a change that ended as a workflow failure, or still runs, from visibility alone', () => {
    const base: ReportChange = {
      id: 'CHG-1',
      type: 'normal',
      environment: 'production',
      services: ['api-gateway'],
      executionStatus: 'TERMINATED',
      startedAt: '2026-12-01T10:00:00.000Z',
    };
    assert.equal(changeFacts(base).outcome, 'failed');
    assert.equal(changeFacts({ ...base, executionStatus: 'CANCELED' }).outcome, 'cancelled');
    const watching = changeFacts({ ...base, executionStatus: 'RUNNING', state: 'watching' });
    assert.equal(watching.outcome, 'running');
    assert.equal(watching.rolledOut, true);
    assert.equal(watching.deployedAt, undefined);
    const owed = changeFacts({
      ...base,
      type: 'emergency',
      executionStatus: 'RUNNING',
      state: 'awaiting-documentation',
    });
    assert.equal(owed.documentation, 'pending');
  });

  it('lists every day of the period, counting changes by the day they were submitted', () => {
    const from = Date.parse('2026-12-01T12:00:00Z');
    const days = changesPerDay(
      [
        {
          ...changeFacts({
            id: 'A-1',
            type: 'normal',
            environment: 'p',
            services: [],
            executionStatus: 'RUNNING',
            startedAt: '2026-12-02T01:00:00Z',
          }),
        },
      ],
      from,
      from + 2 * DAY,
    );
    assert.deepEqual(days, [
      { day: '2026-12-01', changes: 0, failed: 0 },
      { day: '2026-12-02', changes: 1, failed: 0 },
      { day: '2026-12-03', changes: 0, failed: 0 },
    ]);
  });
});
