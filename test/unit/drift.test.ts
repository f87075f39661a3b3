import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  driftScope,
  DriftScopeError,
  driftTransitions,
  inDriftScope,
  objectDrift,
  specHash,
  type ObjectDrift,
} from '../../src/core/drift/index';

const policy = {
  spec: {
    environments: {
      production: { namespaces: ['production', 'payments'] },
      staging: { namespaces: ['staging'] },
    },
  },
} as unknown as Parameters<typeof driftScope>[0];

function drift(name: string): ObjectDrift {
  return {
    kind: 'Deployment',
    namespace: 'production',
    name,
    status: 'drifted',
    liveHash: 'x',
    changedBy: [],
    events: [],
  };
}

describe('drift', () => {
  it('hashes the spec alone, the same for dates and their text and without absent values', () => {
    const a = {
      kind: 'Deployment',
      metadata: { name: 'a', annotations: { x: '1' } },
      spec: { replicas: 3, template: { metadata: { creationTimestamp: null } } },
      status: { readyReplicas: 1 },
    };
    const b = {
      apiVersion: 'apps/v1',
      metadata: { name: 'b' },
      spec: { template: { metadata: {} }, replicas: 3 },
    };
    assert.equal(specHash(a), specHash(b));
    assert.notEqual(specHash(a), specHash({ spec: { replicas: 4 } }));
    assert.equal(
      specHash({ data: { at: new Date(0) } }),
      specHash({ data: { at: '1970-01-01T00:00:00.000Z' } }),
    );
    assert.match(specHash(a), /^sha256:[0-9a-f]{64}$/);
  });

  it('takes the scope from the policy and refuses one it does not have', () => {
    assert.deepEqual(driftScope(policy, { environment: 'production' }).namespaces, [
      { namespace: 'production', environment: 'production' },
      { namespace: 'payments', environment: 'production' },
    ]);
    assert.deepEqual(
      driftScope(policy, {}).namespaces.map((n) => n.namespace),
      ['production', 'payments', 'staging'],
    );
    assert.deepEqual(driftScope(policy, { namespace: 'staging' }).namespaces, [
      { namespace: 'staging', environment: 'staging' },
    ]);
    assert.throws(() => driftScope(policy, { environment: 'qa' }), DriftScopeError);
    assert.throws(
      () => driftScope(policy, { environment: 'staging', namespace: 'payments' }),
      /namespace payments belongs to no environment staging/,
    );
  });

  it("leaves out what the cluster makes and what a controller owns, and other services' objects", () => {
    assert.equal(
      inDriftScope({ metadata: { name: 'kube-root-ca.crt' } }, 'ConfigMap', undefined),
      false,
    );
    assert.equal(
      inDriftScope({ metadata: { name: 'x', ownerReferences: [{}] } }, 'Deployment', undefined),
      false,
    );
    assert.equal(
      inDriftScope({ metadata: { name: 'api-gateway-config' } }, 'ConfigMap', 'api-gateway'),
      true,
    );
    assert.equal(
      inDriftScope({ metadata: { name: 'auth-service' } }, 'Service', 'api-gateway'),
      false,
    );
  });

  it('names the managers that wrote the spec since changectl, newest first', () => {
    const spec = { replicas: 2 };
    const object = {
      metadata: {
        name: 'api-gateway',
        namespace: 'production',
        annotations: {
          'changectl.dev/change-id': 'CHG-1',
          'changectl.dev/spec-hash': 'sha256:old',
        },
        managedFields: [
          {
            manager: 'seed',
            operation: 'Update',
            time: '2026-12-01T00:00:00Z',
            fieldsV1: { 'f:spec': {} },
          },
          {
            manager: 'changectl',
            operation: 'Update',
            time: '2026-12-01T01:00:00Z',
            fieldsV1: { 'f:metadata': {} },
          },
          {
            manager: 'kubectl-scale',
            operation: 'Update',
            time: '2026-12-01T02:00:00Z',
            fieldsV1: { 'f:spec': {} },
          },
          {
            manager: 'kubectl-edit',
            operation: 'Update',
            time: '2026-12-01T03:00:00Z',
            fieldsV1: { 'f:spec': {} },
          },
          {
            manager: 'kube-controller-manager',
            operation: 'Update',
            subresource: 'status',
            time: '2026-12-01T04:00:00Z',
            fieldsV1: { 'f:status': {} },
          },
        ],
      },
      spec,
    };
    const found = objectDrift(object, 'Deployment', [
      { at: '2026-12-01T00:30:00.000Z', type: 'Normal', reason: 'Old', message: '' },
      {
        at: '2026-12-01T03:00:01.000Z',
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: 'scaled',
      },
    ]);
    assert.equal(found?.status, 'drifted');
    assert.equal(found.changeId, 'CHG-1');
    assert.deepEqual(
      found.changedBy.map((w) => w.manager),
      ['kubectl-edit', 'kubectl-scale'],
    );
    assert.deepEqual(
      found.events.map((e) => e.reason),
      ['ScalingReplicaSet'],
    );
    const stamped = {
      ...object,
      metadata: {
        ...object.metadata,
        annotations: { 'changectl.dev/spec-hash': specHash(object) },
      },
    };
    assert.equal(objectDrift(stamped, 'Deployment', []), undefined);
    assert.equal(
      objectDrift({ metadata: { name: 'x' }, spec }, 'Deployment', [])?.status,
      'untracked',
    );
  });

  it('tells drift that appeared from drift that cleared between two scans', () => {
    const { appeared, cleared } = driftTransitions(
      { drifted: [drift('a'), drift('b')] },
      { drifted: [drift('b'), drift('c')] },
    );
    assert.deepEqual(
      appeared.map((o) => o.name),
      ['c'],
    );
    assert.deepEqual(
      cleared.map((o) => o.name),
      ['a'],
    );
    assert.deepEqual(
      driftTransitions(undefined, { drifted: [drift('a')] }).appeared.map((o) => o.name),
      ['a'],
    );
  });
});
