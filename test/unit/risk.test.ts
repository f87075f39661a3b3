import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requiredApprovals } from '../../src/core/policy/approvals';
import { assessRisk } from '../../src/core/policy/risk';
import { testPolicy, testRequest } from '../helpers/fakes';

/** The example policy's risk rules, with a stricter `high` so its requirements show. */
const policy = testPolicy({
  spec: {
    timeZone: 'Europe/Berlin',
    risk: {
      rules: [
        { name: 'production', when: { environments: ['production'] }, atLeast: 'medium' },
        { name: 'several services', when: { servicesAtLeast: 2 }, atLeast: 'high' },
        { name: 'friday afternoon', when: { fridayAfternoon: true }, atLeast: 'high' },
        { name: 'outside business hours', when: { outsideBusinessHours: true }, atLeast: 'medium' },
      ],
      requires: { high: { minApprovers: 3, teams: ['security'], minWatch: '45m' } },
    },
  },
});

// 2026-12-04 is a Friday; Berlin is UTC+1 in December.
const fridayAfternoon = Date.parse('2026-12-04T13:30:00Z'); // 14:30 in Berlin
const fridayMorning = Date.parse('2026-12-04T09:00:00Z'); // 10:00 in Berlin
const thursdayAfternoon = Date.parse('2026-12-03T13:30:00Z');

const oneService = testRequest('CHG-1', { risk: 'low' });
const twoServices = testRequest('CHG-2', { services: ['api-gateway', 'auth-service'] });

describe('risk', () => {
  it('raises a Friday-afternoon change to two services to high, naming both rules', () => {
    assert.deepEqual(assessRisk(policy, twoServices, fridayAfternoon), {
      declared: 'medium',
      level: 'high',
      raisedBy: ['several services → high', 'friday afternoon → high'],
    });
  });

  it('reads Friday afternoon in the policy’s time zone', () => {
    // 11:30 UTC is 12:30 in Berlin: afternoon there, morning in UTC.
    const noonInBerlin = Date.parse('2026-12-04T11:30:00Z');
    assert.equal(assessRisk(policy, oneService, noonInBerlin).level, 'high');
    const utc = testPolicy({ spec: { risk: policy.spec.risk } });
    assert.deepEqual(assessRisk(utc, oneService, noonInBerlin).raisedBy, ['production → medium']);
  });

  it('raises one service on a Friday morning or a Thursday afternoon only for production', () => {
    for (const at of [fridayMorning, thursdayAfternoon]) {
      assert.deepEqual(assessRisk(policy, oneService, at), {
        declared: 'low',
        level: 'medium',
        raisedBy: ['production → medium'],
      });
    }
  });

  it('raises outside business hours, and never lowers a declared level', () => {
    const saturday = Date.parse('2026-12-05T10:00:00Z');
    assert.deepEqual(assessRisk(policy, oneService, saturday).raisedBy, [
      'production → medium',
      'outside business hours → medium',
    ]);
    const critical = testRequest('CHG-3', { risk: 'critical', services: ['a', 'api-gateway'] });
    assert.deepEqual(assessRisk(policy, critical, fridayAfternoon), {
      declared: 'critical',
      level: 'critical',
      raisedBy: [],
    });
  });

  it('asks a high-risk change for the extra approvers and teams', () => {
    const medium = requiredApprovals(policy, twoServices, 'medium');
    assert.equal(medium.minApprovers, 2);
    assert.deepEqual(medium.teams, ['sre']);
    const high = requiredApprovals(policy, twoServices, 'high');
    assert.equal(high.minApprovers, 3);
    assert.deepEqual(high.teams, ['security', 'sre']);
    assert.deepEqual(high.reasons, [
      'production: 2 approvers',
      'api-gateway: sre',
      'high risk: 3 approvers',
      'high risk: security',
    ]);
  });
});
