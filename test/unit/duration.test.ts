import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { durationHint, formatDuration, parseDuration } from '../../src/core/change/duration';

describe('parseDuration', () => {
  it('reads each unit', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('720h'), 2_592_000_000);
    assert.equal(parseDuration('2d'), 172_800_000);
  });

  it('adds up several parts, in any order', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1s500ms'), 1_500);
    assert.equal(parseDuration('30s1m'), 90_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 93_784_005);
  });

  it('tells ms from m', () => {
    assert.equal(parseDuration('10ms'), 10);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('10m5ms'), 600_005);
  });

  it('reads zero and fractions', () => {
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration('0ms'), 0);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('0.5s'), 500);
    assert.equal(parseDuration('1.0005s'), 1_001);
  });

  it('refuses what is not a duration', () => {
    for (const text of [
      '10',
      '-5m',
      '+5m',
      '10 m',
      ' 10m',
      '10m ',
      '5x',
      '5M',
      '1H',
      '',
      'm',
      '.5h',
      '1.h',
      '1e3s',
      '1h 30m',
      '1h-30m',
      'PT10M',
      '10min',
      '10sec',
    ]) {
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
    }
  });

  it('refuses durations too large to be exact', () => {
    assert.equal(parseDuration(`${'9'.repeat(400)}h`), undefined);
    assert.equal(parseDuration('9999999999999999d'), undefined);
    assert.equal(parseDuration('100000000d'), 8_640_000_000_000_000);
  });

  it('its hint names the accepted forms', () => {
    for (const example of ['30s', '10m', '720h', '1h30m']) {
      assert.ok(durationHint.includes(`'${example}'`));
      assert.notEqual(parseDuration(example), undefined);
    }
  });
});

describe('formatDuration', () => {
  it('writes the largest units first', () => {
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(2_592_000_000), '30d');
    assert.equal(formatDuration(90_000_000), '1d1h');
    assert.equal(formatDuration(3_600_001), '1h1ms');
  });

  it('keeps milliseconds', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(1_500), '1s500ms');
  });

  it('writes zero and less as 0s', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(-5_000), '0s');
  });

  it('rounds fractions of a millisecond', () => {
    assert.equal(formatDuration(1_000.4), '1s');
    assert.equal(formatDuration(0.6), '1ms');
  });

  it('parses back to the value it was given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
      { numRuns: 2_000 },
    );
  });

  it('formats what it parses to the same length of time', () => {
    const part = fc.tuple(fc.nat({ max: 999 }), fc.constantFrom('ms', 's', 'm', 'h', 'd'));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([n, unit]) => `${n}${unit}`).join('');
        const ms = parseDuration(text);
        assert.notEqual(ms, undefined, text);
        assert.equal(parseDuration(formatDuration(ms!)), ms);
      }),
      { numRuns: 1_000 },
    );
  });
});
