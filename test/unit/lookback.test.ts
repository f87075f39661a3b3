import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queryLookbackMs } from '../../src/core/verification/lookback';

describe('queryLookbackMs', () => {
  it('is the longest range selector of the query', () => {
    assert.equal(
      queryLookbackMs(
        'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[30s]))',
      ),
      60_000,
    );
    assert.equal(queryLookbackMs('max_over_time(up[1h30m])'), 5_400_000);
  });

  it('counts a subquery by its range, not its resolution', () => {
    assert.equal(queryLookbackMs('max_over_time(rate(x[1m])[10m:30s])'), 600_000);
  });

  it('is 0 for an instant query, and ignores brackets inside label matchers', () => {
    assert.equal(queryLookbackMs('up{job="sandbox"}'), 0);
    assert.equal(queryLookbackMs('http_requests_total{code=~"5[0-9]{2}"}'), 0);
  });
});
