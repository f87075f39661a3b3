import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { legacyLockWorkflowId, lockWorkflowId } from '../../src/core/lifecycle/lock-id';

describe('lock workflow ids', () => {
  it('gives (prod-eu, api) and (prod, eu-api) different locks', () => {
    assert.equal(legacyLockWorkflowId('prod-eu', 'api'), legacyLockWorkflowId('prod', 'eu-api'));
    assert.notEqual(lockWorkflowId('prod-eu', 'api'), lockWorkflowId('prod', 'eu-api'));
  });

  it('is one-to-one over every pair of short DNS labels', () => {
    const labels = ['a', 'b', 'a-b', 'b-a', 'a-a', 'a--b', 'ab', 'a-b-a', 'b-a-b', 'x1', 'x-1'];
    const seen = new Map<string, string>();
    for (const env of labels) {
      for (const service of labels) {
        const id = lockWorkflowId(env, service);
        const pair = `${env} / ${service}`;
        assert.equal(seen.get(id) ?? pair, pair, `${id} is the lock of two pairs`);
        seen.set(id, pair);
      }
    }
    assert.equal(seen.size, labels.length ** 2);
  });

  it('keeps the id of an environment without a dash, so held locks survive an upgrade', () => {
    assert.equal(lockWorkflowId('production', 'api-gateway'), 'lock-production-api-gateway');
  });
});
