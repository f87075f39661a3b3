import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadChangeRequestFile, parseChangeRequest, validateWith } from '../../src/load/change';
import {
  backupSpecOf,
  changeRequestSchema,
  changeWorkflowId,
  isPlanned,
  type ChangeRequest,
} from '../../src/core/change/request';
import { formatPath, ValidationError, type FieldIssue } from '../../src/core/change/validation';
import { DELETE, withChanges } from '../helpers/documents';

/** The contract's example from design.md: a normal rolling change with every section. */
function validRequest(): Record<string, unknown> {
  return {
    apiVersion: 'changectl/v1',
    kind: 'ChangeRequest',
    metadata: { id: 'CHG-1234', title: 'Upgrade api-gateway to v2.5.0', requestedBy: 'alice' },
    spec: {
      type: 'normal',
      environment: 'production',
      namespace: 'production',
      services: ['api-gateway'],
      description: 'JWT refresh optimisation, dependency updates',
      impact: 'api-gateway restarts pod by pod; no downtime expected',
      risk: 'medium',
      window: { notBefore: '2026-12-01T02:00:00Z' },
      backup: {
        velero: { includeNamespaces: ['production'], snapshotVolumes: true, ttl: '720h' },
      },
      rollout: {
        strategy: 'rolling',
        target: { kind: 'Deployment', name: 'api-gateway' },
        image: 'registry.example.com/api-gateway:2.5.0',
        timeout: '10m',
      },
      verification: {
        watch: '15m',
        interval: '30s',
        failureLimit: 3,
        inconclusiveLimit: 3,
        metrics: [
          {
            name: 'error-rate',
            query:
              'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))',
            failWhen: '> 0.01',
          },
          {
            name: 'p99-latency',
            query:
              'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))',
            failWhen: '> 0.2',
          },
        ],
      },
      rollback: { restoreBackup: false },
    },
  };
}

/** The valid request with the given paths set (or deleted with DELETE). */
function requestWith(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return withChanges(validRequest(), changes);
}

function parse(doc: unknown): ChangeRequest {
  return parseChangeRequest(JSON.stringify(doc));
}

function issuesOf(doc: unknown): FieldIssue[] {
  try {
    parse(doc);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the request to be refused');
}

/** Asserts the request is refused with exactly these issues: [path, what the message says]. */
function assertRefused(changes: Record<string, unknown>, expected: [string, RegExp][]): void {
  const issues = issuesOf(requestWith(changes));
  assert.deepEqual(
    issues.map((i) => i.path).sort(),
    expected.map(([path]) => path).sort(),
    JSON.stringify(issues),
  );
  for (const [path, message] of expected) {
    const issue = issues.find((i) => i.path === path)!;
    assert.match(issue.message, message, `${path}: ${issue.message}`);
  }
}

function accepted(changes: Record<string, unknown> = {}): ChangeRequest {
  return parse(requestWith(changes));
}

const canary = {
  'spec.rollout.strategy': 'canary',
  'spec.rollout.steps': [{ setWeight: 10 }, { pause: '2m' }, { setWeight: 50 }],
};

describe('change request: the valid contract', () => {
  it('accepts the contract example and keeps its values', () => {
    const request = accepted();
    assert.equal(request.metadata.id, 'CHG-1234');
    assert.equal(request.spec.type, 'normal');
    assert.deepEqual(request.spec.services, ['api-gateway']);
    assert.equal(request.spec.rollout.image, 'registry.example.com/api-gateway:2.5.0');
    assert.deepEqual(
      request.spec.verification.metrics.map((m) => m.failWhen),
      ['> 0.01', '> 0.2'],
    );
  });

  it('fills every default', () => {
    const request = accepted({
      'spec.rollout.timeout': DELETE,
      'spec.verification': { metrics: [{ name: 'errors', query: 'up', failWhen: '< 1' }] },
      'spec.backup': { velero: { includeNamespaces: ['production'] } },
      'spec.rollback': DELETE,
    });
    assert.equal(request.spec.rollout.timeout, '10m');
    assert.deepEqual(
      { ...request.spec.verification, metrics: undefined },
      {
        watch: '15m',
        interval: '30s',
        failureLimit: 0,
        inconclusiveLimit: 0,
        consecutiveErrorLimit: 4,
        metrics: undefined,
      },
    );
    assert.deepEqual(request.spec.backup, {
      velero: { includeNamespaces: ['production'], snapshotVolumes: true, ttl: '720h' },
    });
    assert.deepEqual(request.spec.rollback, { restoreBackup: false });
  });

  it('trims the free texts', () => {
    assert.equal(accepted({ 'metadata.title': '  Upgrade  ' }).metadata.title, 'Upgrade');
  });
});

describe('change request: header', () => {
  it('requires apiVersion changectl/v1', () => {
    assertRefused({ apiVersion: 'changectl/v2' }, [['apiVersion', /expected "changectl\/v1"/]]);
    assertRefused({ apiVersion: DELETE }, [
      ['apiVersion', /required field is missing \(expected "changectl\/v1"\)/],
    ]);
  });

  it('requires kind ChangeRequest', () => {
    assertRefused({ kind: 'Policy' }, [['kind', /expected "ChangeRequest"/]]);
    assertRefused({ kind: DELETE }, [['kind', /required field is missing/]]);
  });

  it('accepts ids like CHG-1234', () => {
    for (const id of ['CHG-1234', 'EMG-42', 'STD-0', 'C2X-7']) {
      assert.equal(accepted({ 'metadata.id': id }).metadata.id, id);
    }
  });

  it('refuses ids that do not match ^[A-Z][A-Z0-9]*-[0-9]+$', () => {
    for (const id of ['chg-1', 'CHG1234', 'CHG-', '-12', '1CHG-1', 'CHG-12a', 'CHG-1 ', 'CHG_1']) {
      assertRefused({ 'metadata.id': id }, [
        ['metadata.id', new RegExp(`expected an id like 'CHG-1234'.*got ${JSON.stringify(id)}`)],
      ]);
    }
    assertRefused({ 'metadata.id': 1234 }, [['metadata.id', /expected string, received number/]]);
  });

  it('refuses an id too long for the names built from it, rather than cutting it', () => {
    const longest = `CHG-${'1'.repeat(36)}`;
    assert.equal(accepted({ 'metadata.id': longest }).metadata.id, longest);
    assertRefused({ 'metadata.id': `${longest}2` }, [
      [
        'metadata.id',
        /^expected at most 40 characters \(names of the Velero objects .*\), got 41$/,
      ],
    ]);
  });

  it('requires a non-empty title', () => {
    assertRefused({ 'metadata.title': '   ' }, [['metadata.title', /expected a non-empty text/]]);
    assertRefused({ 'metadata.title': DELETE }, [
      ['metadata.title', /required field is missing \(expected string\)/],
    ]);
  });

  it('requires requestedBy to be a user handle', () => {
    assert.equal(
      accepted({ 'metadata.requestedBy': 'alice.martin@example.com' }).metadata.requestedBy,
      'alice.martin@example.com',
    );
    for (const handle of ['', ' alice', 'alice martin', '-alice']) {
      assertRefused({ 'metadata.requestedBy': handle }, [
        ['metadata.requestedBy', /expected a user handle such as 'alice'/],
      ]);
    }
  });
});

describe('change request: what changes', () => {
  it('requires type to be standard, normal or emergency', () => {
    assertRefused({ 'spec.type': 'urgent' }, [
      ['spec.type', /expected one of "standard"\|"normal"\|"emergency"/],
    ]);
  });

  it('requires environment and namespace to be DNS labels', () => {
    for (const field of ['environment', 'namespace']) {
      for (const value of ['Production', 'prod_1', '-prod', 'prod-', 'prod.eu']) {
        assertRefused({ [`spec.${field}`]: value }, [
          [`spec.${field}`, /expected a lowercase DNS label \(a-z, 0-9, '-'\)/],
        ]);
      }
      assertRefused({ [`spec.${field}`]: 'a'.repeat(64) }, [
        [`spec.${field}`, /expected at most 63 characters/],
      ]);
      assert.equal(
        accepted({ [`spec.${field}`]: 'a'.repeat(63) }).spec.environment.length > 0,
        true,
      );
    }
  });

  it('requires at least one service, each a DNS label, none twice', () => {
    assertRefused({ 'spec.services': [] }, [['spec.services', /expected at least one service/]]);
    assertRefused({ 'spec.services': ['api-gateway', 'Auth'] }, [
      ['spec.services[1]', /expected a lowercase DNS label/],
    ]);
    assertRefused({ 'spec.services': ['api-gateway', 'auth', 'api-gateway'] }, [
      ['spec.services[2]', /duplicate service 'api-gateway'/],
    ]);
  });

  it('requires a non-empty description and impact; reason is optional but not empty', () => {
    for (const field of ['description', 'impact']) {
      assertRefused({ [`spec.${field}`]: '' }, [[`spec.${field}`, /expected a non-empty text/]]);
      assertRefused({ [`spec.${field}`]: DELETE }, [
        [`spec.${field}`, /required field is missing/],
      ]);
    }
    assert.equal(
      accepted({ 'spec.reason': 'one round trip less' }).spec.reason,
      'one round trip less',
    );
    assertRefused({ 'spec.reason': ' ' }, [['spec.reason', /expected a non-empty text/]]);
  });

  it('requires risk to be low, medium, high or critical', () => {
    assertRefused({ 'spec.risk': 'extreme' }, [
      ['spec.risk', /expected one of "low"\|"medium"\|"high"\|"critical"/],
    ]);
  });
});

describe('change request: emergency', () => {
  const emergency = { 'spec.type': 'emergency', 'spec.incident': 'INC-42' };

  it('requires an emergency change to name its incident', () => {
    assertRefused({ 'spec.type': 'emergency' }, [
      ['spec.incident', /an emergency change must name its incident, such as 'INC-42'/],
    ]);
    assert.equal(accepted(emergency).spec.incident, 'INC-42');
  });

  it('checks the incident id pattern', () => {
    for (const incident of ['INC42', '42', 'INC-', 'INC-4x', '-42']) {
      assertRefused({ ...emergency, 'spec.incident': incident }, [
        ['spec.incident', /expected an incident id such as 'INC-42'/],
      ]);
    }
    assert.equal(accepted({ ...emergency, 'spec.incident': 'pd-1234' }).spec.incident, 'pd-1234');
  });

  it('lets a planned change refer to an incident', () => {
    assert.equal(accepted({ 'spec.incident': 'INC-7' }).spec.incident, 'INC-7');
  });

  it('allows breakGlass on emergency changes only', () => {
    assert.equal(accepted({ ...emergency, 'spec.breakGlass': true }).spec.breakGlass, true);
    for (const value of [true, false]) {
      assertRefused({ 'spec.breakGlass': value }, [
        ['spec.breakGlass', /break-glass applies to emergency changes only/],
      ]);
    }
  });

  it('isPlanned tells planned types from emergency', () => {
    assert.deepEqual((['standard', 'normal', 'emergency'] as const).map(isPlanned), [
      true,
      true,
      false,
    ]);
  });
});

describe('change request: window', () => {
  it('accepts RFC 3339 timestamps with a zone', () => {
    for (const notBefore of [
      '2026-12-01T02:00:00Z',
      '2026-12-01T02:00:00+01:00',
      '2026-12-01T02:00:00.123-05:30',
      '2026-12-01T02:00Z',
      '2028-02-29T00:00:00Z',
    ]) {
      assert.equal(
        accepted({ 'spec.window.notBefore': notBefore }).spec.window?.notBefore,
        notBefore,
      );
    }
  });

  it('refuses timestamps without a zone or that are not dates', () => {
    for (const notBefore of [
      '2026-12-01T02:00:00',
      '2026-12-01',
      '2026-12-01 02:00:00Z',
      'tomorrow',
      '2026-13-01T02:00:00Z',
      '2026-02-30T02:00:00Z',
      '2026-02-29T02:00:00Z',
      '2026-04-31T02:00:00Z',
      '2026-12-01T24:00:00Z',
      '2026-12-01T02:60:00Z',
      '2026-12-01T02:00:60Z',
      '2026-12-01T02:00:00+24:00',
    ]) {
      assertRefused({ 'spec.window.notBefore': notBefore }, [
        [
          'spec.window.notBefore',
          /expected an RFC 3339 timestamp with a zone, such as '2026-12-01T02:00:00Z'/,
        ],
      ]);
    }
  });

  it('allows no window at all or an empty one', () => {
    assert.equal(accepted({ 'spec.window': DELETE }).spec.window, undefined);
    assert.deepEqual(accepted({ 'spec.window': {} }).spec.window, {});
  });
});

describe('change request: backup', () => {
  it('requires at least one namespace, each a DNS label, none twice', () => {
    assertRefused({ 'spec.backup.velero.includeNamespaces': [] }, [
      ['spec.backup.velero.includeNamespaces', /expected at least one namespace/],
    ]);
    assertRefused({ 'spec.backup.velero.includeNamespaces': ['production', 'production'] }, [
      ['spec.backup.velero.includeNamespaces[1]', /duplicate namespace 'production'/],
    ]);
    assertRefused({ 'spec.backup.velero.includeNamespaces': ['Prod'] }, [
      ['spec.backup.velero.includeNamespaces[0]', /expected a lowercase DNS label/],
    ]);
  });

  it('requires the velero section when backup is given', () => {
    assertRefused({ 'spec.backup': {} }, [['spec.backup.velero', /required field is missing/]]);
  });

  it('checks snapshotVolumes and ttl', () => {
    assertRefused({ 'spec.backup.velero.snapshotVolumes': 'yes' }, [
      ['spec.backup.velero.snapshotVolumes', /expected boolean, received string/],
    ]);
    assertRefused({ 'spec.backup.velero.ttl': '30 days' }, [
      ['spec.backup.velero.ttl', /expected a duration such as '30s', '10m', '720h'/],
    ]);
    assertRefused({ 'spec.backup.velero.ttl': '0s' }, [
      ['spec.backup.velero.ttl', /expected a duration longer than 0s/],
    ]);
  });

  it('backupSpecOf falls back to the namespace with the defaults', () => {
    const withoutBackup = accepted({ 'spec.backup': DELETE, 'spec.namespace': 'payments' });
    assert.deepEqual(backupSpecOf(withoutBackup), {
      velero: { includeNamespaces: ['payments'], snapshotVolumes: true, ttl: '720h' },
    });
    const withBackup = accepted({ 'spec.backup.velero.ttl': '48h' });
    assert.equal(backupSpecOf(withBackup).velero.ttl, '48h');
  });
});

describe('change request: rollout', () => {
  it('requires strategy rolling, blueGreen or canary', () => {
    assertRefused({ 'spec.rollout.strategy': 'recreate' }, [
      ['spec.rollout.strategy', /expected one of "rolling"\|"blueGreen"\|"canary"/],
    ]);
  });

  it('requires a Deployment target with DNS-label names', () => {
    assertRefused({ 'spec.rollout.target.kind': 'StatefulSet' }, [
      ['spec.rollout.target.kind', /expected "Deployment"/],
    ]);
    assertRefused({ 'spec.rollout.target.container': 'App' }, [
      ['spec.rollout.target.container', /expected a lowercase DNS label/],
    ]);
    assert.equal(
      accepted({ 'spec.rollout.target.container': 'app' }).spec.rollout.target.container,
      'app',
    );
  });

  it('requires the target to be one of spec.services', () => {
    assertRefused({ 'spec.rollout.target.name': 'auth-service' }, [
      [
        'spec.rollout.target.name',
        /expected one of spec.services \(api-gateway\), got 'auth-service'/,
      ],
    ]);
  });

  it('requires exactly one of image and manifests', () => {
    const manifests = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api-config' } }];
    assertRefused({ 'spec.rollout.manifests': manifests }, [
      ['spec.rollout.image', /expected exactly one of image or manifests/],
    ]);
    assertRefused({ 'spec.rollout.image': DELETE }, [
      ['spec.rollout.image', /expected exactly one of image or manifests/],
    ]);
  });

  it('accepts image references with registry, port, tag and digest', () => {
    const digest = `@sha256:${'a'.repeat(64)}`;
    for (const image of [
      'nginx',
      'nginx:1.25',
      'registry.example.com/api-gateway:2.5.0',
      'localhost:5000/team/api-gateway:v2',
      `ghcr.io/org/api_gateway${digest}`,
      `registry.example.com:443/api-gateway:2.5.0${digest}`,
    ]) {
      assert.equal(accepted({ 'spec.rollout.image': image }).spec.rollout.image, image);
    }
  });

  it('refuses what is not an image reference', () => {
    for (const image of [
      '',
      'api gateway',
      'api-gateway:',
      'api-gateway::1',
      'API:1',
      '-x',
      'x@sha256:123',
    ]) {
      assertRefused({ 'spec.rollout.image': image }, [
        ['spec.rollout.image', /expected a container image reference such as/],
      ]);
    }
  });

  it('checks manifests for what server-side apply needs and keeps the rest', () => {
    const manifest = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'api-config.v2', namespace: 'production', labels: { app: 'api' } },
      data: { poolSize: '20' },
    };
    const request = accepted({
      'spec.rollout.image': DELETE,
      'spec.rollout.manifests': [manifest],
    });
    assert.deepEqual(request.spec.rollout.manifests, [manifest]);

    const base = { 'spec.rollout.image': DELETE };
    assertRefused({ ...base, 'spec.rollout.manifests': [] }, [
      ['spec.rollout.manifests', /expected at least one manifest/],
    ]);
    assertRefused(
      { ...base, 'spec.rollout.manifests': [manifest], 'spec.rollout.manifests[0].kind': DELETE },
      [['spec.rollout.manifests[0].kind', /required field is missing/]],
    );
    assertRefused(
      { ...base, 'spec.rollout.manifests': [{ ...manifest, metadata: { name: 'Api_Config' } }] },
      [['spec.rollout.manifests[0].metadata.name', /expected a Kubernetes object name/]],
    );
    assertRefused({ ...base, 'spec.rollout.manifests': [{ ...manifest, metadata: {} }] }, [
      ['spec.rollout.manifests[0].metadata.name', /required field is missing/],
    ]);
  });

  it('requires steps for canary, with at least one setWeight', () => {
    assert.deepEqual(accepted(canary).spec.rollout.steps, canary['spec.rollout.steps']);
    assertRefused({ 'spec.rollout.strategy': 'canary' }, [
      ['spec.rollout.steps', /a canary rollout needs steps, such as \[\{setWeight: 10\}/],
    ]);
    assertRefused({ ...canary, 'spec.rollout.steps': [] }, [
      ['spec.rollout.steps', /a canary rollout needs steps/],
    ]);
    assertRefused({ ...canary, 'spec.rollout.steps': [{ pause: '1m' }] }, [
      ['spec.rollout.steps', /a canary rollout needs at least one setWeight step/],
    ]);
  });

  it('checks every canary step', () => {
    const stepHint = /expected a step \{setWeight: <0-100>\} or \{pause: <duration>\}/;
    assertRefused({ ...canary, 'spec.rollout.steps[2]': { setWeight: 101 } }, [
      ['spec.rollout.steps[2].setWeight', /expected a percentage from 0 to 100/],
    ]);
    assertRefused({ ...canary, 'spec.rollout.steps[0]': { setWeight: -1 } }, [
      ['spec.rollout.steps[0].setWeight', /expected a percentage from 0 to 100/],
    ]);
    assertRefused({ ...canary, 'spec.rollout.steps[1]': { pause: 'soon' } }, [
      ['spec.rollout.steps[1].pause', /expected a duration such as '30s'/],
    ]);
    assert.deepEqual(
      accepted({ ...canary, 'spec.rollout.steps[1]': { pause: { duration: '2m' } } }).spec.rollout
        .steps?.[1],
      { pause: { duration: '2m' } },
      "Argo's form of a pause",
    );
    for (const step of [
      { setWeight: 12.5 },
      { setWeight: '10' },
      { setWeight: 10, pause: '1m' },
      {},
    ]) {
      assertRefused({ ...canary, 'spec.rollout.steps[0]': step }, [
        ['spec.rollout.steps[0]', stepHint],
      ]);
    }
  });

  it('allows steps for canary only', () => {
    for (const strategy of ['rolling', 'blueGreen']) {
      assertRefused(
        { 'spec.rollout.strategy': strategy, 'spec.rollout.steps': [{ setWeight: 10 }] },
        [
          [
            'spec.rollout.steps',
            new RegExp(`steps apply to canary rollouts only, not to '${strategy}'`),
          ],
        ],
      );
    }
  });

  it('allows service for blueGreen only', () => {
    const blueGreen = accepted({
      'spec.rollout.strategy': 'blueGreen',
      'spec.rollout.service': 'api-gateway',
    });
    assert.equal(blueGreen.spec.rollout.service, 'api-gateway');
    assert.equal(
      accepted({ 'spec.rollout.strategy': 'blueGreen' }).spec.rollout.service,
      undefined,
    );
    for (const strategy of ['rolling', 'canary']) {
      assertRefused(
        { ...canary, 'spec.rollout.strategy': strategy, 'spec.rollout.service': 'api-gateway' },
        strategy === 'rolling'
          ? [
              [
                'spec.rollout.service',
                /service applies to blueGreen rollouts only, not to 'rolling'/,
              ],
              ['spec.rollout.steps', /steps apply to canary rollouts only/],
            ]
          : [
              [
                'spec.rollout.service',
                /service applies to blueGreen rollouts only, not to 'canary'/,
              ],
            ],
      );
    }
  });

  it('takes cleanupAfter for blue/green rollouts only', () => {
    const blueGreen = { 'spec.rollout.strategy': 'blueGreen' };
    assert.equal(
      accepted({ ...blueGreen, 'spec.rollout.cleanupAfter': '30m' }).spec.rollout.cleanupAfter,
      '30m',
    );
    assert.equal(accepted(blueGreen).spec.rollout.cleanupAfter, undefined, 'the workflow: 10m');
    assertRefused({ ...blueGreen, 'spec.rollout.cleanupAfter': 'soon' }, [
      ['spec.rollout.cleanupAfter', /expected a duration/],
    ]);
    assertRefused({ 'spec.rollout.cleanupAfter': '10m' }, [
      [
        'spec.rollout.cleanupAfter',
        /cleanupAfter applies to blueGreen rollouts only, not to 'rolling'/,
      ],
    ]);
  });

  it('requires the Service a blue/green rollout switches to be one of spec.services', () => {
    assertRefused(
      { 'spec.rollout.strategy': 'blueGreen', 'spec.rollout.service': 'auth-service' },
      [
        [
          'spec.rollout.service',
          /expected one of spec.services \(api-gateway\), got 'auth-service'/,
        ],
      ],
    );
    assertRefused({ 'spec.rollout.strategy': 'blueGreen', 'spec.rollout.target.name': 'auth' }, [
      ['spec.rollout.target.name', /expected one of spec.services \(api-gateway\), got 'auth'/],
    ]);
    const colours = accepted({
      'spec.rollout.strategy': 'blueGreen',
      'spec.rollout.target.name': 'kubechat-api-gateway',
      'spec.rollout.service': 'api-gateway',
    });
    assert.equal(colours.spec.rollout.target.name, 'kubechat-api-gateway');
  });

  it('defaults timeout to 10m and refuses a zero or malformed one', () => {
    assert.equal(accepted({ 'spec.rollout.timeout': DELETE }).spec.rollout.timeout, '10m');
    assertRefused({ 'spec.rollout.timeout': '0s' }, [
      ['spec.rollout.timeout', /expected a duration longer than 0s, got '0s'/],
    ]);
    assertRefused({ 'spec.rollout.timeout': 10 }, [
      ['spec.rollout.timeout', /expected string, received number/],
    ]);
    assertRefused({ 'spec.rollout.timeout': '10' }, [
      [
        'spec.rollout.timeout',
        /expected a duration such as '30s', '10m', '720h' or '1h30m', got "10"/,
      ],
    ]);
  });
});

describe('change request: verification', () => {
  it('checks watch and interval durations', () => {
    assertRefused({ 'spec.verification.watch': 'a while' }, [
      ['spec.verification.watch', /expected a duration such as/],
    ]);
    assertRefused({ 'spec.verification.watch': '0s' }, [
      ['spec.verification.watch', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.verification.interval': '30' }, [
      ['spec.verification.interval', /expected a duration such as/],
    ]);
  });

  it('requires an interval of at least 1s', () => {
    assertRefused({ 'spec.verification.interval': '500ms' }, [
      ['spec.verification.interval', /expected at least 1s/],
    ]);
    assertRefused({ 'spec.verification.interval': '0s' }, [
      ['spec.verification.interval', /expected at least 1s/],
    ]);
    assert.equal(accepted({ 'spec.verification.interval': '1s' }).spec.verification.interval, '1s');
  });

  it('requires the interval to be no longer than the watch', () => {
    assertRefused({ 'spec.verification.interval': '16m' }, [
      ['spec.verification.interval', /expected an interval no longer than the watch \(15m\)/],
    ]);
    assert.equal(
      accepted({ 'spec.verification.interval': '15m' }).spec.verification.interval,
      '15m',
    );
  });

  it("requires whole-number limits of at least 0, with Argo Rollouts' defaults", () => {
    for (const limit of ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit']) {
      assertRefused({ [`spec.verification.${limit}`]: -1 }, [
        [`spec.verification.${limit}`, /expected a whole number ≥ 0/],
      ]);
      assert.equal(
        accepted({ [`spec.verification.${limit}`]: 0 }).spec.verification[limit as 'failureLimit'],
        0,
      );
      assertRefused({ [`spec.verification.${limit}`]: 1.5 }, [
        [`spec.verification.${limit}`, /expected int/],
      ]);
      assertRefused({ [`spec.verification.${limit}`]: '3' }, [
        [`spec.verification.${limit}`, /expected number, received string/],
      ]);
    }
    const request = accepted({ 'spec.verification.failureLimit': 1 });
    assert.equal(request.spec.verification.failureLimit, 1);
  });

  it('takes post-change checks of each kind, with their defaults', () => {
    const request = accepted({
      'spec.verification.checks': [
        { name: 'pods-ready', podsReady: {} },
        { name: 'restarts', restarts: {} },
        { name: 'health', http: { service: 'api-gateway', port: 8080, path: '/healthz' } },
        { name: 'status-page', http: { url: 'https://status.example.com/', expectStatus: 204 } },
        { name: 'error-logs', logs: { pattern: 'ERROR|panic' } },
      ],
    });
    assert.deepEqual(request.spec.verification.checks, [
      { name: 'pods-ready', podsReady: {} },
      { name: 'restarts', restarts: { failWhen: '> 0' } },
      {
        name: 'health',
        http: {
          service: 'api-gateway',
          port: 8080,
          path: '/healthz',
          expectStatus: 200,
          timeout: '5s',
        },
      },
      {
        name: 'status-page',
        http: { url: 'https://status.example.com/', path: '/', expectStatus: 204, timeout: '5s' },
      },
      { name: 'error-logs', logs: { pattern: 'ERROR|panic', failWhen: '> 0' } },
    ]);
    assert.equal(accepted().spec.verification.checks, undefined);
  });

  it('refuses checks of no kind or two, bad addresses and patterns, and clashing names', () => {
    assertRefused(
      {
        'spec.verification.checks': [
          { name: 'none' },
          { name: 'two', podsReady: {}, restarts: {} },
          { name: 'both', http: { url: 'http://x.example/', service: 'api-gateway', port: 80 } },
          { name: 'no-port', http: { service: 'api-gateway' } },
          { name: 'ftp', http: { url: 'ftp://x.example/' } },
          { name: 'bad-pattern', logs: { pattern: '(' } },
          { name: 'error-rate', podsReady: {} },
        ],
      },
      [
        ['spec.verification.checks[0]', /expected exactly one of podsReady, restarts, http, logs/],
        ['spec.verification.checks[1]', /got podsReady and restarts/],
        ['spec.verification.checks[2].http.url', /expected exactly one of url and service/],
        ['spec.verification.checks[3].http.port', /expected the Service port/],
        ['spec.verification.checks[4].http.url', /expected an http\(s\) URL/],
        ['spec.verification.checks[5].logs.pattern', /expected a regular expression/],
        ['spec.verification.checks[6].name', /duplicate metric or check name 'error-rate'/],
      ],
    );
  });

  it('requires at least one metric', () => {
    assertRefused({ 'spec.verification.metrics': [] }, [
      ['spec.verification.metrics', /expected at least one metric to watch/],
    ]);
    assertRefused({ 'spec.verification.metrics': DELETE }, [
      ['spec.verification.metrics', /required field is missing \(expected array\)/],
    ]);
    assertRefused({ 'spec.verification': DELETE }, [
      ['spec.verification', /required field is missing \(expected object\)/],
    ]);
  });

  it('checks each metric: name, query, no duplicate names', () => {
    assertRefused({ 'spec.verification.metrics[1].name': 'error-rate' }, [
      ['spec.verification.metrics[1].name', /duplicate metric name 'error-rate'/],
    ]);
    assertRefused({ 'spec.verification.metrics[0].name': 'Error Rate' }, [
      ['spec.verification.metrics[0].name', /expected a lowercase DNS label/],
    ]);
    assertRefused({ 'spec.verification.metrics[0].query': ' ' }, [
      ['spec.verification.metrics[0].query', /expected a non-empty text/],
    ]);
  });

  it('accepts failWhen comparisons, absolute and against the baseline', () => {
    for (const failWhen of [
      '> 0.01',
      '>=200',
      '< 0.95',
      '<= -1.5e-3',
      '== 0',
      '!= 1',
      '> baseline',
      '> baseline * 1.5',
      '>= baseline + 0.05',
    ]) {
      const request = accepted({ 'spec.verification.metrics[1].failWhen': failWhen });
      assert.equal(request.spec.verification.metrics[1]!.failWhen, failWhen);
    }
  });

  it('refuses failWhen texts that are not comparisons', () => {
    for (const failWhen of ['0.01', '> ', '=> 1', '> 1%', '> baseline - 0.05', '> 1e999', 'high']) {
      assertRefused({ 'spec.verification.metrics[1].failWhen': failWhen }, [
        [
          'spec.verification.metrics[1].failWhen',
          /expected a comparison such as '> 0.01', '<= 200' or '> baseline \* 1.5'/,
        ],
      ]);
    }
    assertRefused({ 'spec.verification.metrics[1].failWhen': 0.01 }, [
      ['spec.verification.metrics[1].failWhen', /expected string, received number/],
    ]);
  });
});

describe('change request: rollback', () => {
  it('defaults to not restoring the backup and checks the flag', () => {
    assert.deepEqual(accepted({ 'spec.rollback': DELETE }).spec.rollback, { restoreBackup: false });
    assert.deepEqual(accepted({ 'spec.rollback': {} }).spec.rollback, { restoreBackup: false });
    assert.equal(
      accepted({ 'spec.rollback.restoreBackup': true }).spec.rollback.restoreBackup,
      true,
    );
    assertRefused({ 'spec.rollback.restoreBackup': 'no' }, [
      ['spec.rollback.restoreBackup', /expected boolean, received string/],
    ]);
  });
});

describe('change request: unknown fields', () => {
  const levels = [
    'owner',
    'metadata.labels',
    'spec.approvers',
    'spec.window.notAfter',
    'spec.backup.storageLocation',
    'spec.backup.velero.excludeNamespaces',
    'spec.rollout.replicas',
    'spec.rollout.target.namespace',
    'spec.verification.warmup',
    'spec.verification.metrics[0].warnWhen',
    'spec.rollback.restoreImage',
  ];
  for (const path of levels) {
    it(`refuses ${path}`, () => {
      assertRefused({ [path]: 'x' }, [[path, /^unknown field$/]]);
    });
  }

  it('refuses an unknown field inside a canary step as a step that is neither form', () => {
    assertRefused({ ...canary, 'spec.rollout.steps[0].weight': 10 }, [
      ['spec.rollout.steps[0]', /expected a step \{setWeight/],
    ]);
  });

  it('refuses __proto__ as a field name, also where other fields pass through', () => {
    const manifest =
      '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "__proto__": {"data": {}}}';
    const text = JSON.stringify(requestWith({ 'spec.rollout.image': DELETE })).replace(
      '"rollout":{',
      `"rollout":{"manifests":[${manifest}],`,
    );
    assert.throws(
      () => parseChangeRequest(text),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === 'spec.rollout.manifests[0].__proto__' &&
        err.issues[0]!.message === "'__proto__' is not a field name",
    );
    const atTop = JSON.stringify(validRequest()).replace('{', '{"__proto__": {"x": 1},');
    assert.throws(
      () => parseChangeRequest(atTop),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === '__proto__',
    );
  });

  it('quotes keys that would make the path ambiguous', () => {
    assertRefused(
      { 'metadata.title': 'x', spec: { ...(validRequest().spec as object), 'a.b': 1 } },
      [['spec["a.b"]', /unknown field/]],
    );
  });
});

describe('change request: all problems at once', () => {
  it('reports five problems as five issues', () => {
    const issues = issuesOf(
      requestWith({
        apiVersion: 'v1',
        'metadata.id': 'change-1',
        'spec.risk': 'none',
        'spec.rollout.steps': [{ setWeight: 10 }],
        'spec.verification.metrics[1].failWhen': 'bad',
      }),
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'apiVersion',
      'metadata.id',
      'spec.risk',
      'spec.rollout.steps',
      'spec.verification.metrics[1].failWhen',
    ]);
  });

  it('lists every issue in the error message with the document name', () => {
    try {
      parseChangeRequest(JSON.stringify(requestWith({ kind: 'x', 'spec.risk': 'x' })), 'cr.yaml');
      assert.fail('expected a ValidationError');
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.name, 'ValidationError');
      assert.equal(err.document, 'cr.yaml');
      assert.match(err.message, /^cr\.yaml is invalid \(2 problems\):/);
      assert.match(err.message, /\n {2}- kind: expected "ChangeRequest"/);
      assert.match(err.message, /\n {2}- spec\.risk: expected one of/);
    }
  });
});

describe('change request: documents', () => {
  const yamlText = stringify(validRequest());

  it('reads YAML and JSON alike', () => {
    assert.deepEqual(
      parseChangeRequest(yamlText),
      parseChangeRequest(JSON.stringify(validRequest())),
    );
  });

  it('reports YAML syntax errors with line and column', () => {
    const broken = yamlText.replace('requestedBy: alice', 'requestedBy: [alice');
    try {
      parseChangeRequest(broken);
      assert.fail('expected a ValidationError');
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      assert.ok(err.issues.length >= 1);
      for (const issue of err.issues) assert.match(issue.path, /^line \d+, column \d+$/);
      assert.doesNotMatch(err.issues[0]!.message, / at line \d+/);
    }
  });

  it('reports a tab used as indentation at its line', () => {
    const tabbed = 'apiVersion: changectl/v1\nmetadata:\n\tid: CHG-1\n';
    assert.throws(
      () => parseChangeRequest(tabbed),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues[0]?.path === 'line 3, column 1' &&
        /Tabs are not allowed/.test(err.issues[0].message),
    );
  });

  it('refuses duplicate keys', () => {
    const duplicated = yamlText.replace(
      '  requestedBy: alice\n',
      '  requestedBy: alice\n  id: CHG-9\n',
    );
    const line = duplicated.split('\n').indexOf('  id: CHG-9') + 1;
    assert.throws(
      () => parseChangeRequest(duplicated),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === `line ${line}, column 3` &&
        err.issues[0]!.message === 'duplicate key',
    );
    assert.throws(
      () => parseChangeRequest('{"apiVersion": "changectl/v1", "apiVersion": "changectl/v1"}'),
      (err: unknown) =>
        err instanceof ValidationError && err.issues[0]?.message === 'duplicate key',
    );
  });

  it('refuses several documents in one file', () => {
    assert.throws(
      () => parseChangeRequest(`${yamlText}---\n${yamlText}`),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues[0]?.message === 'expected one document, found several',
    );
  });

  it('refuses a document that is not a mapping', () => {
    for (const [text, received] of [
      ['- a\n- b\n', 'array'],
      ['just text\n', 'string'],
      ['42\n', 'number'],
      ['', 'null'],
      ['# only a comment\n', 'null'],
    ] as const) {
      assert.throws(
        () => parseChangeRequest(text),
        (err: unknown) =>
          err instanceof ValidationError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === '(document)' &&
          err.issues[0]!.message === `expected object, received ${received}`,
        text,
      );
    }
  });

  it('reports an alias used before its anchor as a problem of the document', () => {
    const text = yamlText
      .replace('title: Upgrade api-gateway to v2.5.0', 'title: *who')
      .replace('requestedBy: alice', 'requestedBy: &who alice');
    assert.throws(
      () => parseChangeRequest(text),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues[0]?.path === '(document)' &&
        /Unresolved alias/.test(err.issues[0].message),
    );
  });

  it('resolves aliases used after their anchor', () => {
    const text = yamlText
      .replace('environment: production', 'environment: &env production')
      .replace('namespace: production', 'namespace: *env');
    assert.notEqual(text, yamlText);
    assert.equal(parseChangeRequest(text).spec.namespace, 'production');
  });

  it('parsing the parsed output again gives the same value', () => {
    const variants = [
      accepted(),
      accepted({ 'spec.rollout.timeout': DELETE, 'spec.rollback': DELETE, 'spec.backup': DELETE }),
      accepted(canary),
      accepted({ 'spec.type': 'emergency', 'spec.incident': 'INC-1', 'spec.breakGlass': true }),
      accepted({ 'metadata.title': '  padded  ' }),
    ];
    for (const request of variants) {
      assert.deepEqual(validateWith(changeRequestSchema, request, 'again'), request);
      assert.deepEqual(parseChangeRequest(stringify(request)), request);
      assert.deepEqual(
        validateWith(changeRequestSchema, structuredClone(request), 'again'),
        request,
      );
    }
  });

  it('loads files and reports one that is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'changectl-cr-'));
    try {
      const path = join(dir, 'change.yaml');
      await writeFile(path, yamlText);
      assert.equal((await loadChangeRequestFile(path)).metadata.id, 'CHG-1234');
      await assert.rejects(loadChangeRequestFile(join(dir, 'absent.yaml')), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(err.issues, [
          { path: join(dir, 'absent.yaml'), message: 'file not found' },
        ]);
        assert.equal(err.document, `change request ${join(dir, 'absent.yaml')}`);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('change request: helpers', () => {
  it('changeWorkflowId is change-<id>', () => {
    assert.equal(changeWorkflowId('CHG-1234'), 'change-CHG-1234');
  });

  it('formatPath writes dotted paths with indexes and quotes odd keys', () => {
    assert.equal(
      formatPath(['spec', 'verification', 'metrics', 1, 'failWhen']),
      'spec.verification.metrics[1].failWhen',
    );
    assert.equal(formatPath([0, 'a']), '[0].a');
    assert.equal(formatPath([]), '(document)');
    assert.equal(formatPath(['spec', 'people', 'a.b']), 'spec.people["a.b"]');
    assert.equal(formatPath(['spec', '']), 'spec[""]');
    assert.equal(formatPath(['approvals', 'environments', '*']), 'approvals.environments.*');
  });
});
