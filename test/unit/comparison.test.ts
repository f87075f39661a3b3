import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compare,
  comparisonHint,
  parseComparison,
  thresholdOf,
  type Comparison,
  type ComparisonOperator,
} from '../../src/core/change/comparison';

function parsed(text: string): Comparison {
  const comparison = parseComparison(text);
  assert.ok(comparison, `expected ${JSON.stringify(text)} to parse`);
  return comparison;
}

describe('parseComparison', () => {
  it('reads absolute comparisons with every operator', () => {
    assert.deepEqual(parsed('> 0.01'), {
      kind: 'absolute',
      op: '>',
      threshold: 0.01,
      source: '> 0.01',
    });
    const ops: ComparisonOperator[] = ['>', '>=', '<', '<=', '==', '!='];
    for (const op of ops) {
      const comparison = parsed(`${op} 200`);
      assert.equal(comparison.op, op);
      assert.equal(comparison.kind === 'absolute' && comparison.threshold, 200);
    }
  });

  it('reads the number forms Prometheus values take', () => {
    const thresholds: [string, number][] = [
      ['>=200', 200],
      ['  <   0.95  ', 0.95],
      ['< -1', -1],
      ['> .5', 0.5],
      ['> 5.', 5],
      ['> 1e3', 1000],
      ['> -1.5e-3', -0.0015],
      ['== 0', 0],
    ];
    for (const [text, threshold] of thresholds) {
      const comparison = parsed(text);
      assert.equal(comparison.kind, 'absolute');
      assert.equal(comparison.kind === 'absolute' && comparison.threshold, threshold, text);
      assert.equal(comparison.source, text);
    }
  });

  it('reads comparisons against the baseline', () => {
    assert.deepEqual(parsed('> baseline * 1.5'), {
      kind: 'baseline',
      op: '>',
      combine: '*',
      operand: 1.5,
      source: '> baseline * 1.5',
    });
    assert.deepEqual(parsed('>= baseline + 0.05'), {
      kind: 'baseline',
      op: '>=',
      combine: '+',
      operand: 0.05,
      source: '>= baseline + 0.05',
    });
    assert.deepEqual(parsed('<baseline*0.9'), {
      kind: 'baseline',
      op: '<',
      combine: '*',
      operand: 0.9,
      source: '<baseline*0.9',
    });
    assert.deepEqual(parsed('< baseline + -0.1'), {
      kind: 'baseline',
      op: '<',
      combine: '+',
      operand: -0.1,
      source: '< baseline + -0.1',
    });
  });

  it('reads a bare baseline as the baseline itself', () => {
    assert.deepEqual(parsed('> baseline'), {
      kind: 'baseline',
      op: '>',
      combine: '*',
      operand: 1,
      source: '> baseline',
    });
  });

  it('refuses what is not a comparison', () => {
    for (const text of [
      '',
      '0.01',
      '>',
      '> ',
      '=> 1',
      '>> 1',
      '= 1',
      '> 1 2',
      '> 1%',
      '> 0x10',
      '> NaN',
      '> Infinity',
      '> 1e999',
      '> baseline - 0.05',
      '> baseline *',
      '> baseline * 1e999',
      '> baseline / 2',
      '> Baseline',
      '> base',
      '1 > 0',
      'greater than 1',
    ]) {
      assert.equal(parseComparison(text), undefined, JSON.stringify(text));
    }
  });

  it('its hint shows forms that parse', () => {
    for (const example of ['> 0.01', '<= 200', '> baseline * 1.5']) {
      assert.ok(comparisonHint.includes(`'${example}'`));
      assert.notEqual(parseComparison(example), undefined);
    }
  });
});

describe('thresholdOf', () => {
  it('is the number itself for an absolute comparison, with or without a baseline', () => {
    assert.equal(thresholdOf(parsed('> 0.01'), undefined), 0.01);
    assert.equal(thresholdOf(parsed('> 0.01'), 5), 0.01);
  });

  it('scales or offsets the baseline', () => {
    assert.equal(thresholdOf(parsed('> baseline * 1.5'), 0.02), 0.03);
    assert.equal(thresholdOf(parsed('> baseline + 0.05'), 0.1), 0.1 + 0.05);
    assert.equal(thresholdOf(parsed('> baseline'), 7), 7);
    assert.equal(thresholdOf(parsed('> baseline * 2'), 0), 0);
  });

  it('is undefined when the baseline is missing or not a number', () => {
    for (const baseline of [undefined, NaN, Infinity, -Infinity]) {
      assert.equal(thresholdOf(parsed('> baseline * 1.5'), baseline), undefined, String(baseline));
    }
  });
});

describe('compare', () => {
  it('applies each operator, boundaries included', () => {
    const cases: [number, ComparisonOperator, number, boolean][] = [
      [2, '>', 1, true],
      [1, '>', 1, false],
      [0, '>', 1, false],
      [1, '>=', 1, true],
      [0.999, '>=', 1, false],
      [0, '<', 1, true],
      [1, '<', 1, false],
      [1, '<=', 1, true],
      [1.001, '<=', 1, false],
      [1, '==', 1, true],
      [1.0000001, '==', 1, false],
      [1, '!=', 1, false],
      [2, '!=', 1, true],
    ];
    for (const [value, op, threshold, fails] of cases) {
      assert.equal(compare(value, op, threshold), fails, `${value} ${op} ${threshold}`);
    }
  });

  it('evaluates a parsed failWhen against a measurement', () => {
    const errorRate = parsed('> baseline * 1.5');
    const threshold = thresholdOf(errorRate, 0.01)!;
    assert.equal(compare(0.02, errorRate.op, threshold), true);
    assert.equal(compare(0.012, errorRate.op, threshold), false);
  });
});
