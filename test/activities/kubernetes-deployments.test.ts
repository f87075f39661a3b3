import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { blueGreenNames, selectorPatch } from '../../activities/kubernetes/blue-green';
import { canarySplit } from '../../activities/kubernetes/canary';
import {
  Annotation,
  rolloutStatus,
  sameTemplate,
  undoPatch,
} from '../../activities/kubernetes/deployments';
import { FailureType } from '../../src/core/errors';

function deployment(status: V1Deployment['status'], generation = 2, replicas = 3): V1Deployment {
  return {
    metadata: { name: 'api-gateway', generation },
    spec: { replicas } as V1Deployment['spec'],
    status,
  };
}

void describe('rolloutStatus (kubectl rollout status)', () => {
  void it('waits for the controller to observe the spec', () => {
    assert.deepEqual(rolloutStatus(deployment({ observedGeneration: 1 })), {
      phase: 'progressing',
      message: 'waiting for deployment spec update to be observed',
    });
  });

  void it('reports each stage of a rolling update the way kubectl words it', () => {
    const base = { observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 };
    assert.equal(
      rolloutStatus(deployment(base)).message,
      '1 out of 3 new replicas have been updated',
    );
    assert.equal(
      rolloutStatus(deployment({ ...base, updatedReplicas: 3 })).message,
      '1 old replicas are pending termination',
    );
    assert.equal(
      rolloutStatus(deployment({ ...base, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }))
        .message,
      '2 of 3 updated replicas are available',
    );
    assert.deepEqual(
      rolloutStatus(deployment({ ...base, replicas: 3, updatedReplicas: 3, availableReplicas: 3 })),
      { phase: 'complete', message: 'deployment "api-gateway" successfully rolled out' },
    );
    assert.equal(rolloutStatus(deployment({ observedGeneration: 2 }, 2, 0)).phase, 'complete');
  });

  void it('fails on ProgressDeadlineExceeded once the spec is observed', () => {
    const conditions = [
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "api-gateway-7d4f" has timed out progressing.',
      },
    ];
    assert.deepEqual(rolloutStatus(deployment({ observedGeneration: 2, conditions })), {
      phase: 'failed',
      message:
        'deployment "api-gateway" exceeded its progress deadline: ReplicaSet "api-gateway-7d4f" has timed out progressing.',
    });
    assert.equal(
      rolloutStatus(deployment({ observedGeneration: 1, conditions })).phase,
      'progressing',
    );
  });
});

void describe('undoPatch (kubectl rollout undo)', () => {
  const template = {
    metadata: { labels: { app: 'api-gateway', 'pod-template-hash': '5d9f' } },
    spec: {
      containers: [{ name: 'api-gateway', image: 'registry.example.com/api-gateway:2.4.3' }],
    },
  };
  const replicaSet: V1ReplicaSet = {
    metadata: {
      annotations: {
        [Annotation.revision]: '1',
        [Annotation.changeCause]: 'CHG-1: first',
        'deployment.kubernetes.io/desired-replicas': '3',
      },
    },
    spec: { selector: {}, template },
  };
  const live: V1Deployment = {
    metadata: {
      annotations: {
        [Annotation.revision]: '2',
        [Annotation.changeCause]: 'CHG-2: second',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
    },
  };

  void it("copies the revision's template without its hash label, and its annotations", () => {
    const [templateOp, annotationsOp] = undoPatch(live, replicaSet, {
      [Annotation.rollbackOf]: 'CHG-2',
    });
    assert.deepEqual(templateOp, {
      op: 'replace',
      path: '/spec/template',
      value: { metadata: { labels: { app: 'api-gateway' } }, spec: template.spec },
    });
    assert.deepEqual(annotationsOp, {
      op: 'replace',
      path: '/metadata/annotations',
      value: {
        [Annotation.revision]: '2',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
        [Annotation.changeCause]: 'CHG-1: first',
        [Annotation.rollbackOf]: 'CHG-2',
      },
    });
    assert.equal(template.metadata.labels['pod-template-hash'], '5d9f', 'the input is left alone');
  });

  void it('compares templates ignoring the hash label, as kubectl does before skipping', () => {
    const same = { ...template, metadata: { labels: { app: 'api-gateway' } } };
    assert.ok(sameTemplate(template, same));
    const other = { ...same, spec: { containers: [{ name: 'api-gateway', image: 'x:1' }] } };
    assert.ok(!sameTemplate(template, other));
  });
});

void describe('blue/green and canary arithmetic', () => {
  void it('picks the colours from the Service selector', () => {
    assert.deepEqual(blueGreenNames('api-gateway', { app: 'api-gateway' }), {
      active: 'api-gateway',
      next: 'api-gateway-green',
      nextColour: 'green',
    });
    assert.deepEqual(blueGreenNames('api-gateway', { app: 'api-gateway', color: 'green' }), {
      active: 'api-gateway-green',
      next: 'api-gateway-blue',
      nextColour: 'blue',
    });
    assert.equal(blueGreenNames('api-gateway', { color: 'blue' }).next, 'api-gateway-green');
    assert.throws(
      () => blueGreenNames('api-gateway', { color: 'red' }),
      (error: unknown) =>
        error instanceof ApplicationFailure && error.type === FailureType.InvalidRequest,
    );
  });

  void it('switches selectors with a merge patch that removes keys', () => {
    assert.deepEqual(selectorPatch({ app: 'a' }, { app: 'a', color: 'green' }), {
      app: 'a',
      color: 'green',
    });
    assert.deepEqual(selectorPatch({ app: 'a', color: 'green' }, { app: 'a' }), {
      app: 'a',
      color: null,
    });
  });

  void it('splits replicas per weight, keeping one stable replica until 100%', () => {
    const split = (n: number, w: number) => {
      const s = canarySplit(n, w);
      return [s.canary, s.stable];
    };
    assert.deepEqual(split(3, 0), [0, 3]);
    assert.deepEqual(split(3, 10), [1, 2]);
    assert.deepEqual(split(3, 50), [2, 1]);
    assert.deepEqual(split(3, 90), [3, 1]);
    assert.deepEqual(split(3, 100), [3, 0]);
    assert.deepEqual(split(10, 25), [3, 7]);
    assert.deepEqual(split(1, 50), [1, 1]);
  });
});
