import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAuthority, serviceTeams, type OperatorAction } from '../../src/core/policy/authority';
import { testPolicy, testRequest } from '../helpers/fakes';

// alice requested it; api-gateway belongs to sre (bob, carol); carol and erin are incident
// commanders; dave (platform, security) has not approved yet.
const parties = (received: string[] = []) => ({
  policy: testPolicy(),
  request: testRequest('CHG-1'),
  requiredTeams: ['sre'],
  received: received.map((by) => ({ by, at: '2026-12-01T00:00:00Z' })),
});

function allowed(action: OperatorAction, received: string[] = []): string[] {
  return ['alice', 'bob', 'carol', 'dave', 'erin', 'mallory'].filter(
    (person) => checkAuthority(parties(received), action, person).ok,
  );
}

describe('who may do what to a change', () => {
  it('takes the service teams from the policy', () => {
    assert.deepEqual(serviceTeams(testPolicy(), testRequest('CHG-1')), ['sre']);
  });

  it('cancel: requester, approvers, incident commanders, the service teams', () => {
    assert.deepEqual(allowed('cancel'), ['alice', 'bob', 'carol', 'erin']);
    assert.deepEqual(allowed('cancel', ['dave']), ['alice', 'bob', 'carol', 'dave', 'erin']);
  });

  it('rollback: the service teams and incident commanders, not the requester', () => {
    assert.deepEqual(allowed('rollback'), ['bob', 'carol', 'erin']);
  });

  it('extend and reschedule: the requester or an approver', () => {
    assert.deepEqual(allowed('extend'), ['alice', 'bob', 'carol']);
    assert.deepEqual(allowed('reschedule', ['dave']), ['alice', 'bob', 'carol', 'dave']);
  });

  it('decide: someone from the required teams, never the requester', () => {
    assert.deepEqual(allowed('decide'), ['bob', 'carol']);
  });

  it('document: the requester or an incident commander', () => {
    assert.deepEqual(allowed('document'), ['alice', 'carol', 'erin']);
  });

  it('says who may, when it refuses', () => {
    const verdict = checkAuthority(parties(), 'rollback', 'dave');
    assert.equal(verdict.ok, false);
    assert.match(
      verdict.ok ? '' : verdict.reason,
      /^dave \(teams platform, security\) may not rollback this change: only the service teams or an incident commander may$/,
    );
    const unknown = checkAuthority(parties(), 'cancel', 'mallory');
    assert.match(unknown.ok ? '' : unknown.reason, /unknown person 'mallory'/);
  });
});
